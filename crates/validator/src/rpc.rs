//! JSON-RPC 2.0 over HTTP: envelope checks, batches, and every method.

use crate::params::{kind, Params};
use crate::shared::Shared;
use base64::Engine;
use gradual_ledger::query::TaskQuery;
use gradual_ledger::{Ledger, TxError};
use gradual_rpc::convert::{self, TaskFlags};
use gradual_rpc::dto::*;
use gradual_rpc::{codes, methods as m, Id, Response, RpcError, WAIT_TIMEOUT_MS_MAX};
use gradual_store::Store;
use gradual_types::{DecodeError, Instruction, Pubkey, Signature, TaskId, Transaction};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, RwLockReadGuard};
use std::time::Duration;

type RpcResult = Result<Value, RpcError>;

fn internal(what: impl std::fmt::Display) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, format!("internal error: {what}"))
}

fn to_value<T: serde::Serialize>(v: T) -> RpcResult {
    serde_json::to_value(v).map_err(internal)
}

impl Shared {
    fn read_ledger(&self) -> Result<RwLockReadGuard<'_, Ledger>, RpcError> {
        self.ledger
            .read()
            .map_err(|_| internal("ledger lock poisoned; restart the validator"))
    }

    fn lock_store(&self) -> Result<MutexGuard<'_, Store>, RpcError> {
        self.store
            .lock()
            .map_err(|_| internal("store lock poisoned; restart the validator"))
    }
}

/// Handle one HTTP body: a call or a batch. `None` when every call was a notification.
pub async fn handle_body(shared: &Shared, body: &[u8]) -> Option<Value> {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let err = RpcError::new(
                codes::PARSE_ERROR,
                format!("request body is not valid JSON: {e}"),
            );
            return Some(json!(Response::err(Id::Null, err)));
        }
    };
    match parsed {
        Value::Array(calls) => {
            if calls.is_empty() {
                let err = RpcError::new(
                    codes::INVALID_REQUEST,
                    "batch is empty; send at least one call",
                );
                return Some(json!(Response::err(Id::Null, err)));
            }
            if calls.len() > shared.batch_max {
                let err = RpcError::new(
                    codes::INVALID_REQUEST,
                    format!(
                        "batch has {} calls, the most is {}; split it",
                        calls.len(),
                        shared.batch_max
                    ),
                );
                return Some(json!(Response::err(Id::Null, err)));
            }
            let mut out = Vec::with_capacity(calls.len());
            for c in calls {
                if let Some(r) = call(shared, c).await {
                    out.push(r);
                }
            }
            (!out.is_empty()).then(|| json!(out))
        }
        single => call(shared, single).await.map(|r| json!(r)),
    }
}

async fn call(shared: &Shared, v: Value) -> Option<Response> {
    let Value::Object(mut obj) = v else {
        let err = RpcError::new(
            codes::INVALID_REQUEST,
            format!(
                "a request must be an object with jsonrpc, method and id; got {}",
                kind(&v)
            ),
        );
        return Some(Response::err(Id::Null, err));
    };
    let notification = !obj.contains_key("id");
    let id = match obj.remove("id").unwrap_or(Value::Null) {
        Value::Null => Id::Null,
        Value::String(s) => Id::Str(s),
        Value::Number(n) if n.as_i64().is_some() => Id::Num(n.as_i64().unwrap_or(0)),
        other => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "id must be an integer, a string or null, got {}",
                    kind(&other)
                ),
            );
            return Some(Response::err(Id::Null, err));
        }
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        let err = RpcError::new(codes::INVALID_REQUEST, "jsonrpc must be \"2.0\"");
        return Some(Response::err(id, err));
    }
    let Some(method) = obj
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        let err = RpcError::new(codes::INVALID_REQUEST, "method must be a string");
        return Some(Response::err(id, err));
    };
    let params = obj.remove("params").unwrap_or(Value::Null);
    let result = dispatch(shared, &method, params).await;
    if notification {
        return None;
    }
    Some(match result {
        Ok(v) => Response::ok(id, v),
        Err(e) => Response::err(id, e),
    })
}

