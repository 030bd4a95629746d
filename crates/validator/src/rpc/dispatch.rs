//! Methods by name: the light ones answered at once, the heavy ones on a bounded pool of
//! blocking threads.

use super::admit::{request_airdrop, send_transaction};
use super::common::{internal, timed_out, to_value, RpcResult};
use super::reads::*;
use super::wait::wait_for_slot;
use crate::params::{check_len, Params};
use crate::shared::Shared;
use gradual_rpc::limits::*;
use gradual_rpc::{codes, methods as m, RpcError};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::time::Instant;

pub(super) async fn dispatch(
    shared: &Arc<Shared>,
    method: &str,
    params: Value,
    deadline: Instant,
    share: Option<Arc<tokio::sync::Semaphore>>,
) -> RpcResult {
    if let Err(n) = check_len(method, METHOD_CHARS_MAX) {
        return Err(RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!(
                "method name is {n} characters long; no method is longer than {METHOD_CHARS_MAX}"
            ),
        ));
    }
    let Some(name) = m::ALL.iter().copied().find(|n| *n == method) else {
        let hint = suggest(method)
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        return Err(RpcError::new(
            codes::METHOD_NOT_FOUND,
            format!("method '{method}' not found{hint}"),
        ));
    };
    crate::metrics::rpc_call(name);
    match name {
        m::GET_HEALTH => {
            Params::new(name, &[], params)?;
            if shared.stopping.load(Ordering::Relaxed) {
                return Err(RpcError::new(
                    codes::SHUTTING_DOWN,
                    "validator is shutting down",
                ));
            }
            Ok(json!("ok"))
        }
        m::GET_VERSION => {
            Params::new(name, &[], params)?;
            Ok(json!({"gradual": env!("CARGO_PKG_VERSION"), "rpc": 1}))
        }
        m::GET_GENESIS => {
            Params::new(name, &[], params)?;
            get_genesis(shared)
        }
        m::GET_SLOT => {
            Params::new(name, &[], params)?;
            Ok(json!(shared.head.borrow().slot))
        }
        m::GET_HEAD => {
            Params::new(name, &[], params)?;
            to_value(shared.head.borrow().clone())
        }
        m::WAIT_FOR_SLOT => {
            wait_for_slot(
                shared,
                Params::new(name, &["slot", "timeout_ms"], params)?,
                deadline,
            )
            .await
        }
        _ => heavy(shared, name, params, deadline, share).await,
    }
}

/// Run a CPU-heavy or lock-taking method on a blocking thread, at most `HEAVY_CALLS_MAX`
/// at once; a call that cannot start before `deadline` times out.
async fn heavy(
    shared: &Arc<Shared>,
    name: &'static str,
    params: Value,
    deadline: Instant,
    share: Option<Arc<tokio::sync::Semaphore>>,
) -> RpcResult {
    let acquire = async move {
        let mine = match share {
            Some(s) => Some(s.acquire_owned().await?),
            None => None,
        };
        let pool = shared.heavy.clone().acquire_owned().await?;
        Ok::<_, tokio::sync::AcquireError>((mine, pool))
    };
    let permit = match tokio::time::timeout_at(deadline, acquire).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Err(internal("worker pool closed")),
        Err(_) => return Err(timed_out()),
    };
    let sh = shared.clone();
    tokio::task::spawn_blocking(move || {
        let r = blocking(&sh, name, params);
        drop(permit);
        r
    })
    .await
    .unwrap_or_else(|e| Err(internal(format!("the call failed: {e}"))))
}

fn blocking(shared: &Shared, name: &'static str, params: Value) -> RpcResult {
    match name {
        m::GET_BLOCK => get_block(shared, Params::new(name, &["slot", "config"], params)?),
        m::GET_BLOCKS => get_blocks(
            shared,
            Params::new(name, &["from", "limit", "config"], params)?,
        ),
        m::GET_BALANCE => {
            let p = Params::new(name, &["pubkey"], params)?;
            let pk = p.pubkey(0)?;
            Ok(json!(shared.read_ledger()?.balance(&pk)))
        }
        m::GET_ACCOUNT => get_account(shared, Params::new(name, &["pubkey", "config"], params)?),
        m::SEND_TRANSACTION => send_transaction(
            shared,
            Params::new(name, &["transaction", "config"], params)?,
        ),
        m::GET_SIGNATURE_STATUS => {
            let p = Params::new(name, &["signature"], params)?;
            let sig = p.signature(0)?;
            to_value(signature_status(shared, &sig)?)
        }
        m::GET_SIGNATURE_STATUSES => {
            get_signature_statuses(shared, Params::new(name, &["signatures"], params)?)
        }
        m::GET_TASK_ACCOUNT_INFO => {
            get_task_account_info(shared, Params::new(name, &["task", "config"], params)?)
        }
        m::GET_TASK_SUBMISSION_INFO => get_task_submission_info(
            shared,
            Params::new(name, &["task", "round", "config"], params)?,
        ),
        m::GET_TASK_DISTRIBUTION_INFO => get_task_distribution_info(
            shared,
            Params::new(name, &["task", "round", "config"], params)?,
        ),
        m::GET_AUDIT_COMMITTEE => get_audit_committee(
            shared,
            Params::new(name, &["task", "round", "candidate", "attempt"], params)?,
        ),
        m::GET_DISTRIBUTION_CANDIDATES => {
            get_distribution_candidates(shared, Params::new(name, &["task", "round"], params)?)
        }
        m::GET_PROGRAM_TASKS => get_program_tasks(shared, Params::new(name, &["config"], params)?),
        m::REQUEST_AIRDROP => {
            request_airdrop(shared, Params::new(name, &["pubkey", "amount"], params)?)
        }
        other => Err(internal(format!("method {other} is listed but not served"))),
    }
}

/// The closest method name, if one is close enough to be a typo.
fn suggest(method: &str) -> Option<&'static str> {
    gradual_rpc::suggest::closest(method, m::ALL.iter().copied(), |_| 3)
}
