//! Task accounts: parameters, round terms, stakes, rewards and the task view itself.

use crate::dto::*;
use gradual_ledger::query::{Phase, TaskView};
use gradual_ledger::state::*;
use gradual_types::window::Clock;
use gradual_types::window::Window;
use gradual_types::{Pubkey, Slot, TaskId};

impl From<&(u64, RoundTerms)> for TermsEntryDto {
    fn from((from_round, terms): &(u64, RoundTerms)) -> Self {
        TermsEntryDto {
            from_round: *from_round,
            terms: terms.clone(),
        }
    }
}

impl From<&TermsEntryDto> for (u64, RoundTerms) {
    fn from(e: &TermsEntryDto) -> Self {
        (e.from_round, e.terms.clone())
    }
}

/// `(task, node, stake)`.
impl From<(&TaskId, &Pubkey, &StakeRecord)> for StakeDto {
    fn from((task, node, stake): (&TaskId, &Pubkey, &StakeRecord)) -> Self {
        StakeDto {
            node: *node,
            task: *task,
            stake: stake.clone(),
        }
    }
}

/// `(node, stake)`; the task is the caller's.
impl From<&StakeDto> for (Pubkey, StakeRecord) {
    fn from(s: &StakeDto) -> Self {
        (s.node, s.stake.clone())
    }
}

/// `(task, node, amount)`.
impl From<(&TaskId, &Pubkey, u64)> for RewardDto {
    fn from((task, node, amount): (&TaskId, &Pubkey, u64)) -> Self {
        RewardDto {
            node: *node,
            task: *task,
            amount,
        }
    }
}

/// `(node, amount)`.
impl From<&RewardDto> for (Pubkey, u64) {
    fn from(r: &RewardDto) -> Self {
        (r.node, r.amount)
    }
}

/// `(window, round, closes)`, as [`Phase::open`] lists them.
impl From<&(Window, u64, Slot)> for OpenWindowDto {
    fn from((window, round, closes): &(Window, u64, Slot)) -> Self {
        OpenWindowDto {
            window: *window,
            round: *round,
            closes: *closes,
        }
    }
}

impl From<&OpenWindowDto> for (Window, u64, Slot) {
    fn from(w: &OpenWindowDto) -> Self {
        (w.window, w.round, w.closes)
    }
}

pub fn stake(task: &TaskId, node: &Pubkey, s: &StakeRecord) -> StakeDto {
    (task, node, s).into()
}

/// What to include in a task view (the `getTaskAccountInfo` flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskFlags {
    pub submissions: bool,
    pub distributions: bool,
    pub stakes: bool,
    pub rewards: bool,
}

/// A task account. `rounds` lists are cut at `cap` items each; `next` is the cursor of the
/// next page of stakes and rewards.
pub fn task(
    v: &TaskView,
    slot: u64,
    flags: TaskFlags,
    cap: usize,
    next: Option<&Pubkey>,
) -> TaskDto {
    let r = &v.record;
    TaskDto {
        id: v.id,
        manager: r.manager,
        params: r.params.clone(),
        pending_params: r.pending_params.clone(),
        starting_slot: r.starting_slot,
        total_bounty: r.total_bounty,
        reserved_bounty: r.reserved_bounty,
        is_active: r.is_active,
        closed: r.closed,
        open_rounds: r.open_rounds,
        paid_total: r.paid_total_roe,
        terms_log: r.terms_log.iter().map(TermsEntryDto::from).collect(),
        slot,
        current_round: v.phase.round,
        open_windows: v.phase.open.iter().map(OpenWindowDto::from).collect(),
        stakers: v.stakers,
        total_stake: v.total_stake,
        stakes: v
            .stakes
            .as_ref()
            .map(|s| s.iter().map(|(n, s)| stake(&v.id, n, s)).collect()),
        pending_rewards: v.rewards.as_ref().map(|rw| {
            rw.iter()
                .map(|(n, a)| RewardDto::from((&v.id, n, *a)))
                .collect()
        }),
        rounds: v.rounds.as_ref().map(|rs| {
            rs.iter()
                .map(|rv| super::round(rv, flags.submissions, flags.distributions, cap))
                .collect()
        }),
        next: next.copied(),
    }
}

/// The view back from a task account. The server's bookkeeping of queued draws is not on
/// the wire (zero here); `slot` and `next` are the answer's, not the view's.
impl From<&TaskDto> for TaskView {
    fn from(t: &TaskDto) -> Self {
        let params = t.params.clone();
        TaskView {
            id: t.id,
            clock: Clock::new(t.starting_slot, &params),
            record: TaskRecord {
                manager: t.manager,
                params,
                starting_slot: t.starting_slot,
                total_bounty: t.total_bounty,
                reserved_bounty: t.reserved_bounty,
                is_active: t.is_active,
                closed: t.closed,
                pending_params: t.pending_params.clone(),
                open_rounds: t.open_rounds,
                paid_total_roe: t.paid_total,
                terms_log: t.terms_log.iter().map(<(u64, RoundTerms)>::from).collect(),
                queued_draws: 0,
                queued_draw_seats: 0,
            },
            phase: Phase {
                round: t.current_round,
                open: t
                    .open_windows
                    .iter()
                    .map(<(Window, u64, Slot)>::from)
                    .collect(),
            },
            stakers: t.stakers,
            total_stake: t.total_stake,
            stakes: t
                .stakes
                .as_ref()
                .map(|s| s.iter().map(<(Pubkey, StakeRecord)>::from).collect()),
            rewards: t
                .pending_rewards
                .as_ref()
                .map(|r| r.iter().map(<(Pubkey, u64)>::from).collect()),
            rounds: t.rounds.as_ref().map(|r| {
                r.iter()
                    .map(gradual_ledger::query::RoundView::from)
                    .collect()
            }),
        }
    }
}
