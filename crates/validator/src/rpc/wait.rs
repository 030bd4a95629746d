//! `waitForSlot`: the long poll on the head, bounded in number and by the batch deadline.

use super::common::{to_value, RpcResult};
use crate::params::Params;
use crate::shared::Shared;
use gradual_rpc::dto::WaitDto;
use gradual_rpc::limits::*;
use gradual_rpc::{codes, RpcError, WAIT_TIMEOUT_MS_MAX};
use std::time::Duration;
use tokio::time::Instant;

pub(super) async fn wait_for_slot(shared: &Shared, p: Params, deadline: Instant) -> RpcResult {
    let slot = p.u64(0)?;
    let timeout_ms = p.opt_u64(1)?.unwrap_or(10_000);
    if timeout_ms > WAIT_TIMEOUT_MS_MAX {
        return Err(RpcError::invalid_params(format!(
            "waitForSlot: param 1 (timeout_ms) is {timeout_ms}, the most is {WAIT_TIMEOUT_MS_MAX}"
        )));
    }
    let Ok(_permit) = shared.long_polls.try_acquire() else {
        return Err(RpcError::new(
            codes::BUSY,
            format!(
                "{LONG_POLLS_MAX} long polls are already waiting on this validator; retry shortly"
            ),
        ));
    };
    // A long poll in a batch waits at most until the batch's deadline.
    let until = (Instant::now() + Duration::from_millis(timeout_ms)).min(deadline);
    let mut head = shared.head.subscribe();
    let mut stop = shared.stop.subscribe();
    let reached = tokio::select! {
        r = tokio::time::timeout_at(until, head.wait_for(|h| h.slot >= slot)) => {
            matches!(r, Ok(Ok(_)))
        }
        _ = stop.wait_for(|s| *s) => false,
    };
    let now = shared.head.borrow().clone();
    to_value(WaitDto {
        reached: reached || now.slot >= slot,
        head: now,
    })
}
