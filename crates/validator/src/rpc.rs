//! JSON-RPC 2.0 over HTTP: envelope checks, batches, and every method.
//!
//! Every input is bounded before it costs anything (`gradual_rpc::limits`): the body's
//! nesting depth and batch size are checked in one pass over its bytes before it is parsed,
//! every base58/base64 param by its length before it is decoded. The calls of a batch run
//! concurrently and share one deadline. CPU-heavy calls (transaction decoding and signature
//! checks, ledger and store reads) run on blocking threads, a bounded number at once, so
//! they never stall the async workers that serve everything else. Reads copy one bounded
//! page of committed state under a read lock and build their answer after releasing it.

use crate::params::{check_len, clip, kind, Params};
use crate::shared::Shared;
use base64::Engine;
use gradual_ledger::page::Page;
use gradual_ledger::query::TaskView;
use gradual_ledger::{Ledger, TxError};
use gradual_rpc::convert::{self, TaskFlags, TxPage};
use gradual_rpc::dto::*;
use gradual_rpc::limits::*;
use gradual_rpc::{codes, methods as m, Id, Response, RpcError, WAIT_TIMEOUT_MS_MAX};
use gradual_store::Store;
use gradual_types::{DecodeError, Hash, Instruction, Pubkey, Signature, TaskId, Transaction};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLockReadGuard};
use std::time::Duration;
use tokio::time::Instant;

type RpcResult = Result<Value, RpcError>;

fn internal(what: impl std::fmt::Display) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, format!("internal error: {what}"))
}

fn to_value<T: serde::Serialize>(v: T) -> RpcResult {
    serde_json::to_value(v).map_err(internal)
}

fn timed_out() -> RpcError {
    RpcError::new(
        codes::TIMEOUT,
        format!("the call did not finish within the batch deadline of {BATCH_DEADLINE_MS} ms"),
    )
}

impl Shared {
    /// The ledger for reading. Only committed state: the producer holds the write lock
    /// from applying a block until it is durable; a ledger ahead of the store (a failed
    /// commit) is refused.
    fn read_ledger(&self) -> Result<RwLockReadGuard<'_, Ledger>, RpcError> {
        let l = self
            .ledger
            .read()
            .map_err(|_| internal("ledger lock poisoned; restart the validator"))?;
        if l.slot() != self.durable_slot.load(Ordering::SeqCst) {
            return Err(internal(
                "the ledger is ahead of the store (a block commit failed); the validator is stopping",
            ));
        }
        Ok(l)
    }

    fn read_store(&self) -> Result<RwLockReadGuard<'_, Store>, RpcError> {
        self.store
            .read()
            .map_err(|_| internal("store lock poisoned; restart the validator"))
    }
}

/// What one pass over the body's bytes found, before it is parsed.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    /// Elements of a top-level array (a batch).
    batch: Option<usize>,
}

