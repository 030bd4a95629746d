//! Read-only views for clients (RPC, CLI, nodes). Nothing here changes state.

use crate::ledger::Ledger;
use crate::state::*;
use crate::window::{Clock, Window};
use gradual_types::{Pubkey, Slot, TaskId};

/// Which heavy parts of a task to include (like the reference RPC's getTaskAccountInfo flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskQuery {
    pub stakes: bool,
    pub rewards: bool,
    /// Per-round data (submissions, audits, distribution) of the retained rounds.
    pub rounds: bool,
}

impl TaskQuery {
    pub const ALL: TaskQuery = TaskQuery {
        stakes: true,
        rewards: true,
        rounds: true,
    };
}

/// Which phase a task's clock is in at a slot, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub round: u64,
    /// Open windows at this slot: (window, round it belongs to, closes at).
    pub open: Vec<(Window, u64, Slot)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub id: TaskId,
    pub record: TaskRecord,
    pub clock: Clock,
    pub phase: Phase,
    pub stakers: u64,
    pub total_stake: u64,
    pub stakes: Option<Vec<(Pubkey, StakeRecord)>>,
    pub rewards: Option<Vec<(Pubkey, u64)>>,
    pub rounds: Option<Vec<RoundView>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundView {
    pub round: u64,
    pub record: RoundRecord,
    pub submissions: Vec<(Pubkey, SubmissionRecord)>,
    pub audits: Vec<(Pubkey, AuditRecord)>,
    pub attempts: Vec<(u16, AttemptRecord)>,
}

impl Ledger {
    pub fn balance(&self, account: &Pubkey) -> u64 {
        self.accounts.get(account).copied().unwrap_or(0)
    }

    pub fn task(&self, task: &TaskId) -> Option<&TaskRecord> {
        self.tasks.get(task)
    }

    pub fn task_ids(&self) -> Vec<TaskId> {
        self.tasks.iter().map(|(id, _)| *id).collect()
    }

    pub fn clock(&self, task: &TaskId) -> Option<Clock> {
        self.tasks.get(task).map(|t| self.task_clock(t))
    }

    /// Which round a task is in at `slot`, and which windows are open.
    pub fn phase(&self, task: &TaskId, slot: Slot) -> Option<Phase> {
        let clock = self.clock(task)?;
        let round = clock.round(slot);
        let mut open = Vec::new();
        for w in [Window::ProofSubmission, Window::ProofAudit] {
            if let Some(r) = round.checked_sub(1) {
                let span = clock.window(w, r, 0);
                if span.contains(slot) {
                    open.push((w, r, span.closes));
                }
            }
        }
        for w in [Window::DistributionSubmission, Window::DistributionAudit] {
            for (&(_, r), rec) in self.rounds.range((*task, 0)..=(*task, u64::MAX)) {
                if rec.status == RoundStatus::Distributing {
                    let span = clock.window(w, r, rec.current_attempt);
                    if span.contains(slot) {
                        open.push((w, r, span.closes));
                    }
                }
            }
        }
        Some(Phase { round, open })
    }

    pub fn stake(&self, task: &TaskId, node: &Pubkey) -> Option<&StakeRecord> {
        self.stakes.get(&(*task, *node))
    }

    pub fn stakes_of_task(&self, task: &TaskId) -> Vec<(Pubkey, StakeRecord)> {
        self.stakes
            .task_nodes(task, None)
            .map(|(n, s)| (n, s.clone()))
            .collect()
    }

    pub fn pending_reward(&self, task: &TaskId, node: &Pubkey) -> u64 {
        self.rewards.get(&(*task, *node)).copied().unwrap_or(0)
    }

    /// Every task where `node` has claimable rewards.
    pub fn rewards_of(&self, node: &Pubkey) -> Vec<(TaskId, u64)> {
        self.rewards
            .iter()
            .filter(|((_, n), _)| n == node)
            .map(|((t, _), r)| (*t, *r))
            .collect()
    }

