//! Committee draws (SPEC §5, §6) from kept stake pools.

use super::*;
use crate::committee::committee_of;

impl Ledger {
    // ----- committees -----------------------------------------------------------------------

    /// Nodes eligible for seats in a draw whose weights are taken at the start of `round`
    /// (SPEC §5 *Committee weights*): staked at least `minimum` by then, no unstake
    /// requested before it; weight = stake at that round's start.
    pub fn eligible_stakers(&self, task: &TaskId, round: u64, minimum: u64) -> Vec<(Pubkey, u64)> {
        self.stakes
            .range((*task, LO)..=(*task, HI))
            .filter_map(|((_, n), s)| s.eligible_weight(round, minimum).map(|w| (*n, w)))
            .collect()
    }

    /// Draw `terms.committee_size` seats from the task's pool weighted at the start of
    /// `weight_round`, minus `exclude` (SPEC §5: O(K log stakers) per draw).
    ///
    /// The pool (prefix sums over the eligible stakes, [`StakePool`]) is built once per task
    /// and round and kept across blocks: draws happen only while their voting window is open,
    /// so their weights are those at the start of the *current* round, and those cannot
    /// change during the round (a change records the amount at the round's start first; a
    /// stake created in the round weighs 0; an unstake counts from the next round; only a
    /// node unstaked before the round, which is not eligible, can withdraw). The kept pool
    /// is therefore exactly what a fresh scan gives, so it is a function of the state, and a
    /// restarted ledger rebuilds the same one; `paranoid` checks this on every draw.
    pub(super) fn draw(
        &mut self,
        task_id: &TaskId,
        weight_round: u64,
        terms: &RoundTerms,
        seed: Hash,
        exclude: &[Pubkey],
    ) -> Committee {
        let scan = |l: &Ledger| {
            StakePool::new(&l.eligible_stakers(task_id, weight_round, terms.minimum_stake))
        };
        let current = self.slot_round(task_id);
        let seats = if weight_round == current {
            let key = (*task_id, weight_round, terms.minimum_stake);
            if !self.pools.contains_key(&key) {
                // Pools of past rounds are dead; the bound keeps memory in check.
                self.pools
                    .retain(|(t, r, _), _| t != task_id || *r >= current);
                if self.pools.len() >= POOLS_KEPT_MAX {
                    self.pools.clear();
                }
                let pool = scan(self);
                self.pools.insert(key, pool);
                self.pool_builds += 1;
            }
            if self.paranoid {
                assert!(
                    self.pools[&key] == scan(self),
                    "kept stake pool of task {task_id} round {weight_round} differs from the stakes"
                );
            }
            self.pools[&key].draw(&seed, terms.committee_size, exclude)
        } else {
            self.pool_builds += 1;
            scan(self).draw(&seed, terms.committee_size, exclude)
        };
        committee_of(seed, terms.committee_size, seats)
    }

    /// Draw the committee of the audit raised against `candidate` (SPEC §5). Only while it
    /// can still vote: before the audit window closes.
    pub(super) fn draw_audit(&mut self, task_id: &TaskId, round: u64, candidate: Pubkey) {
        let key = (*task_id, round, candidate);
        let (Some((clock, rec)), Some(audit)) =
            (self.round_clock(task_id, round), self.audits.get(&key))
        else {
            return;
        };
        let w = clock.window(Window::ProofAudit, round, 0);
        if self.slot >= w.closes {
            return;
        }
        let terms = rec.terms.clone();
        let (seed, accuser) = (audit.seed, audit.accuser);
        let committee = self.draw(
            task_id,
            clock.round(w.opens),
            &terms,
            seed,
            &[candidate, accuser],
        );
        let audit = self.audits.get_mut(&key).expect("checked");
        // Raises that lost a race to the accuser were kept as votes; they count for seats.
        audit.votes.retain(|(n, _)| committee.seats_of(n) > 0);
        audit.committee = Some(committee);
    }

    /// Draw the committee of a submitted list (SPEC §6): only with at least V slots of its
    /// audit window left (acceptance needs a committee that had time to vote; the validator
    /// may have been down since the submission, or the queue backed up).
    pub(super) fn draw_distribution(&mut self, task_id: &TaskId, round: u64, attempt: u16) {
        let key = (*task_id, round, attempt);
        let (Some(task), Some(rec), Some(att)) = (
            self.tasks.get(task_id),
            self.rounds.get(&(*task_id, round)),
            self.attempts.get(&key),
        ) else {
            return;
        };
        let Some(list) = &att.list else {
            return;
        };
        let clock = self.task_clock(task);
        let v = vote_window_slots(self.genesis.slot_ms, task.params.audit_window);
        let w = clock.window(Window::DistributionAudit, round, attempt);
        if self.slot.saturating_add(v) > w.closes {
            return;
        }
        let terms = rec.terms.clone();
        let (seed, submitter) = (list.seed, att.submitter);
        let committee = self.draw(task_id, clock.round(w.opens), &terms, seed, &[submitter]);
        self.attempts.get_mut(&key).expect("checked").committee = Some(committee);
    }
}

/// Stake pools kept for committee draws at most (one per task drawing in its current round).
pub(super) const POOLS_KEPT_MAX: usize = 4_096;