async fn dispatch(shared: &Shared, method: &str, params: Value) -> RpcResult {
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
        m::GET_ACCOUNT => get_account(shared, Params::new(name, &["pubkey"], params)?),
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
        m::GET_TASK_SUBMISSION_INFO => {
            get_task_submission_info(shared, Params::new(name, &["task", "round"], params)?)
        }
        m::GET_TASK_DISTRIBUTION_INFO => {
            get_task_distribution_info(shared, Params::new(name, &["task", "round"], params)?)
        }
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
        m::WAIT_FOR_SLOT => {
            wait_for_slot(shared, Params::new(name, &["slot", "timeout_ms"], params)?).await
        }
        other => Err(internal(format!("method {other} is listed but not served"))),
    }
}

/// The closest method name, if one is close enough to be a typo.
fn suggest(method: &str) -> Option<&'static str> {
    gradual_rpc::suggest::closest(method, m::ALL.iter().copied(), |_| 3)
}

fn not_found(msg: String) -> RpcError {
    RpcError::new(codes::NOT_FOUND, msg)
}

fn unknown_task(task: &TaskId) -> RpcError {
    not_found(format!(
        "unknown task {task}; getProgramTasks lists the tasks this chain has"
    ))
}

fn get_genesis(shared: &Shared) -> RpcResult {
    to_value(convert::genesis(&shared.genesis, shared.faucet.is_some()))
}

fn get_block(shared: &Shared, p: Params) -> RpcResult {
    let slot = p.u64(0)?;
    let cfg = p.config(1, &["transactions"])?;
    let with_txs = p.flag(1, &cfg, "transactions", true)?;
    let stored = shared.lock_store()?.block(slot).map_err(internal)?;
    match stored {
        None => Ok(Value::Null),
        Some(b) => to_value(convert::block(&b.block, &b.receipts, with_txs)),
    }
}

/// Most blocks one `getBlocks` call returns.
const BLOCKS_LIMIT_MAX: u64 = 100;

fn get_blocks(shared: &Shared, p: Params) -> RpcResult {
    let from = p.u64(0)?;
    let limit = p.opt_u64(1)?.unwrap_or(BLOCKS_LIMIT_MAX);
    if limit == 0 || limit > BLOCKS_LIMIT_MAX {
        return Err(RpcError::invalid_params(format!(
            "getBlocks: param 1 (limit) must be between 1 and {BLOCKS_LIMIT_MAX}, got {limit}"
        )));
    }
    let cfg = p.config(2, &["transactions"])?;
    let with_txs = p.flag(2, &cfg, "transactions", false)?;
    let blocks = shared
        .lock_store()?
        .blocks_from(from, limit as usize)
        .map_err(internal)?;
    to_value(
        blocks
            .iter()
            .map(|b| convert::block(&b.block, &b.receipts, with_txs))
            .collect::<Vec<_>>(),
    )
}

fn get_account(shared: &Shared, p: Params) -> RpcResult {
    let pk = p.pubkey(0)?;
    let l = shared.read_ledger()?;
    let stakes = l
        .task_ids()
        .iter()
        .filter_map(|t| l.stake(t, &pk).map(|s| convert::stake(t, &pk, s)))
        .collect();
    let pending_rewards = l
        .rewards_of(&pk)
        .into_iter()
        .map(|(t, a)| RewardDto {
            node: pk.to_base58(),
            task: t.to_base58(),
            amount: a,
        })
        .collect();
    to_value(AccountDto {
        pubkey: pk.to_base58(),
        balance: l.balance(&pk),
        stakes,
        pending_rewards,
    })
}