    pub fn submission(
        &self,
        task: &TaskId,
        round: u64,
        node: &Pubkey,
    ) -> Option<&SubmissionRecord> {
        self.submissions.get(&(*task, round, *node))
    }

    pub fn submissions(&self, task: &TaskId, round: u64) -> Vec<(Pubkey, SubmissionRecord)> {
        self.submissions.round_records(task, round)
    }

    pub fn audit(&self, task: &TaskId, round: u64, candidate: &Pubkey) -> Option<&AuditRecord> {
        self.audits.get(&(*task, round, *candidate))
    }

    pub fn audits(&self, task: &TaskId, round: u64) -> Vec<(Pubkey, AuditRecord)> {
        self.audits.round_records(task, round)
    }

    pub fn round_record(&self, task: &TaskId, round: u64) -> Option<&RoundRecord> {
        self.rounds.get(&(*task, round))
    }

    /// The ranked distribution candidates of a round (empty until its audit window closed).
    pub fn distribution_candidates(&self, task: &TaskId, round: u64) -> Option<&[Pubkey]> {
        self.rounds
            .get(&(*task, round))
            .map(|r| r.candidates.as_slice())
    }

    pub fn attempt(&self, task: &TaskId, round: u64, attempt: u16) -> Option<&AttemptRecord> {
        self.attempts.get(&(*task, round, attempt))
    }

    /// The uploaded entries of a distribution attempt, in chunk order.
    pub fn distribution_list(&self, task: &TaskId, round: u64, attempt: u16) -> Vec<(Pubkey, u64)> {
        self.chunks
            .range((*task, round, attempt, 0)..=(*task, round, attempt, u32::MAX))
            .flat_map(|(_, e)| e.iter().copied())
            .collect()
    }

    pub fn round_view(&self, task: &TaskId, round: u64) -> Option<RoundView> {
        let record = self.rounds.get(&(*task, round))?.clone();
        Some(RoundView {
            round,
            record,
            submissions: self.submissions(task, round),
            audits: self.audits(task, round),
            attempts: self
                .attempts
                .range((*task, round, 0)..=(*task, round, u16::MAX))
                .map(|((_, _, i), a)| (*i, a.clone()))
                .collect(),
        })
    }

    pub fn task_view(&self, task: &TaskId, q: TaskQuery) -> Option<TaskView> {
        let record = self.tasks.get(task)?.clone();
        let clock = self.task_clock(&record);
        let stakes = self.stakes_of_task(task);
        let rounds: Vec<u64> = self
            .rounds
            .range((*task, 0)..=(*task, u64::MAX))
            .map(|((_, r), _)| *r)
            .collect();
        Some(TaskView {
            id: *task,
            phase: self.phase(task, self.slot()).expect("task exists"),
            clock,
            stakers: stakes.len() as u64,
            total_stake: stakes.iter().map(|(_, s)| s.amount).sum(),
            stakes: q.stakes.then_some(stakes),
            rewards: q.rewards.then(|| {
                self.rewards
                    .task_nodes(task, None)
                    .map(|(n, r)| (n, *r))
                    .collect()
            }),
            rounds: q.rounds.then(|| {
                rounds
                    .iter()
                    .filter_map(|r| self.round_view(task, *r))
                    .collect()
            }),
            record,
        })
    }

    /// Work waiting in the settlement queue (SPEC §1 [v2] *Bounded settlement*) as
    /// `(due slot, task, work)`: committee draws and end-of-window steps, the ready ones
    /// first (by task, in the order each task's work runs), then the timer's by due slot.
    pub fn queued_work(&self) -> Vec<(Slot, TaskId, Work)> {
        let ready = self.ready.iter().map(|((_, t, due, w), _)| (*due, *t, *w));
        let timer = self.queue.iter().map(|(k, _)| *k);
        ready.chain(timer).collect()
    }

    /// Number of records in the state (for measurements).
    pub fn record_count(&self) -> usize {
        self.tables().iter().map(|t| t.records()).sum()
    }
}