/// One pass over a JSON text: refuse nesting deeper than `depth_max`, and count the
/// elements of a top-level array. Does not validate the JSON (the parser does).
fn scan(body: &[u8], depth_max: usize) -> Result<Shape, RpcError> {
    let mut depth = 0usize;
    let (mut in_str, mut esc) = (false, false);
    let mut top_array = None;
    let mut commas = 0usize;
    let mut items = false;
    for &b in body {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_str = true;
                if depth == 1 {
                    items = true;
                }
            }
            b'[' | b'{' => {
                if depth == 0 && top_array.is_none() {
                    top_array = Some(b == b'[');
                } else if depth == 1 {
                    items = true;
                }
                depth += 1;
                if depth > depth_max {
                    return Err(RpcError::new(
                        codes::INVALID_REQUEST,
                        format!(
                            "request nests arrays and objects more than {depth_max} deep; send a flatter request"
                        ),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => commas += 1,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ if depth == 1 => items = true,
            _ => {}
        }
    }
    let batch = (top_array == Some(true)).then(|| if items { commas + 1 } else { 0 });
    Ok(Shape { batch })
}

/// Bodies larger than this are parsed on a blocking thread.
const PARSE_INLINE_BYTES: usize = 16 * 1024;

fn parse_error(e: serde_json::Error) -> RpcError {
    RpcError::new(
        codes::PARSE_ERROR,
        format!("request body is not valid JSON: {e}"),
    )
}

async fn parse(shared: &Shared, body: &[u8]) -> Result<Value, RpcError> {
    if body.len() <= PARSE_INLINE_BYTES {
        return serde_json::from_slice(body).map_err(parse_error);
    }
    let _permit = shared
        .heavy
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| internal("worker pool closed"))?;
    let owned = body.to_vec();
    tokio::task::spawn_blocking(move || serde_json::from_slice(&owned).map_err(parse_error))
        .await
        .map_err(internal)?
}

/// Handle one HTTP body: a call or a batch. `None` when every call was a notification.
pub async fn handle_body(shared: &Arc<Shared>, body: &[u8]) -> Option<Value> {
    let refuse = |e: RpcError| Some(json!(Response::err(Id::Null, e)));
    let shape = match scan(body, JSON_DEPTH_MAX) {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    if let Some(n) = shape.batch {
        if n > shared.batch_max {
            return refuse(RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "batch has {n} calls, the most is {}; split it",
                    shared.batch_max
                ),
            ));
        }
    }
    let parsed = match parse(shared, body).await {
        Ok(v) => v,
        Err(e) => return refuse(e),
    };
    let deadline = Instant::now() + Duration::from_millis(BATCH_DEADLINE_MS);
    match parsed {
        Value::Array(calls) => {
            if calls.is_empty() {
                return refuse(RpcError::new(
                    codes::INVALID_REQUEST,
                    "batch is empty; send at least one call",
                ));
            }
            let out = batch(shared, calls, deadline).await;
            (!out.is_empty()).then(|| json!(out))
        }
        single => match envelope(single) {
            Err(resp) => Some(json!(resp)),
            Ok(c) => {
                let (id, notification) = (c.id.clone(), c.notification);
                match tokio::time::timeout_at(deadline, run(shared.clone(), c, deadline, None))
                    .await
                {
                    Ok(r) => r.map(|r| json!(r)),
                    Err(_) => (!notification).then(|| json!(Response::err(id, timed_out()))),
                }
            }
        },
    }
}

/// Run the calls of a batch concurrently; every call ends by `deadline`. Answers keep the
/// order of the calls.
async fn batch(shared: &Arc<Shared>, calls: Vec<Value>, deadline: Instant) -> Vec<Response> {
    let n = calls.len();
    let mut out: Vec<Option<Response>> = vec![None; n];
    let mut pending: HashMap<tokio::task::Id, (usize, Id)> = HashMap::new();
    let mut set = tokio::task::JoinSet::new();
    // A batch's heavy calls queue for the shared pool a few at a time, so one batch cannot
    // fill the pool's queue ahead of everyone else's calls.
    let share = Arc::new(tokio::sync::Semaphore::new(BATCH_HEAVY_CALLS_MAX));
    for (i, v) in calls.into_iter().enumerate() {
        match envelope(v) {
            Err(resp) => out[i] = Some(*resp),
            Ok(c) => {
                let keep = (!c.notification).then(|| c.id.clone());
                let handle = set.spawn(run(shared.clone(), c, deadline, Some(share.clone())));
                if let Some(id) = keep {
                    pending.insert(handle.id(), (i, id));
                }
            }
        }
    }
    loop {
        match tokio::time::timeout_at(deadline, set.join_next_with_id()).await {
            Ok(Some(Ok((task, r)))) => {
                if let Some((i, _)) = pending.remove(&task) {
                    out[i] = r;
                }
            }
            Ok(Some(Err(e))) => {
                if let Some((i, id)) = pending.remove(&e.id()) {
                    out[i] = Some(Response::err(id, internal("the call failed")));
                }
            }
            Ok(None) => break,
            Err(_) => {
                set.abort_all();
                break;
            }
        }
    }
    for (i, id) in pending.into_values() {
        out[i] = Some(Response::err(id, timed_out()));
    }
    out.into_iter().flatten().collect()
}

/// A request that passed the envelope checks.
struct Call {
    id: Id,
    notification: bool,
    method: String,
    params: Value,
}