fn rejected(kind: &str, message: String) -> RpcError {
    crate::metrics::tx_rejected(kind);
    RpcError::new(
        codes::TRANSACTION_REJECTED,
        format!("transaction rejected: {message}"),
    )
    .with_data(json!(TxErrorDto {
        kind: kind.to_string(),
        message,
    }))
}

fn tx_rejected(e: &TxError) -> RpcError {
    let dto = convert::tx_error(e);
    rejected(&dto.kind, dto.message)
}

fn decode_rejected(e: &DecodeError) -> RpcError {
    rejected(&convert::error_kind(&format!("{e:?}")), e.to_string())
}

fn send_transaction(shared: &Shared, p: Params) -> RpcResult {
    const E: &str = "the transaction's borsh bytes as a base64 (default) or base58 string";
    let encoded = p.string(0, E)?;
    let cfg = p.config(1, &["encoding"])?;
    let encoding = match cfg.get("encoding") {
        None | Some(Value::Null) => "base64",
        Some(Value::String(s)) if s == "base64" || s == "base58" => s.as_str(),
        Some(other) => {
            return Err(RpcError::invalid_params(format!(
                "sendTransaction: param 1 (config) key 'encoding' must be \"base64\" or \"base58\", got {other}"
            )))
        }
    };
    let bytes = if encoding == "base64" {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| {
                RpcError::invalid_params(format!(
                    "sendTransaction: param 0 (transaction) is not base64: {e}; pass {{\"encoding\":\"base58\"}} for base58"
                ))
            })?
    } else {
        bs58::decode(encoded).into_vec().map_err(|e| {
            RpcError::invalid_params(format!(
                "sendTransaction: param 0 (transaction) is not base58: {e}"
            ))
        })?
    };
    let tx = Transaction::decode(&bytes).map_err(|e| decode_rejected(&e))?;
    let sig = admit(shared, tx)?;
    Ok(json!(sig.to_base58()))
}

/// The door: everything that can be checked without applying the transaction, then the
/// mempool. A transaction refused here changes nothing.
fn admit(shared: &Shared, tx: Transaction) -> Result<Signature, RpcError> {
    if shared.stopping.load(Ordering::Relaxed) {
        return Err(RpcError::new(
            codes::SHUTTING_DOWN,
            "validator is shutting down; send the transaction again once it is back",
        ));
    }
    let g = &shared.genesis;
    let msg = &tx.message;
    if msg.chain_id != g.chain_id {
        return Err(tx_rejected(&TxError::WrongChain {
            got: msg.chain_id.clone(),
            expected: g.chain_id.clone(),
        }));
    }
    if !tx.verify() {
        return Err(tx_rejected(&TxError::BadSignature { signer: msg.signer }));
    }
    if msg.fee < g.fee_roe {
        return Err(tx_rejected(&TxError::FeeTooLow {
            offered: msg.fee,
            required: g.fee_roe,
        }));
    }
    // SPEC §1 [v2]: a signer that cannot pay the fee is refused here, before it takes
    // mempool or block space.
    if g.fee_roe > 0 {
        let available = shared.read_ledger()?.balance(&msg.signer);
        if available < g.fee_roe {
            return Err(tx_rejected(&TxError::InsufficientFunds {
                account: msg.signer,
                needed: g.fee_roe,
                available,
            }));
        }
    }
    let head = shared.head.borrow().slot;
    // The transaction lands in a block at `head + 1` or later.
    let next = head.saturating_add(1);
    if msg.recent_slot > head {
        return Err(tx_rejected(&TxError::FutureSlot {
            recent_slot: msg.recent_slot,
            slot: head,
        }));
    }
    if msg.recent_slot.saturating_add(g.tx_max_age_slots) < next {
        return Err(tx_rejected(&TxError::Expired {
            recent_slot: msg.recent_slot,
            slot: next,
            max_age: g.tx_max_age_slots,
        }));
    }
    let id = tx.signature;
    if let Some((slot, result)) = shared.lock_store()?.tx_status(&id).map_err(internal)? {
        if result.as_ref().err().is_none_or(TxError::marks_seen) {
            return Err(rejected(
                "Duplicate",
                format!("transaction already processed in slot {slot} (duplicate signature); sign a new one"),
            ));
        }
    }
    let depth = {
        let mut mp = shared
            .mempool
            .lock()
            .map_err(|_| internal("mempool lock poisoned"))?;
        match mp.push(tx) {
            Ok(()) => mp.len(),
            Err(crate::mempool::PushError::AlreadyPending) => {
                return Err(rejected(
                    "Duplicate",
                    "transaction is already waiting in the mempool (duplicate signature)".into(),
                ))
            }
            Err(e @ crate::mempool::PushError::Full { .. }) => {
                crate::metrics::tx_rejected("MempoolFull");
                return Err(RpcError::new(codes::MEMPOOL_FULL, e.to_string()));
            }
        }
    };
    crate::metrics::tx_accepted();
    crate::metrics::mempool_depth(depth);
    Ok(id)
}

