//! The node's [`LedgerView`]: a snapshot of what the scheduler reads, fetched over RPC once
//! per new head slot (one `getTaskAccountInfo` with every flag per task, one `getBalance`),
//! plus distribution lists fetched only when a committee seat needs them.
//!
//! The RPC answers are typed DTOs; `gradual_rpc::convert` turns them back into the ledger's
//! records (the same code the validator encodes with). A malformed answer fails when it is
//! read (the driver keeps the previous snapshot and logs why), never a panic.

use gradual_client::{Client, ClientError, TaskInfoFlags};
use gradual_ledger::query::TaskView;
use gradual_ledger::state::*;
use gradual_node_proto::{LedgerView, TaskInfo};
use gradual_rpc::dto::*;
use gradual_types::{Pubkey, Slot, TaskId, TaskParams};
use std::collections::BTreeMap;
use std::rc::Rc;

/// Why a snapshot could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewError {
    #[error("{0}")]
    Client(#[from] ClientError),
}

/// One round as the scheduler reads it.
#[derive(Debug, Clone, Default)]
pub struct RoundSnap {
    pub record: Option<RoundRecord>,
    /// Sorted by node.
    pub submissions: BTreeMap<Pubkey, SubmissionRecord>,
    pub audits: BTreeMap<Pubkey, AuditRecord>,
    pub attempts: BTreeMap<u16, AttemptRecord>,
}

/// One task as the scheduler reads it.
#[derive(Debug, Clone)]
pub struct TaskSnap {
    pub info: TaskInfo,
    pub dto_slot: Slot,
    pub current_round: u64,
    pub stakes: BTreeMap<Pubkey, StakeRecord>,
    pub rewards: BTreeMap<Pubkey, u64>,
    pub rounds: BTreeMap<u64, RoundSnap>,
    /// Parameters of the manager's `UpdateTask`, waiting for the next round.
    pub pending_params: Option<TaskParams>,
    /// Uploaded lists, fetched on demand (`(round, attempt)`).
    pub lists: BTreeMap<(u64, u16), Vec<(Pubkey, u64)>>,
}

impl TaskSnap {
    pub fn from_dto(t: &TaskDto) -> TaskSnap {
        let v = TaskView::from(t);
        let pending_params = v.record.pending_params.clone();
        let info = TaskInfo {
            clock: v.clock,
            params: v.record.params,
            is_active: v.record.is_active,
            closed: v.record.closed,
            available_bounty: v
                .record
                .total_bounty
                .saturating_sub(v.record.reserved_bounty),
            terms_log: v.record.terms_log,
        };
        let rounds = v
            .rounds
            .into_iter()
            .flatten()
            .map(|r| {
                let snap = RoundSnap {
                    record: Some(r.record),
                    submissions: r.submissions.into_iter().collect(),
                    audits: r.audits.into_iter().collect(),
                    attempts: r.attempts.into_iter().collect(),
                };
                (r.round, snap)
            })
            .collect();
        TaskSnap {
            info,
            dto_slot: t.slot,
            current_round: t.current_round,
            stakes: v.stakes.into_iter().flatten().collect(),
            rewards: v.rewards.into_iter().flatten().collect(),
            rounds,
            pending_params,
            lists: BTreeMap::new(),
        }
    }
}

/// What the scheduler reads, as of one slot. Cheap to query; built by [`Snapshot::fetch`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub slot: Slot,
    /// The chain's slot length (genesis): it sets each task's vote window.
    pub slot_ms: u64,
    /// How long a transaction stays valid (genesis `tx_max_age_slots`).
    pub tx_max_age_slots: u64,
    pub balance: u64,
    pub tasks: BTreeMap<TaskId, TaskSnap>,
}

