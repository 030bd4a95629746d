//! The read methods: one bounded page of committed state copied under a read lock, the
//! answer built after the lock is released.

use super::common::{internal, to_value, RpcResult};
use crate::params::{check_len, Params};
use crate::shared::Shared;
use gradual_ledger::page::Page;
use gradual_ledger::query::TaskView;
use gradual_ledger::Ledger;
use gradual_rpc::convert::{self, TaskFlags, TxPage};
use gradual_rpc::dto::*;
use gradual_rpc::limits::*;
use gradual_rpc::{codes, RpcError};
use gradual_types::{Hash, Pubkey, Signature, TaskId};
use serde_json::Value;

fn not_found(msg: String) -> RpcError {
    RpcError::new(codes::NOT_FOUND, msg)
}

fn unknown_task(task: &TaskId) -> RpcError {
    not_found(format!(
        "unknown task {task}; getProgramTasks lists the tasks this chain has"
    ))
}

pub(super) fn get_genesis(shared: &Shared) -> RpcResult {
    to_value(convert::genesis(&shared.genesis, shared.faucet.is_some()))
}

pub(super) fn get_block(shared: &Shared, p: Params) -> RpcResult {
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

pub(super) fn get_blocks(shared: &Shared, p: Params) -> RpcResult {
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

pub(super) fn get_account(shared: &Shared, p: Params) -> RpcResult {
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
                node: pk,
                task: *t,
                amount: *reward,
            });
        }
    }
    to_value(AccountDto {
        pubkey: pk,
        balance,
        stakes,
        pending_rewards,
        next: page.next,
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

pub(super) fn get_task_account_info(shared: &Shared, p: Params) -> RpcResult {
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

pub(super) fn get_task_submission_info(shared: &Shared, p: Params) -> RpcResult {
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
        task,
        round,
        status: record.status.clone(),
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
        next,
    })
}

pub(super) fn get_task_distribution_info(shared: &Shared, p: Params) -> RpcResult {
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
        task,
        round,
        status: record.status.clone(),
        seed: record.seed,
        candidates: record.candidates.clone(),
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

pub(super) fn get_audit_committee(shared: &Shared, p: Params) -> RpcResult {
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
                task,
                round,
                candidate: Some(c),
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
                task,
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

pub(super) fn get_distribution_candidates(shared: &Shared, p: Params) -> RpcResult {
    let task = p.hash(0)?;
    let round = p.u64(1)?;
    let r = round_record(&*shared.read_ledger()?, &task, round)?;
    to_value(CandidatesDto {
        task,
        round,
        seed: r.seed,
        candidates: r.candidates.clone(),
        current_attempt: r.current_attempt,
    })
}

pub(super) fn get_program_tasks(shared: &Shared, p: Params) -> RpcResult {
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
                    id,
                    name: r.params.name.clone(),
                    manager: r.manager,
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
        next,
    })
}

pub(super) fn signature_status(
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
            signature: *sig,
            state: TxState::Pending,
            slot: None,
            err: None,
        }));
    }
    let status = shared.read_store()?.tx_status(sig).map_err(internal)?;
    Ok(status.map(|(slot, result)| SignatureStatusDto {
        signature: *sig,
        state: TxState::Processed,
        slot: Some(slot),
        err: result.err().as_ref().map(convert::tx_error),
    }))
}

pub(super) fn get_signature_statuses(shared: &Shared, p: Params) -> RpcResult {
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