fn signature_status(
    shared: &Shared,
    sig: &Signature,
) -> Result<Option<SignatureStatusDto>, RpcError> {
    // Mempool first: a transaction leaves it only after its block is committed.
    let pending = shared
        .mempool
        .lock()
        .map_err(|_| internal("mempool lock poisoned"))?
        .contains(sig);
    if pending {
        return Ok(Some(SignatureStatusDto {
            signature: sig.to_base58(),
            state: TxState::Pending,
            slot: None,
            err: None,
        }));
    }
    let status = shared.lock_store()?.tx_status(sig).map_err(internal)?;
    Ok(status.map(|(slot, result)| SignatureStatusDto {
        signature: sig.to_base58(),
        state: TxState::Processed,
        slot: Some(slot),
        err: result.err().as_ref().map(convert::tx_error),
    }))
}

/// Most signatures one `getSignatureStatuses` call takes.
const STATUSES_MAX: usize = 256;

fn get_signature_statuses(shared: &Shared, p: Params) -> RpcResult {
    const E: &str = "an array of base58 signatures";
    let Some(Value::Array(items)) = p.opt(0) else {
        return Err(RpcError::invalid_params(format!(
            "getSignatureStatuses: param 0 (signatures) must be {E}"
        )));
    };
    if items.len() > STATUSES_MAX {
        return Err(RpcError::invalid_params(format!(
            "getSignatureStatuses: param 0 (signatures) has {} items, the most is {STATUSES_MAX}",
            items.len()
        )));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let sig: Signature = it
            .as_str()
            .ok_or_else(|| {
                RpcError::invalid_params(format!(
                    "getSignatureStatuses: signatures[{i}] must be a string"
                ))
            })?
            .parse()
            .map_err(|e: gradual_types::ParseKeyError| {
                RpcError::invalid_params(format!("getSignatureStatuses: signatures[{i}]: {e}"))
            })?;
        out.push(signature_status(shared, &sig)?);
    }
    to_value(out)
}

fn get_task_account_info(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let keys = ["submissions", "distributions", "stakes", "rewards"];
    let cfg = p.config(1, &keys)?;
    let flags = TaskFlags {
        submissions: p.flag(1, &cfg, "submissions", false)?,
        distributions: p.flag(1, &cfg, "distributions", false)?,
        stakes: p.flag(1, &cfg, "stakes", false)?,
        rewards: p.flag(1, &cfg, "rewards", false)?,
    };
    let l = shared.read_ledger()?;
    let q = TaskQuery {
        stakes: flags.stakes,
        rewards: flags.rewards,
        rounds: flags.submissions || flags.distributions,
    };
    let view = l.task_view(&task, q).ok_or_else(|| unknown_task(&task))?;
    to_value(convert::task(&view, l.slot(), flags))
}

