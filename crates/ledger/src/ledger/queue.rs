//! The settlement queue (SPEC §1 [v2] *Bounded settlement*): timer, ready work by lane and
//! task, the draw turn and the task turn, and the per-block budget.

use super::*;

impl Ledger {
    // ----- the settlement queue (SPEC §1 [v2] *Bounded settlement*) ---------------------------

    /// Queue `work` of `task`, due at `slot`: in the timer while it is not due, else at once
    /// among its task's ready work.
    pub(crate) fn schedule_at(&mut self, slot: Slot, task: TaskId, work: Work) {
        let queued = self.is_queued(slot, &task, &work);
        if let Some(seats) = self.draw_seats(&task, &work).filter(|_| !queued) {
            if let Some(t) = self.tasks.get_mut(&task) {
                t.queued_draws = t.queued_draws.saturating_add(1);
                t.queued_draw_seats = t.queued_draw_seats.saturating_add(seats);
            }
        }
        if slot > self.slot {
            self.queue.insert((slot, task, work), ());
        } else {
            self.ready.insert((work.lane(), task, slot, work), ());
        }
    }

    pub(super) fn is_queued(&self, slot: Slot, task: &TaskId, work: &Work) -> bool {
        self.queue.contains(&(slot, *task, *work))
            || self.ready.contains(&(work.lane(), *task, slot, *work))
    }

    /// The seats a queued committee draw will fill (its round's `committee_size`); `None`
    /// for other work. The same before and after the draw waits: round terms are fixed.
    pub(super) fn draw_seats(&self, task: &TaskId, work: &Work) -> Option<u64> {
        let round = match *work {
            Work::DrawAudit { round, .. } | Work::DrawDistribution { round, .. } => round,
            _ => return None,
        };
        let k = self
            .rounds
            .get(&(*task, round))
            .map_or(0, |r| u64::from(r.terms.committee_size));
        Some(k)
    }

    /// The slot by which one more committee draw of `task` with `seats` seats, queued now,
    /// is drawn when no other task is drawing: the draw turn gives draws their share of
    /// every block whatever else is due ([`Ledger::run_queue`]), and the task's queued draws
    /// come in order, each priced exactly as [`Ledger::step_cost`] prices it (SPEC §5
    /// *Bounded work*). Only the task's own backlog counts, so no task can get another's raises
    /// refused; while other tasks draw too they share the turn and a draw may come later
    /// than this. Deterministic.
    pub(crate) fn next_draw_slot(&self, task: &TaskId, seats: u64) -> Slot {
        let (queued, queued_seats) = self
            .tasks
            .get(task)
            .map_or((0, 0), |t| (t.queued_draws, t.queued_draw_seats));
        let cost = draws_cost(queued.saturating_add(1), queued_seats.saturating_add(seats));
        // The draw turn's share of every block, whatever else is due, less what it may leave
        // unused: it stops at the first draw that does not fit, at most one draw's cost.
        let share = draw_turn_share();
        let waste = draws_cost(1, u64::from(COMMITTEE_SIZE_MAX));
        let usable = Cost::new(share.records - waste.records, share.bytes - waste.bytes);
        let blocks = cost
            .records
            .div_ceil(usable.records)
            .max(cost.bytes.div_ceil(usable.bytes))
            .max(1);
        self.slot.saturating_add(blocks)
    }

    /// Run the block's share of the settlement queue (SPEC §1 [v2] *Bounded settlement*):
    /// move the work that came due from the timer to the ready queue (at most
    /// [`PROMOTIONS_PER_BLOCK`], [`PROMOTIONS_WITH_DRAWS`] while draws wait, earliest
    /// first); then the *draw turn* serves committee
    /// draws round-robin across tasks, up to [`DRAW_SHARE_RECORDS`] and
    /// [`DRAW_SHARE_BYTES`] (committees have `V` slots to vote: no number of closing tasks
    /// can take that share); then the *task turn* serves the tasks with other ready work
    /// round-robin, one step each (window closes first, then bulk work), while the budget
    /// lasts. What does not fit waits for the next block, which goes on where the turns
    /// stopped. Each step's cost is bounded before it runs ([`Ledger::step_cost`]), and
    /// promotions, the draw share and the largest step fit in one budget (asserted in
    /// `constants`): every block runs at least one task step, so nothing stalls, and no
    /// block exceeds the budget.
    pub(super) fn run_queue(&mut self, slot: Slot) {
        let mut budget = Budget::full();
        // No draw is scheduled while the queue runs (only transactions schedule them), so
        // whether the draw turn has work is known now.
        let draws_waiting = self.next_in_lane(Lane::Draw, None).is_some();
        let promotions = if draws_waiting {
            PROMOTIONS_WITH_DRAWS
        } else {
            PROMOTIONS_PER_BLOCK
        };
        self.promote_due(slot, promotions, &mut budget);
        let start = (self.meta().queue_cursor, self.meta().draw_cursor);
        let (mut tasks, mut draws) = start;
        self.draw_turn(&mut budget, &mut draws);
        self.task_turn(&mut budget, &mut tasks);
        if (tasks, draws) != start {
            let meta = self.meta.get_mut(&()).expect("meta");
            meta.queue_cursor = tasks;
            meta.draw_cursor = draws;
        }
    }