fn envelope(v: Value) -> Result<Call, Box<Response>> {
    let Value::Object(mut obj) = v else {
        let err = RpcError::new(
            codes::INVALID_REQUEST,
            format!(
                "a request must be an object with jsonrpc, method and id; got {}",
                kind(&v)
            ),
        );
        return Err(Box::new(Response::err(Id::Null, err)));
    };
    let notification = !obj.contains_key("id");
    let id = match obj.remove("id").unwrap_or(Value::Null) {
        Value::Null => Id::Null,
        Value::String(s) if s.len() <= ID_CHARS_MAX => Id::Str(s),
        Value::String(s) => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "id is a string of {} characters, the most is {ID_CHARS_MAX}",
                    s.len()
                ),
            );
            return Err(Box::new(Response::err(Id::Null, err)));
        }
        Value::Number(n) if n.as_i64().is_some() => Id::Num(n.as_i64().unwrap_or(0)),
        Value::Number(n) if n.as_u64().is_some() => Id::U64(n.as_u64().unwrap_or(0)),
        other => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "id must be an integer (i64 or u64), a string or null, got {}",
                    match other {
                        Value::Number(_) => "a fraction or a number out of range",
                        ref v => kind(v),
                    }
                ),
            );
            return Err(Box::new(Response::err(Id::Null, err)));
        }
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        let err = RpcError::new(codes::INVALID_REQUEST, "jsonrpc must be \"2.0\"");
        return Err(Box::new(Response::err(id, err)));
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        let err = RpcError::new(codes::INVALID_REQUEST, "method must be a string");
        return Err(Box::new(Response::err(id, err)));
    };
    let params = obj.remove("params").unwrap_or(Value::Null);
    Ok(Call {
        id,
        notification,
        method,
        params,
    })
}

async fn run(
    shared: Arc<Shared>,
    c: Call,
    deadline: Instant,
    share: Option<Arc<tokio::sync::Semaphore>>,
) -> Option<Response> {
    let result = dispatch(&shared, &c.method, c.params, deadline, share).await;
    if c.notification {
        return None;
    }
    Some(match result {
        Ok(v) => Response::ok(c.id, v),
        Err(e) => Response::err(c.id, e),
    })
}

async fn dispatch(
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
    let cfg = p.config(1, &["transactions", "offset", "limit"])?;
    let with_txs = p.flag(1, &cfg, "transactions", true)?;
    let offset = p.cfg_u64(1, &cfg, "offset", 0, u64::from(u32::MAX))? as usize;
    let limit = p.cfg_limit(1, &cfg, BLOCK_TXS_PAGE_MAX, BLOCK_TXS_PAGE_MAX)?;
    let stored = shared.read_store()?.block(slot).map_err(internal)?;
    match stored {
        None => Ok(Value::Null),
        Some(b) => to_value(convert::block(
            &b.block,
            &b.receipts,
            with_txs.then_some(TxPage {
                offset,
                limit,
                max_bytes: BLOCKS_TX_BYTES_MAX,
            }),
        )),
    }
}

/// Blocks `getBlocks` reads from the store per read lock.
const BLOCKS_PER_READ: usize = 8;

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
    let page = with_txs.then_some(TxPage {
        offset: 0,
        limit: BLOCK_TXS_PAGE_MAX as usize,
        max_bytes: BLOCKS_TX_BYTES_MAX,
    });
    let mut out = Vec::new();
    let mut next = from;
    let mut bytes = 0usize;
    'read: while (out.len() as u64) < limit {
        let want = (limit as usize - out.len()).min(BLOCKS_PER_READ);
        let batch = shared
            .read_store()?
            .blocks_from(next, want)
            .map_err(internal)?;
        let Some(last) = batch.last() else { break };
        next = last.block.header.slot.saturating_add(1);
        let done = batch.len() < want;
        for b in batch {
            if with_txs {
                let size: usize = b.block.txs.iter().map(|t| t.encode().len()).sum();
                if !out.is_empty() && bytes + size > BLOCKS_TX_BYTES_MAX {
                    break 'read;
                }
                bytes += size;
            }
            out.push(convert::block(&b.block, &b.receipts, page));
        }
        if done || next == 0 {
            break;
        }
    }
    to_value(out)
}