fn round_missing(task: &TaskId, round: u64, l: &Ledger) -> RpcError {
    let current = l.clock(task).map(|c| c.round(l.slot())).unwrap_or(0);
    not_found(format!(
        "task {task} holds no record of round {round} (now in round {current}): a round's record appears with its first proof and is pruned a few rounds after it settles"
    ))
}

/// The `(task, round)` params of the round-info methods, and that round's view.
fn round_view_param(
    l: &Ledger,
    p: &Params,
) -> Result<(TaskId, u64, gradual_ledger::query::RoundView), RpcError> {
    let task = p.hash(0)?;
    let round = p.u64(1)?;
    l.task(&task).ok_or_else(|| unknown_task(&task))?;
    let v = l
        .round_view(&task, round)
        .ok_or_else(|| round_missing(&task, round, l))?;
    Ok((task, round, v))
}

fn get_task_submission_info(shared: &Shared, p: Params) -> RpcResult {
    let l = shared.read_ledger()?;
    let (task, round, v) = round_view_param(&l, &p)?;
    to_value(SubmissionInfoDto {
        task: task.to_base58(),
        round,
        status: convert::status(&v.record.status),
        submissions: v
            .submissions
            .iter()
            .map(|(n, s)| convert::submission(n, s))
            .collect(),
        audits: v.audits.iter().map(|(n, a)| convert::audit(n, a)).collect(),
    })
}

fn get_task_distribution_info(shared: &Shared, p: Params) -> RpcResult {
    let l = shared.read_ledger()?;
    let (task, round, v) = round_view_param(&l, &p)?;
    to_value(DistributionInfoDto {
        task: task.to_base58(),
        round,
        status: convert::status(&v.record.status),
        seed: v.record.seed.map(|s| s.to_base58()),
        candidates: v.record.candidates.iter().map(|c| c.to_base58()).collect(),
        current_attempt: v.record.current_attempt,
        attempts: v
            .attempts
            .iter()
            .map(|(i, a)| {
                let entries = l.distribution_list(&task, round, *i);
                convert::attempt(*i, a, Some(entries))
            })
            .collect(),
    })
}

fn get_audit_committee(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let round = p.u64(1)?;
    let candidate = p.opt_pubkey(2)?;
    let attempt = p.opt_u16(3)?;
    let l = shared.read_ledger()?;
    l.task(&task).ok_or_else(|| unknown_task(&task))?;
    let dto = match (candidate, attempt) {
        (Some(c), None) => {
            let a = l.audit(&task, round, &c).ok_or_else(|| {
                not_found(format!(
                    "no audit is raised against {c} in round {round} of task {task}"
                ))
            })?;
            AuditCommitteeDto {
                task: task.to_base58(),
                round,
                candidate: Some(c.to_base58()),
                attempt: None,
                committee: a.committee.as_ref().map(convert::committee),
                votes: convert::votes(&a.votes),
                tally: convert::tally_of(&a.committee, &a.votes),
            }
        }
        (None, Some(i)) => {
            let a = l.attempt(&task, round, i).ok_or_else(|| {
                not_found(format!(
                    "round {round} of task {task} has no distribution attempt {i}"
                ))
            })?;
            AuditCommitteeDto {
                task: task.to_base58(),
                round,
                candidate: None,
                attempt: Some(i),
                committee: a.committee.as_ref().map(convert::committee),
                votes: convert::votes(&a.votes),
                tally: convert::tally_of(&a.committee, &a.votes),
            }
        }
        _ => {
            return Err(RpcError::invalid_params(
                "getAuditCommittee: give exactly one of param 2 (candidate, for a proof audit) and param 3 (attempt, for a distribution audit)",
            ))
        }
    };
    to_value(dto)
}