    /// Committee draws, one per drawing task in turn, within the draw share.
    pub(super) fn draw_turn(&mut self, budget: &mut Budget, cursor: &mut Option<TaskId>) {
        let mut share = Budget {
            left: draw_turn_share(),
        };
        while let Some(key) = self.next_in_lane(Lane::Draw, *cursor) {
            let cost = self.step_cost(&key.1, &key.3);
            if !share.fits(cost) || !budget.fits(cost) {
                break;
            }
            share.take(cost);
            *cursor = Some(key.1);
            self.run_step(key, cost, budget);
        }
    }

    /// Every task with ready work other than draws in turn, one step each, while the budget
    /// lasts. Its first step always fits (see [`Ledger::run_queue`]).
    pub(super) fn task_turn(&mut self, budget: &mut Budget, cursor: &mut Option<TaskId>) {
        while let Some(key) = self.next_task_work(*cursor) {
            let cost = self.step_cost(&key.1, &key.3);
            if !budget.fits(cost) {
                break;
            }
            *cursor = Some(key.1);
            self.run_step(key, cost, budget);
        }
    }

    pub(super) fn run_step(&mut self, key: ReadyKey, cost: Cost, budget: &mut Budget) {
        let (_, task, due, work) = key;
        budget.take(cost);
        self.ready.remove(&key);
        if let Some(seats) = self.draw_seats(&task, &work) {
            if let Some(t) = self.tasks.get_mut(&task) {
                t.queued_draws = t.queued_draws.saturating_sub(1);
                t.queued_draw_seats = t.queued_draw_seats.saturating_sub(seats);
            }
        }
        self.run_work(due, task, work, budget);
    }

    /// Move timer entries due at or before `slot` to the ready queue, in due order, at most
    /// `max` of them.
    pub(super) fn promote_due(&mut self, slot: Slot, max: u64, budget: &mut Budget) {
        for _ in 0..max {
            let Some(&(due, task, work)) = self.queue.first_key() else {
                break;
            };
            if due > slot {
                break;
            }
            self.queue.remove(&(due, task, work));
            self.ready.insert((work.lane(), task, due, work), ());
            budget.take(PROMOTION_COST);
        }
    }

    /// The first ready work in `lane` of the first task after `after` (or of any task).
    pub(super) fn first_in_lane(&self, lane: Lane, after: Option<TaskId>) -> Option<ReadyKey> {
        let lo = match after {
            // Every key of task `t` in `lane` is below this (`ApplyUpdate` is the largest work).
            Some(t) => Bound::Excluded((lane, t, Slot::MAX, Work::ApplyUpdate)),
            None => Bound::Included((lane, Hash([0; 32]), 0, WORK_MIN)),
        };
        let hi = Bound::Included((lane, Hash([0xff; 32]), Slot::MAX, Work::ApplyUpdate));
        self.ready.range((lo, hi)).next().map(|(k, _)| *k)
    }

    /// Round-robin within a lane: the first work of the next task after `cursor` that has
    /// work in `lane`, wrapping to the first.
    pub(super) fn next_in_lane(&self, lane: Lane, cursor: Option<TaskId>) -> Option<ReadyKey> {
        self.first_in_lane(lane, cursor)
            .or_else(|| cursor.and_then(|_| self.first_in_lane(lane, None)))
    }

    /// Round-robin across tasks: the next task after `cursor` with ready work in a lane of
    /// the task turn (wrapping), and its first work by lane. Draws have their own turn.
    pub(super) fn next_task_work(&self, cursor: Option<TaskId>) -> Option<ReadyKey> {
        let next_task = |after: Option<TaskId>| {
            TASK_TURN_LANES
                .iter()
                .filter_map(|l| self.first_in_lane(*l, after).map(|k| k.1))
                .min()
        };
        let task = next_task(cursor).or_else(|| cursor.and_then(|_| next_task(None)))?;
        TASK_TURN_LANES.iter().find_map(|l| {
            let lo = (*l, task, 0, WORK_MIN);
            let hi = (*l, task, Slot::MAX, Work::ApplyUpdate);
            self.ready.range(lo..=hi).next().map(|(k, _)| *k)
        })
    }