fn get_account(shared: &Shared, p: Params) -> RpcResult {
    let pk = p.pubkey(0)?;
    let cfg = p.config(1, &["after", "limit"])?;
    let after = p.cfg_key(1, &cfg, "after")?.map(Hash);
    let limit = p.cfg_limit(1, &cfg, PAGE_LIMIT_MAX, PAGE_LIMIT_MAX)?;
    let (balance, page) = {
        let l = shared.read_ledger()?;
        (l.balance(&pk), l.account_page(&pk, after, limit))
    };
    let mut stakes = Vec::new();
    let mut pending_rewards = Vec::new();
    for (t, stake, reward) in &page.items {
        if let Some(s) = stake {
            stakes.push(convert::stake(t, &pk, s));
        }
        if *reward > 0 {
            pending_rewards.push(RewardDto {
                node: pk.to_base58(),
                task: t.to_base58(),
                amount: *reward,
            });
        }
    }
    to_value(AccountDto {
        pubkey: pk.to_base58(),
        balance,
        stakes,
        pending_rewards,
        next: page.next.map(|t| t.to_base58()),
    })
}

/// Keep the items of two node-ordered pages up to the nearer of their cursors, so one
/// `after` continues both; returns that cursor.
fn cut_pages<A, B>(
    a: &mut Page<(Pubkey, A), Pubkey>,
    b: &mut Page<(Pubkey, B), Pubkey>,
) -> Option<Pubkey> {
    let cut = match (a.next, b.next) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    };
    if let Some(c) = cut {
        a.items.retain(|(n, _)| *n <= c);
        b.items.retain(|(n, _)| *n <= c);
    }
    cut
}

fn get_task_account_info(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let keys = [
        "submissions",
        "distributions",
        "stakes",
        "rewards",
        "after",
        "limit",
    ];
    let cfg = p.config(1, &keys)?;
    let flags = TaskFlags {
        submissions: p.flag(1, &cfg, "submissions", false)?,
        distributions: p.flag(1, &cfg, "distributions", false)?,
        stakes: p.flag(1, &cfg, "stakes", false)?,
        rewards: p.flag(1, &cfg, "rewards", false)?,
    };
    let after = p.cfg_key(1, &cfg, "after")?.map(Pubkey);
    let limit = p.cfg_limit(1, &cfg, PAGE_LIMIT_MAX, PAGE_LIMIT_MAX)?;
    let cap = PAGE_LIMIT_MAX as usize;
    let (view, slot, next) = {
        let l = shared.read_ledger()?;
        let record = l.task(&task).cloned().ok_or_else(|| unknown_task(&task))?;
        let clock = l.clock(&task).ok_or_else(|| unknown_task(&task))?;
        let phase = l
            .phase(&task, l.slot())
            .ok_or_else(|| unknown_task(&task))?;
        let (stakers, total_stake) = l.stake_totals(&task);
        let mut stakes = if flags.stakes {
            l.stakes_page(&task, after, limit)
        } else {
            Page::default()
        };
        let mut rewards = if flags.rewards {
            l.rewards_page(&task, after, limit)
        } else {
            Page::default()
        };
        let next = cut_pages(&mut stakes, &mut rewards);
        let rounds = (flags.submissions || flags.distributions).then(|| {
            let ids = l.round_ids(&task);
            let recent = ids.len().saturating_sub(ROUNDS_SHOWN_MAX);
            ids[recent..]
                .iter()
                .filter_map(|r| l.round_view_capped(&task, *r, cap + 1))
                .map(|(v, _)| v)
                .collect()
        });
        let view = TaskView {
            id: task,
            record,
            clock,
            phase,
            stakers,
            total_stake,
            stakes: flags.stakes.then_some(stakes.items),
            rewards: flags.rewards.then_some(rewards.items),
            rounds,
        };
        (view, l.slot(), next)
    };
    to_value(convert::task(&view, slot, flags, cap, next.as_ref()))
}

fn round_missing(task: &TaskId, round: u64, l: &Ledger) -> RpcError {
    let current = l.clock(task).map(|c| c.round(l.slot())).unwrap_or(0);
    not_found(format!(
        "task {task} holds no record of round {round} (now in round {current}): a round's record appears with its first proof and is pruned a few rounds after it settles"
    ))
}

/// The round record of `(task, round)`, or why there is none.
fn round_record(
    l: &Ledger,
    task: &TaskId,
    round: u64,
) -> Result<gradual_ledger::state::RoundRecord, RpcError> {
    l.task(task).ok_or_else(|| unknown_task(task))?;
    l.round_record(task, round)
        .cloned()
        .ok_or_else(|| round_missing(task, round, l))
}