fn get_distribution_candidates(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let round = p.u64(1)?;
    let l = shared.read_ledger()?;
    l.task(&task).ok_or_else(|| unknown_task(&task))?;
    let r = l
        .round_record(&task, round)
        .ok_or_else(|| round_missing(&task, round, &l))?;
    to_value(CandidatesDto {
        task: task.to_base58(),
        round,
        seed: r.seed.map(|s| s.to_base58()),
        candidates: r.candidates.iter().map(|c| c.to_base58()).collect(),
        current_attempt: r.current_attempt,
    })
}

fn get_program_tasks(shared: &Shared, p: Params) -> RpcResult {
    let cfg = p.config(0, &["active_only"])?;
    let active_only = p.flag(0, &cfg, "active_only", false)?;
    let l = shared.read_ledger()?;
    let slot = l.slot();
    let mut out = Vec::new();
    for id in l.task_ids() {
        let Some(v) = l.task_view(&id, TaskQuery::default()) else {
            continue;
        };
        if active_only && !v.record.is_active {
            continue;
        }
        out.push(TaskSummaryDto {
            id: id.to_base58(),
            name: v.record.params.name.clone(),
            manager: v.record.manager.to_base58(),
            is_active: v.record.is_active,
            closed: v.record.closed,
            total_bounty: v.record.total_bounty,
            bounty_per_round: v.record.params.bounty_per_round,
            round_time: v.record.params.round_time,
            current_round: v.clock.round(slot),
            stakers: v.stakers,
            total_stake: v.total_stake,
        });
    }
    to_value(out)
}

fn request_airdrop(shared: &Shared, p: Params) -> RpcResult {
    let to: Pubkey = p.pubkey(0)?;
    let amount = p.u64(1)?;
    let Some(kp) = &shared.faucet else {
        return Err(RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            "this validator holds no faucet key; airdrops exist only on a devnet started with --faucet-keypair",
        ));
    };
    let Some(f) = &shared.genesis.faucet else {
        return Err(RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            "this chain has no faucet",
        ));
    };
    if amount == 0 {
        return Err(RpcError::invalid_params(
            "requestAirdrop: param 1 (amount) must be more than 0 ROE",
        ));
    }
    if amount > f.mint_max_roe {
        return Err(RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            format!(
                "airdrop of {amount} ROE exceeds the faucet limit of {} ROE per request",
                f.mint_max_roe
            ),
        ));
    }
    let g = &shared.genesis;
    let head = shared.head.borrow().slot;
    // Signatures are deterministic: an identical airdrop in the same slot would repeat one,
    // so step the recent slot back until the signature is fresh.
    let mut last_err = None;
    for back in 0..g.tx_max_age_slots.min(64) {
        let Some(recent) = head.checked_sub(back) else {
            break;
        };
        let tx = Transaction::new_signed(
            kp,
            &g.chain_id,
            recent,
            g.fee_roe,
            Instruction::FaucetMint { to, amount },
        );
        match admit(shared, tx) {
            Ok(sig) => return Ok(json!(sig.to_base58())),
            Err(e) if e.code == codes::TRANSACTION_REJECTED => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        RpcError::new(
            codes::FAUCET_UNAVAILABLE,
            "too many identical airdrops in flight; retry in a few slots",
        )
    }))
}

async fn wait_for_slot(shared: &Shared, p: Params) -> RpcResult {
    let slot = p.u64(0)?;
    let timeout_ms = p.opt_u64(1)?.unwrap_or(10_000);
    if timeout_ms > WAIT_TIMEOUT_MS_MAX {
        return Err(RpcError::invalid_params(format!(
            "waitForSlot: param 1 (timeout_ms) is {timeout_ms}, the most is {WAIT_TIMEOUT_MS_MAX}"
        )));
    }
    let mut head = shared.head.subscribe();
    let mut stop = shared.stop.subscribe();
    let reached = tokio::select! {
        r = tokio::time::timeout(Duration::from_millis(timeout_ms), head.wait_for(|h| h.slot >= slot)) => {
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