    pub(super) fn run_work(&mut self, due: Slot, task: TaskId, work: Work, budget: &mut Budget) {
        match work {
            Work::DrawAudit { round, candidate } => self.draw_audit(&task, round, candidate),
            Work::DrawDistribution { round, attempt } => {
                self.draw_distribution(&task, round, attempt)
            }
            Work::DistributionClose { round, attempt } => {
                self.close_distribution(due, &task, round, attempt)
            }
            Work::Payout {
                round,
                attempt,
                next_chunk,
            } => self.pay_chunk(due, &task, round, attempt, next_chunk),
            Work::ProofAuditClose { round, after } => {
                self.close_proof_audit(due, &task, round, after)
            }
            Work::Settle {
                round,
                next_attempt,
            } => self.settle_step(due, &task, round, next_attempt),
            Work::Prune { round } => {
                // Pruning takes what the budget has left, up to its step maximum: its cost
                // paid for its first record (and the round record); the rest is charged as
                // it is used.
                let first = self.first_prune_bytes(&task, round);
                let extra = Cost::new(
                    (PRUNE_RECORDS_PER_STEP - 1).min(budget.left.records),
                    PRUNE_BYTES_PER_STEP
                        .saturating_sub(first)
                        .min(budget.left.bytes),
                );
                let allowance = Cost::new(1 + extra.records, first + extra.bytes);
                let used = self.prune(due, &task, round, allowance);
                budget.take(Cost::new(
                    used.records.saturating_sub(1),
                    used.bytes.saturating_sub(first),
                ));
            }
            Work::ApplyUpdate => self.apply_update(&task, due),
        }
    }

    /// An upper bound of the records and bytes (keys and values, encoded) one step of `work`
    /// writes, computed before it runs from the records it will touch. The step's own queue
    /// entry (removed, perhaps re-queued with its progress) and what it queues next are in.
    pub(super) fn step_cost(&self, task_id: &TaskId, work: &Work) -> Cost {
        let k = |round: u64| {
            self.rounds
                .get(&(*task_id, round))
                .map_or(0, |r| u64::from(r.terms.committee_size))
        };
        let task = self.tasks.get(task_id).map_or(0, encoded_len);
        let round_rec = |round: u64| self.rounds.get(&(*task_id, round)).map_or(0, encoded_len);
        let attempt_rec = |round: u64, attempt: u16| {
            self.attempts
                .get(&(*task_id, round, attempt))
                .map_or(0, encoded_len)
        };
        let base = Cost::new(QUEUE_RECORDS_PER_STEP, QUEUE_BYTES_PER_STEP);
        let step = match *work {
            // Priced by the committee size alone, so the raise door can price its backlog
            // ([`Ledger::next_draw_slot`]).
            Work::DrawAudit { round, .. } => return draws_cost(1, k(round)),
            // A list collects no votes before its draw (only an audit's racing raisers do).
            Work::DrawDistribution { round, .. } => {
                let audit_price = draws_cost(1, k(round));
                return Cost::new(
                    audit_price.records,
                    audit_price.bytes - VOTE_BYTES * k(round),
                );
            }
            // The attempt, task and round records, a missed-turn slash (a stake), the next
            // attempt.
            Work::DistributionClose { round, attempt } => Cost::new(
                5,
                2 * attempt_rec(round, attempt) + task + round_rec(round) + SMALL_RECORD_BYTES,
            ),
            // One reward per entry of the chunk, the task, round and attempt records.
            Work::Payout {
                round,
                attempt,
                next_chunk,
            } => {
                let entries = self
                    .chunks
                    .get(&(*task_id, round, attempt, next_chunk))
                    .map_or(0, |c| c.len() as u64);
                Cost::new(
                    entries + 3,
                    entries * REWARD_RECORD_BYTES
                        + task
                        + round_rec(round)
                        + attempt_rec(round, attempt),
                )
            }
            // Per audit: the audit, the submission, the slashed stake, the accuser's and each
            // seat's reward. Then the ranking: the round record and the first attempt.
            Work::ProofAuditClose { round, after } => {
                let lo = match after {
                    Some(p) => Bound::Excluded((*task_id, round, p)),
                    None => Bound::Included((*task_id, round, LO)),
                };
                let hi = Bound::Included((*task_id, round, HI));
                let mut c = Cost::new(2, 2 * round_rec(round) + SMALL_RECORD_BYTES);
                for (_, a) in self.audits.range((lo, hi)).take(AUDITS_PER_STEP as usize) {
                    let seats = k(round) + 3;
                    c = c.plus(Cost::new(
                        seats + 1,
                        encoded_len(a) + seats * SMALL_RECORD_BYTES,
                    ));
                }
                c
            }
            // One attempt: its submitter's or its wrong voters' stakes, the rewards of the
            // seats paid, the unlocked stakes (at most every seat twice), the attempt; the
            // last step the task record and the prune.
            Work::Settle {
                round,
                next_attempt,
            } => {
                let seats = 2 * k(round) + 3;
                Cost::new(
                    seats + 2,
                    seats * SMALL_RECORD_BYTES + attempt_rec(round, next_attempt) + task,
                )
            }
            // One record of any size and the round record; what else the step prunes is
            // charged as it goes (`run_work`).
            Work::Prune { round } => {
                Cost::new(2, self.first_prune_bytes(task_id, round) + round_rec(round))
            }
            Work::ApplyUpdate => Cost::new(1, 2 * task),
        };
        // Keys: every record written carries its key too.
        base.plus(Cost::new(
            step.records,
            step.bytes + step.records * KEY_BYTES_MAX,
        ))
    }
}