fn get_task_submission_info(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let round = p.u64(1)?;
    let cfg = p.config(2, &["after", "limit"])?;
    let after = p.cfg_key(2, &cfg, "after")?.map(Pubkey);
    let limit = p.cfg_limit(2, &cfg, PAGE_LIMIT_MAX, PAGE_LIMIT_MAX)?;
    let (record, mut subs, mut audits) = {
        let l = shared.read_ledger()?;
        let record = round_record(&l, &task, round)?;
        (
            record,
            l.submissions_page(&task, round, after, limit),
            l.audits_page(&task, round, after, limit),
        )
    };
    let next = cut_pages(&mut subs, &mut audits);
    to_value(SubmissionInfoDto {
        task: task.to_base58(),
        round,
        status: convert::status(&record.status),
        submissions: subs
            .items
            .iter()
            .map(|(n, s)| convert::submission(n, s))
            .collect(),
        audits: audits
            .items
            .iter()
            .map(|(n, a)| convert::audit(n, a))
            .collect(),
        next: next.map(|n| n.to_base58()),
    })
}

fn get_task_distribution_info(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let round = p.u64(1)?;
    let cfg = p.config(2, &["attempt", "offset", "limit"])?;
    let want = p
        .cfg_u64(2, &cfg, "attempt", u64::MAX, u64::from(u16::MAX))
        .map(|a| u16::try_from(a).ok())?;
    let offset = p.cfg_u64(2, &cfg, "offset", 0, u64::MAX)?;
    let limit = p.cfg_limit(2, &cfg, ENTRIES_PAGE_MAX, ENTRIES_PAGE_MAX)?;
    let (record, attempts, shown, entries) = {
        let l = shared.read_ledger()?;
        let record = round_record(&l, &task, round)?;
        // Attempts of a round are few (`allowed_failed_distributions` + 1 at most).
        let attempts: Vec<_> = (0..=record.current_attempt)
            .filter_map(|i| l.attempt(&task, round, i).map(|a| (i, a.clone())))
            .collect();
        let shown = want.or_else(|| attempts.last().map(|(i, _)| *i));
        let entries = shown.map(|a| l.entries_page(&task, round, a, offset, limit));
        (record, attempts, shown, entries)
    };
    let next_offset = entries.as_ref().and_then(|e| e.next);
    let mut entries = entries.map(|e| e.items);
    to_value(DistributionInfoDto {
        task: task.to_base58(),
        round,
        status: convert::status(&record.status),
        seed: record.seed.map(|s| s.to_base58()),
        candidates: record.candidates.iter().map(|c| c.to_base58()).collect(),
        current_attempt: record.current_attempt,
        attempts: attempts
            .iter()
            .map(|(i, a)| {
                let mine = if Some(*i) == shown {
                    entries.take()
                } else {
                    None
                };
                convert::attempt(*i, a, mine)
            })
            .collect(),
        entries_attempt: shown,
        next_offset,
    })
}