impl Snapshot {
    /// Fetch every task in `tasks` (missing ones are left out) and the node's balance.
    pub async fn fetch(
        client: &Client,
        me: &Pubkey,
        tasks: &[TaskId],
    ) -> Result<Snapshot, ViewError> {
        let mut out = Snapshot {
            slot: Slot::MAX,
            ..Snapshot::default()
        };
        for id in tasks {
            match client.get_task_account_info(id, TaskInfoFlags::ALL).await {
                Ok(dto) => {
                    let snap = TaskSnap::from_dto(&dto);
                    out.slot = out.slot.min(snap.dto_slot);
                    out.tasks.insert(*id, snap);
                }
                Err(e)
                    if e.rpc_error()
                        .is_some_and(|r| r.code == gradual_rpc::codes::NOT_FOUND) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if out.slot == Slot::MAX {
            out.slot = client.get_slot().await?;
        }
        out.balance = client.get_balance(me).await?;
        let genesis = client.genesis().await?;
        out.slot_ms = genesis.slot_ms;
        out.tx_max_age_slots = genesis.tx_max_age_slots;
        Ok(out)
    }

    /// Fetch the uploaded list of `(round, attempt)` into the snapshot (for a committee check).
    pub async fn fetch_list(
        &mut self,
        client: &Client,
        task: &TaskId,
        round: u64,
        attempt: u16,
    ) -> Result<(), ViewError> {
        let info = client.get_task_distribution_info(task, round).await?;
        let Some(a) = info.attempts.iter().find(|a| a.attempt == attempt) else {
            return Ok(());
        };
        let mut list: Vec<(Pubkey, u64)> = a.entries.iter().flatten().map(Into::into).collect();
        list.sort_unstable_by_key(|(n, _)| *n);
        if let Some(t) = self.tasks.get_mut(task) {
            t.lists.insert((round, attempt), list);
        }
        Ok(())
    }

    fn round(&self, task: &TaskId, round: u64) -> Option<&RoundSnap> {
        self.tasks.get(task)?.rounds.get(&round)
    }
}

impl LedgerView for Snapshot {
    fn slot(&self) -> Slot {
        self.slot
    }

    fn slot_ms(&self) -> u64 {
        self.slot_ms
    }

    fn tx_max_age_slots(&self) -> u64 {
        self.tx_max_age_slots
    }

    fn task(&self, task: &TaskId) -> Option<TaskInfo> {
        self.tasks.get(task).map(|t| t.info.clone())
    }

    fn stake(&self, task: &TaskId, node: &Pubkey) -> Option<StakeRecord> {
        self.tasks.get(task)?.stakes.get(node).cloned()
    }

    fn submission(&self, task: &TaskId, round: u64, node: &Pubkey) -> Option<SubmissionRecord> {
        self.round(task, round)?.submissions.get(node).cloned()
    }

    fn submitters(&self, task: &TaskId, round: u64) -> Rc<Vec<(Pubkey, bool)>> {
        let list = self
            .round(task, round)
            .map(|r| r.submissions.iter().map(|(n, s)| (*n, s.voided)).collect())
            .unwrap_or_default();
        Rc::new(list)
    }

    fn audited(&self, task: &TaskId, round: u64) -> Rc<Vec<Pubkey>> {
        Rc::new(
            self.round(task, round)
                .map(|r| r.audits.keys().copied().collect())
                .unwrap_or_default(),
        )
    }

    fn audit(&self, task: &TaskId, round: u64, candidate: &Pubkey) -> Option<AuditRecord> {
        self.round(task, round)?.audits.get(candidate).cloned()
    }

    fn round_record(&self, task: &TaskId, round: u64) -> Option<RoundRecord> {
        self.round(task, round)?.record.clone()
    }

    fn attempt(&self, task: &TaskId, round: u64, attempt: u16) -> Option<AttemptRecord> {
        self.round(task, round)?.attempts.get(&attempt).cloned()
    }

    fn distribution_list(&self, task: &TaskId, round: u64, attempt: u16) -> Vec<(Pubkey, u64)> {
        self.tasks
            .get(task)
            .and_then(|t| t.lists.get(&(round, attempt)).cloned())
            .unwrap_or_default()
    }

    fn pending_reward(&self, task: &TaskId, node: &Pubkey) -> u64 {
        self.tasks
            .get(task)
            .and_then(|t| t.rewards.get(node).copied())
            .unwrap_or(0)
    }

    fn balance(&self, _node: &Pubkey) -> u64 {
        self.balance
    }
}