/// Cost bounds of settlement steps (SPEC §1 [v2] *Bounded settlement*), in encoded bytes of
/// key and value. A stake or submission record with its key stays under 1 KiB (a URL of
/// `URL_BYTES_MAX`, a proof of `PROOF_BYTES_MAX`, a few history entries).
pub(super) const SMALL_RECORD_BYTES: u64 = 1024;
/// A pending-rewards record: key `(task, node)` and a u64.
pub(super) const REWARD_RECORD_BYTES: u64 = 32 + 32 + 8;
/// One committee seat in a record: a node and its seat count.
pub(super) const SEAT_BYTES: u64 = 32 + 2;
/// The longest record key: a queue key `(slot, task, Work)` of 8 + 32 + 42 bytes.
pub(super) const KEY_BYTES_MAX: u64 = 96;
/// Queue entries a step removes and adds (its own, a continuation or the next work).
pub(super) const QUEUE_RECORDS_PER_STEP: u64 = 2;
pub(super) const QUEUE_BYTES_PER_STEP: u64 = 2 * 128;
/// One vote in a record: a node and its verdict.
pub(super) const VOTE_BYTES: u64 = 32 + 1;
/// What the draw turn may use of a block.
pub(super) fn draw_turn_share() -> Cost {
    Cost::new(DRAW_SHARE_RECORDS, DRAW_SHARE_BYTES)
}

/// The lanes the task turn serves, in a task's order (draws have their own turn).
pub(super) const TASK_TURN_LANES: [Lane; 2] = [Lane::Window, Lane::Bulk];

/// The smallest `Work` (a key bound).
pub(super) const WORK_MIN: Work = Work::DrawAudit {
    round: 0,
    candidate: LO,
};

/// Moving one entry from the timer to the ready queue: a key removed, a key written.
pub(super) const PROMOTION_COST: Cost = Cost {
    records: 2,
    bytes: 2 * KEY_BYTES_MAX,
};

/// What `draws` committee draws filling `seats` seats in all write, queue entries and keys
/// included: each writes its audit or attempt record (at most [`SMALL_RECORD_BYTES`]
/// without seats and votes) with the committee, and keeps at most one vote per seat holder
/// (race votes of nodes without a seat are dropped). One price for the step budget and the
/// raise door's backlog estimate (which prices a queued list's draw as an audit's, higher).
pub(super) fn draws_cost(draws: u64, seats: u64) -> Cost {
    Cost::new(
        draws.saturating_mul(QUEUE_RECORDS_PER_STEP + 1),
        draws
            .saturating_mul(QUEUE_BYTES_PER_STEP + SMALL_RECORD_BYTES + KEY_BYTES_MAX)
            .saturating_add(seats.saturating_mul(SEAT_BYTES + VOTE_BYTES)),
    )
}

/// Records and bytes a settlement step may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cost {
    pub(super) records: u64,
    pub(super) bytes: u64,
}

impl Cost {
    pub(super) fn new(records: u64, bytes: u64) -> Cost {
        Cost { records, bytes }
    }

    /// `limit` covers `self` (this is the smaller or equal cost).
    pub(super) fn fits_within(self, limit: Cost) -> bool {
        self.records <= limit.records && self.bytes <= limit.bytes
    }

    pub(super) fn plus(self, o: Cost) -> Cost {
        Cost::new(
            self.records.saturating_add(o.records),
            self.bytes.saturating_add(o.bytes),
        )
    }
}

/// What is left of a block's settlement budget.
pub(super) struct Budget {
    left: Cost,
}

impl Budget {
    pub(super) fn full() -> Budget {
        Budget {
            left: Cost::new(SETTLEMENT_RECORDS_PER_BLOCK, SETTLEMENT_BYTES_PER_BLOCK),
        }
    }

    pub(super) fn fits(&self, c: Cost) -> bool {
        c.fits_within(self.left)
    }

    pub(super) fn take(&mut self, c: Cost) {
        self.left.records = self.left.records.saturating_sub(c.records);
        self.left.bytes = self.left.bytes.saturating_sub(c.bytes);
    }
}