fn get_audit_committee(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let round = p.u64(1)?;
    let candidate = p.opt_pubkey(2)?;
    let attempt = p.opt_u16(3)?;
    let dto = match (candidate, attempt) {
        (Some(c), None) => {
            let a = {
                let l = shared.read_ledger()?;
                l.task(&task).ok_or_else(|| unknown_task(&task))?;
                l.audit(&task, round, &c).cloned()
            }
            .ok_or_else(|| {
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
            let a = {
                let l = shared.read_ledger()?;
                l.task(&task).ok_or_else(|| unknown_task(&task))?;
                l.attempt(&task, round, i).cloned()
            }
            .ok_or_else(|| {
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
    let r = round_record(&*shared.read_ledger()?, &task, round)?;
    to_value(CandidatesDto {
        task: task.to_base58(),
        round,
        seed: r.seed.map(|s| s.to_base58()),
        candidates: r.candidates.iter().map(|c| c.to_base58()).collect(),
        current_attempt: r.current_attempt,
    })
}

fn get_program_tasks(shared: &Shared, p: Params) -> RpcResult {
    let cfg = p.config(0, &["active_only", "after", "limit"])?;
    let active_only = p.flag(0, &cfg, "active_only", false)?;
    let after = p.cfg_key(0, &cfg, "after")?.map(Hash);
    let limit = p.cfg_limit(0, &cfg, TASKS_PAGE_MAX, TASKS_PAGE_MAX)?;
    let (rows, next) = {
        let l = shared.read_ledger()?;
        let slot = l.slot();
        let page = l.tasks_page(after, limit);
        let rows: Vec<_> = page
            .items
            .into_iter()
            .filter(|(_, r)| !active_only || r.is_active)
            .map(|(id, r)| {
                let round = l.clock(&id).map_or(0, |c| c.round(slot));
                let (stakers, total) = l.stake_totals(&id);
                (id, r, round, stakers, total)
            })
            .collect();
        (rows, page.next)
    };
    to_value(TasksPageDto {
        tasks: rows
            .into_iter()
            .map(
                |(id, r, current_round, stakers, total_stake)| TaskSummaryDto {
                    id: id.to_base58(),
                    name: r.params.name.clone(),
                    manager: r.manager.to_base58(),
                    is_active: r.is_active,
                    closed: r.closed,
                    total_bounty: r.total_bounty,
                    bounty_per_round: r.params.bounty_per_round,
                    round_time: r.params.round_time,
                    current_round,
                    stakers,
                    total_stake,
                },
            )
            .collect(),
        next: next.map(|t| t.to_base58()),
    })
}

fn rejected(kind: &str, code: &str, message: String) -> RpcError {
    crate::metrics::tx_rejected(kind);
    RpcError::new(
        codes::TRANSACTION_REJECTED,
        format!("transaction rejected: {message}"),
    )
    .with_data(json!(TxErrorDto {
        kind: kind.to_string(),
        message,
        code: code.to_string(),
    }))
}

fn tx_rejected(e: &TxError) -> RpcError {
    let dto = convert::tx_error(e);
    rejected(&dto.kind, &dto.code, dto.message)
}

fn decode_rejected(e: &DecodeError) -> RpcError {
    rejected(e.kind(), "decode", e.to_string())
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
                "sendTransaction: param 1 (config) key 'encoding' must be \"base64\" or \"base58\", got {}",
                clip(&other.to_string())
            )))
        }
    };
    // Lengths first: nothing long is ever decoded (base58 decoding is quadratic).
    let bytes = if encoding == "base64" {
        check_len(encoded, TX_BASE64_CHARS_MAX).map_err(|n| {
            RpcError::invalid_params(format!(
                "sendTransaction: param 0 (transaction) is {n} base64 characters; a transaction is at most {} bytes, {TX_BASE64_CHARS_MAX} characters",
                gradual_types::constants::TX_BYTES_MAX
            ))
        })?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| {
                RpcError::invalid_params(format!(
                    "sendTransaction: param 0 (transaction) is not base64: {e}; pass {{\"encoding\":\"base58\"}} for base58"
                ))
            })?
    } else {
        check_len(encoded, TX_BASE58_CHARS_MAX).map_err(|n| {
            RpcError::invalid_params(format!(
                "sendTransaction: param 0 (transaction) is {n} base58 characters, the most is {TX_BASE58_CHARS_MAX} ({TX_BASE58_BYTES_MAX} bytes); send larger transactions as base64"
            ))
        })?;
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
    // The faucet authority's mint pays its fee from the mint (docs/protocol.md *Faucet*).
    if g.fee_roe > 0 && !g.fee_paid_by_mint(&msg.signer, &msg.instruction) {
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
    let seen = shared.read_store()?.tx_status(&id).map_err(internal)?;
    if let Some((slot, result)) = seen {
        if result.as_ref().err().is_none_or(TxError::marks_seen) {
            return Err(rejected(
                "Duplicate",
                "duplicate",
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
                    "duplicate",
                    "transaction is already waiting in the mempool (duplicate signature)".into(),
                ))
            }
            Err(e @ crate::mempool::PushError::SignerQuota { .. }) => {
                return Err(rejected("SignerQuota", "signer_quota", e.to_string()))
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
    let status = shared.read_store()?.tx_status(sig).map_err(internal)?;
    Ok(status.map(|(slot, result)| SignatureStatusDto {
        signature: sig.to_base58(),
        state: TxState::Processed,
        slot: Some(slot),
        err: result.err().as_ref().map(convert::tx_error),
    }))
}

fn get_signature_statuses(shared: &Shared, p: Params) -> RpcResult {
    const E: &str = "an array of base58 signatures";
    let Some(Value::Array(items)) = p.opt(0) else {
        return Err(RpcError::invalid_params(format!(
            "getSignatureStatuses: param 0 (signatures) must be {E}"
        )));
    };
    if items.len() > SIGNATURE_STATUSES_MAX {
        return Err(RpcError::invalid_params(format!(
            "getSignatureStatuses: param 0 (signatures) has {} items, the most is {SIGNATURE_STATUSES_MAX}",
            items.len()
        )));
    }
    // Every item is checked before any is looked up.
    let mut sigs = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let s = it.as_str().ok_or_else(|| {
            RpcError::invalid_params(format!(
                "getSignatureStatuses: signatures[{i}] must be a string"
            ))
        })?;
        check_len(s, SIGNATURE_BASE58_CHARS_MAX).map_err(|n| {
            RpcError::invalid_params(format!(
                "getSignatureStatuses: signatures[{i}] is {n} characters long, the most is {SIGNATURE_BASE58_CHARS_MAX}"
            ))
        })?;
        let sig: Signature = s.parse().map_err(|e: gradual_types::ParseKeyError| {
            RpcError::invalid_params(format!("getSignatureStatuses: signatures[{i}]: {e}"))
        })?;
        sigs.push(sig);
    }
    let mut out = Vec::with_capacity(sigs.len());
    for sig in &sigs {
        out.push(signature_status(shared, sig)?);
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
    // The ledger's per-recipient window and lifetime cap, checked here so a refused airdrop
    // takes no block space (the ledger checks again when the mint lands).
    shared
        .read_ledger()?
        .faucet_check(&to, amount, head.saturating_add(1))
        .map_err(|e| RpcError::new(codes::FAUCET_UNAVAILABLE, e.to_string()))?;
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

async fn wait_for_slot(shared: &Shared, p: Params, deadline: Instant) -> RpcResult {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_bounds_depth_and_counts_batches_before_parsing() {
        assert_eq!(scan(b"{\"a\":1}", 4).unwrap(), Shape { batch: None });
        assert_eq!(scan(b"[]", 4).unwrap(), Shape { batch: Some(0) });
        assert_eq!(scan(b" [ ] ", 4).unwrap(), Shape { batch: Some(0) });
        assert_eq!(
            scan(br#"[{"a":[1,2]}, {"b":"x,]"}, 3]"#, 4).unwrap(),
            Shape { batch: Some(3) }
        );
        // Brackets and escaped quotes inside strings do not count.
        assert_eq!(
            scan(br#"["[[[[[", "\"[[[[", 1]"#, 2).unwrap(),
            Shape { batch: Some(3) }
        );
        let deep = "[".repeat(17) + &"]".repeat(17);
        let e = scan(deep.as_bytes(), JSON_DEPTH_MAX).unwrap_err();
        assert_eq!(e.code, codes::INVALID_REQUEST);
        assert!(e.message.contains("more than 16 deep"), "{}", e.message);
        let ok = "[".repeat(16) + &"]".repeat(16);
        assert!(scan(ok.as_bytes(), JSON_DEPTH_MAX).is_ok());
        // Unbalanced input is left to the parser, never a panic.
        assert!(scan(b"]]]]}}}", 4).is_ok());
    }

    #[test]
    fn ids_up_to_u64_and_bounded_strings() {
        let call = |id: Value| envelope(json!({"jsonrpc": "2.0", "method": "getSlot", "id": id}));
        assert_eq!(call(json!(u64::MAX)).ok().unwrap().id, Id::U64(u64::MAX));
        assert_eq!(call(json!(-5)).ok().unwrap().id, Id::Num(-5));
        assert_eq!(call(json!("x")).ok().unwrap().id, Id::Str("x".into()));
        let long = "x".repeat(ID_CHARS_MAX + 1);
        let e = call(json!(long)).err().unwrap();
        assert_eq!(e.id, Id::Null);
        assert!(e.error.unwrap().message.contains("the most is 128"));
        let e = call(json!(1.5)).err().unwrap();
        assert_eq!(e.error.unwrap().code, codes::INVALID_REQUEST);
        // u64 ids round-trip through the wire type.
        let r: Response =
            serde_json::from_value(json!({"jsonrpc": "2.0", "result": 1, "id": u64::MAX})).unwrap();
        assert_eq!(r.id, Id::U64(u64::MAX));
    }
}
