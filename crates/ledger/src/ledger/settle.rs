//! End-of-window work: verdicts, candidate ranking, list close and payout, settlement and
//! vindication, slashing, pruning.

use super::queue::Cost;
use super::*;
use crate::committee::{seats_voting, tally};

impl Ledger {
    // ----- end-of-window work -----------------------------------------------------------------

    /// Pending parameters take effect at `start(r)`, before round r's terms are fixed.
    pub(super) fn apply_update(&mut self, task_id: &TaskId, due: Slot) {
        let Some(t) = self.tasks.get(task_id) else {
            return;
        };
        let round = self.task_clock(t).round(due);
        let t = self.tasks.get_mut(task_id).expect("checked");
        if let Some(p) = t.pending_params.take() {
            t.params = p;
        }
        let current = self.slot_round(task_id);
        record_terms(
            self.tasks.get_mut(task_id).expect("checked"),
            round,
            current,
        );
    }

    /// Round of the block being applied, on a task's clock.
    pub(crate) fn slot_round(&self, task_id: &TaskId) -> u64 {
        self.tasks
            .get(task_id)
            .map_or(0, |t| self.task_clock(t).round(self.slot))
    }

    /// Proof audit window of `round` closed: verdicts (SPEC §5), a few audits per step, then
    /// rank candidates (§6) in the last step.
    pub(super) fn close_proof_audit(
        &mut self,
        due: Slot,
        task_id: &TaskId,
        round: u64,
        after: Option<Pubkey>,
    ) {
        let from = match after {
            Some(p) => Bound::Excluded((*task_id, round, p)),
            None => Bound::Included((*task_id, round, LO)),
        };
        let to = Bound::Included((*task_id, round, HI));
        let step = AUDITS_PER_STEP as usize;
        let audit_keys: Vec<NodeRoundKey> = self
            .audits
            .range((from, to))
            .take(step + 1)
            .map(|(k, _)| *k)
            .collect();
        for key in audit_keys.iter().take(step) {
            self.resolve_audit(*key);
        }
        if audit_keys.len() > step {
            let after = Some(audit_keys[step - 1].2);
            self.schedule_at(due, *task_id, Work::ProofAuditClose { round, after });
            return;
        }
        let lo = (*task_id, round, LO);
        let hi = (*task_id, round, HI);
        let Some((clock, rec)) = self.round_clock(task_id, round) else {
            return;
        };
        let terms = rec.terms.clone();
        let attempts = usize::from(terms.allowed_failed_distributions) + 1;
        // Ranking weights: stakes at the start of the round of the audit window just closed.
        let weight_round = clock.round(clock.window(Window::ProofAudit, round, 0).opens);
        // "Also submitted" means a proof that stood: a voided proof earns no preference.
        let submitted = |l: &Ledger, r: u64, n: &Pubkey| {
            l.submissions
                .get(&(*task_id, r, *n))
                .is_some_and(|s| !s.voided)
        };
        let candidates: Vec<(Pubkey, u8, u64)> = self
            .submissions
            .range(lo..=hi)
            .filter(|(_, s)| !s.voided)
            .map(|((_, _, n), _)| {
                let steady = (round < 1 || submitted(self, round - 1, n))
                    && (round < 2 || submitted(self, round - 2, n));
                let weight = self
                    .stakes
                    .get(&(*task_id, *n))
                    .map_or(0, |s| s.amount_at_start(weight_round));
                (*n, if steady { 0 } else { 1 }, weight)
            })
            .collect();
        // seed_r: the randomness of this block, the first after the window closed.
        let seed = self.randomness;
        let ranked = rank_candidates(&seed, &candidates, attempts);
        self.events.push(LedgerEvent::CandidatesRanked {
            task: *task_id,
            round,
            candidates: ranked.clone(),
        });
        let rk = (*task_id, round);
        let rec = self.rounds.get_mut(&rk).expect("checked");
        rec.seed = Some(seed);
        rec.candidates = ranked.clone();
        if ranked.is_empty() {
            rec.status = RoundStatus::NoCandidates;
            self.settle_round(due, task_id, round);
            return;
        }
        rec.status = RoundStatus::Distributing;
        rec.current_attempt = 0;
        self.open_attempt(task_id, round, 0, ranked[0], &clock);
    }

    pub(super) fn open_attempt(
        &mut self,
        task_id: &TaskId,
        round: u64,
        attempt: u16,
        submitter: Pubkey,
        clock: &Clock,
    ) {
        self.attempts.insert(
            (*task_id, round, attempt),
            AttemptRecord {
                submitter,
                upload: UploadProgress::default(),
                list: None,
                committee: None,
                votes: Vec::new(),
                outcome: None,
            },
        );
        let close = clock
            .window(Window::DistributionAudit, round, attempt)
            .closes;
        self.schedule_at(close, *task_id, Work::DistributionClose { round, attempt });
    }

    /// A round is settled (paid in full, failed, or without candidates): queue the slashes
    /// that waited for it (SPEC §6 *Vindication*), the release of the nodes it locked and its
    /// pruning, one attempt per step.
    pub(super) fn settle_round(&mut self, due: Slot, task_id: &TaskId, round: u64) {
        self.schedule_at(
            due,
            *task_id,
            Work::Settle {
                round,
                next_attempt: 0,
            },
        );
    }

    /// One step of a round's settlement: attempt `attempt`'s delayed verdict and unlocks;
    /// after the last attempt, the round leaves the task's open rounds and its pruning is
    /// scheduled.
    pub(super) fn settle_step(&mut self, due: Slot, task_id: &TaskId, round: u64, attempt: u16) {
        if self.attempts.contains(&(*task_id, round, attempt)) {
            self.settle_attempt(task_id, round, attempt);
            if let Some(next_attempt) = attempt.checked_add(1) {
                self.schedule_at(
                    due,
                    *task_id,
                    Work::Settle {
                        round,
                        next_attempt,
                    },
                );
                return;
            }
        }
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        task.open_rounds -= 1;
        // Pruned once the rounds that may still change it have passed.
        let keep = retention_rounds(task.params.allowed_failed_distributions) + 1;
        let clock = Clock::new(task.starting_slot, &task.params);
        let at = clock
            .start(round.saturating_add(keep))
            .max(self.slot.saturating_add(1));
        self.schedule_at(at, *task_id, Work::Prune { round });
        if !matches!(
            self.rounds.get(&(*task_id, round)).map(|r| &r.status),
            Some(RoundStatus::Paid { .. })
        ) {
            self.events.push(LedgerEvent::RoundSettledUnpaid {
                task: *task_id,
                round,
            });
        }
    }

    /// A rejected attempt of a settling round: vindicated when a later attempt was accepted
    /// by a `Valid` majority with the same digest (its `Invalid` voters are slashed instead),
    /// otherwise its submitter is slashed now. Then its submitter and voters are unlocked.
    pub(super) fn settle_attempt(&mut self, task_id: &TaskId, round: u64, attempt: u16) {
        let Some(rec) = self.rounds.get(&(*task_id, round)) else {
            return;
        };
        let terms = rec.terms.clone();
        let a = self
            .attempts
            .get(&(*task_id, round, attempt))
            .expect("checked")
            .clone();
        if matches!(a.outcome, Some(AttemptOutcome::FailedRejected { .. })) {
            // The digest of a list accepted by more than K/2 `Valid` seats, if any.
            let proven: Option<Hash> = self
                .attempts
                .range((*task_id, round, 0)..=(*task_id, round, u16::MAX))
                .find_map(|(_, a)| {
                    let list = a.list.as_ref()?;
                    let (t, k) = tally(&a.committee, &a.votes);
                    (matches!(a.outcome, Some(AttemptOutcome::PayoutSuccessful { .. }))
                        && t.valid_majority(k))
                    .then_some(list.digest)
                });
            let digest = a.list.as_ref().map(|l| l.digest);
            let outcome = if digest.is_some() && digest == proven {
                let right = seats_voting(&a.committee, &a.votes, Verdict::Valid);
                let mut voters_slashed = 0;
                for (wrong, _) in seats_voting(&a.committee, &a.votes, Verdict::Invalid) {
                    let (slashed, _, _) = self.slash(
                        task_id,
                        &wrong,
                        terms.false_accusation_bps,
                        None,
                        &right,
                        terms.voter_bps,
                    );
                    voters_slashed += slashed;
                }
                self.events.push(LedgerEvent::Vindicated {
                    task: *task_id,
                    round,
                    attempt,
                    voters_slashed,
                });
                AttemptOutcome::FailedRejected {
                    slashed: None,
                    vindicated: true,
                }
            } else {
                let voters = seats_voting(&a.committee, &a.votes, Verdict::Invalid);
                let first_invalid = a
                    .votes
                    .iter()
                    .find(|(_, v)| *v == Verdict::Invalid)
                    .map(|(n, _)| (*n, terms.accuser_bps));
                let (slashed, _, _) = self.slash(
                    task_id,
                    &a.submitter,
                    terms.slash_bps,
                    first_invalid,
                    &voters,
                    terms.voter_bps,
                );
                self.events.push(LedgerEvent::RejectionSlashed {
                    task: *task_id,
                    round,
                    attempt,
                    submitter: a.submitter,
                    slashed,
                });
                AttemptOutcome::FailedRejected {
                    slashed: Some(slashed),
                    vindicated: false,
                }
            };
            self.attempts
                .get_mut(&(*task_id, round, attempt))
                .expect("checked")
                .outcome = Some(outcome);
        }
        if a.list.is_some() {
            self.unlock(task_id, &a.submitter);
        }
        for (voter, _) in &a.votes {
            self.unlock(task_id, voter);
        }
    }

    /// Hold a node's stake until a round it took part in as list submitter or voter settles.
    pub(crate) fn lock(&mut self, task_id: &TaskId, node: &Pubkey) {
        if let Some(s) = self.stakes.get_mut(&(*task_id, *node)) {
            s.settlement_locks = s.settlement_locks.saturating_add(1);
        }
    }

    pub(super) fn unlock(&mut self, task_id: &TaskId, node: &Pubkey) {
        if let Some(s) = self.stakes.get_mut(&(*task_id, *node)) {
            s.settlement_locks = s.settlement_locks.saturating_sub(1);
        }
    }

    pub(super) fn resolve_audit(&mut self, key: NodeRoundKey) {
        let (task_id, round, candidate) = key;
        let audit = self.audits.get(&key).expect("listed").clone();
        let (tally, k) = tally(&audit.committee, &audit.votes);
        let Some(rec) = self.rounds.get(&(task_id, round)) else {
            return;
        };
        let p = rec.terms.clone();
        let outcome = if tally.invalid_majority(k) {
            if let Some(sub) = self.submissions.get_mut(&key) {
                sub.voided = true;
            }
            let voters = seats_voting(&audit.committee, &audit.votes, Verdict::Invalid);
            let (slashed, acc, vot) = self.slash(
                &task_id,
                &candidate,
                p.slash_bps,
                Some((audit.accuser, p.accuser_bps)),
                &voters,
                p.voter_bps,
            );
            AuditOutcome::Upheld {
                slashed,
                accuser_reward: acc,
                voter_rewards: vot,
            }
        } else if tally.valid_majority(k) {
            let voters = seats_voting(&audit.committee, &audit.votes, Verdict::Valid);
            let (slashed, _, vot) = self.slash(
                &task_id,
                &audit.accuser,
                p.false_accusation_bps,
                None,
                &voters,
                p.voter_bps,
            );
            AuditOutcome::Refuted {
                slashed,
                voter_rewards: vot,
            }
        } else {
            AuditOutcome::Unresolved
        };
        self.audits.get_mut(&key).expect("listed").outcome = Some(outcome.clone());
        self.events.push(LedgerEvent::AuditResolved {
            task: task_id,
            round,
            candidate,
            outcome,
        });
    }

    /// Slash `bps` of `offender`'s stake; pay the accuser share and the voters' share (split
    /// per seat, floor); the remainder is **burned** (SPEC §5 [v2]: returning it to the
    /// bounty would let a manager profit from slashing its own nodes). Returns
    /// `(slashed, accuser reward, voter rewards)`.
    pub(crate) fn slash(
        &mut self,
        task_id: &TaskId,
        offender: &Pubkey,
        bps: u16,
        accuser: Option<(Pubkey, u16)>,
        voters: &[(Pubkey, u16)],
        voter_bps: u16,
    ) -> (u64, u64, u64) {
        let current = self.slot_round(task_id);
        let Some(stake) = self.stakes.get_mut(&(*task_id, *offender)) else {
            return (0, 0, 0);
        };
        let slashed = bps_of(stake.amount, bps);
        if slashed == 0 {
            return (0, 0, 0);
        }
        stake.note_change(current);
        stake.amount -= slashed;
        let acc = accuser.map(|(_, abps)| bps_of(slashed, abps)).unwrap_or(0);
        if let Some((who, _)) = accuser {
            self.add_reward(task_id, &who, acc);
        }
        let pool = bps_of(slashed, voter_bps);
        let seats: u64 = voters.iter().map(|(_, s)| u64::from(*s)).sum();
        let mut paid = 0;
        if let Some(per_seat) = pool.checked_div(seats) {
            for (v, s) in voters {
                let r = per_seat * u64::from(*s);
                self.add_reward(task_id, v, r);
                paid += r;
            }
        }
        self.burn(slashed - acc - paid);
        (slashed, acc, paid)
    }

    pub(crate) fn burn(&mut self, amount: u64) {
        let meta = self.meta.get_mut(&()).expect("meta");
        meta.burned_roe = meta
            .burned_roe
            .checked_add(amount)
            .expect("burned ROE exceeds what was minted");
    }

    /// Distribution audit window of `attempt` closed: pay or fail (SPEC §6). An accepted list
    /// is credited one chunk per step ([`Work::Payout`]); its round is paid when the last
    /// chunk is.
    pub(super) fn close_distribution(
        &mut self,
        due: Slot,
        task_id: &TaskId,
        round: u64,
        attempt: u16,
    ) {
        let akey = (*task_id, round, attempt);
        let Some(att) = self.attempts.get(&akey).cloned() else {
            return;
        };
        let Some((clock, rec)) = self.round_clock(task_id, round) else {
            return;
        };
        let p = rec.terms.clone();
        let outcome = match &att.list {
            // Skipping a turn is not free (SPEC §6 [v2]): it could block a vindication.
            None => {
                let (slashed, _, _) =
                    self.slash(task_id, &att.submitter, p.missed_list_bps, None, &[], 0);
                AttemptOutcome::FailedNotSubmitted { slashed }
            }
            Some(list) => {
                let (tally, k) = tally(&att.committee, &att.votes);
                let outcome = if att.committee.is_none() {
                    // No committee had time to vote: acceptance by nobody proves nothing.
                    AttemptOutcome::FailedNoCommittee
                } else if tally.invalid_majority(k) {
                    AttemptOutcome::FailedRejected {
                        slashed: None,
                        vindicated: false,
                    }
                } else {
                    AttemptOutcome::PayoutSuccessful {
                        total_roe: list.total_roe,
                    }
                };
                // An accepted list keeps its reservation until each chunk is paid.
                if !matches!(outcome, AttemptOutcome::PayoutSuccessful { .. }) {
                    let t = self.tasks.get_mut(task_id).expect("task");
                    t.reserved_bounty -= list.total_roe;
                }
                outcome
            }
        };
        self.attempts.get_mut(&akey).expect("attempt").outcome = Some(outcome.clone());
        let rk = (*task_id, round);
        let (reason, slashed) = match outcome {
            AttemptOutcome::PayoutSuccessful { .. } => {
                self.schedule_at(
                    due,
                    *task_id,
                    Work::Payout {
                        round,
                        attempt,
                        next_chunk: 0,
                    },
                );
                return;
            }
            AttemptOutcome::FailedNotSubmitted { slashed } => (FailReason::NotSubmitted, slashed),
            AttemptOutcome::FailedNoCommittee => (FailReason::NoCommittee, 0),
            AttemptOutcome::FailedRejected { .. } => (FailReason::Rejected, 0),
        };
        self.events.push(LedgerEvent::PayoutFailed {
            task: *task_id,
            round,
            attempt,
            reason,
            slashed,
        });
        let rec = self.rounds.get(&rk).expect("round");
        let next = attempt + 1;
        if let Some(&who) = rec.candidates.get(usize::from(next)) {
            self.rounds.get_mut(&rk).expect("round").current_attempt = next;
            self.open_attempt(task_id, round, next, who, &clock);
        } else {
            self.rounds.get_mut(&rk).expect("round").status = RoundStatus::Failed;
            self.settle_round(due, task_id, round);
        }
    }

    /// Credit chunk `chunk` of the accepted list of `attempt` to pending rewards (SPEC §6
    /// *Payout*, in chunks across blocks: SPEC §1 [v2] *Bounded settlement*). After the last
    /// chunk the round is paid and settles.
    pub(super) fn pay_chunk(
        &mut self,
        due: Slot,
        task_id: &TaskId,
        round: u64,
        attempt: u16,
        chunk: u32,
    ) {
        let akey = (*task_id, round, attempt);
        let Some(list) = self.attempts.get(&akey).and_then(|a| a.list.clone()) else {
            return;
        };
        let entries = self
            .chunks
            .get(&(*task_id, round, attempt, chunk))
            .cloned()
            .unwrap_or_default();
        let mut sum = 0u64;
        for (node, reward) in entries {
            self.add_reward(task_id, &node, reward);
            sum += reward;
        }
        let t = self.tasks.get_mut(task_id).expect("task");
        t.reserved_bounty = t
            .reserved_bounty
            .checked_sub(sum)
            .expect("a paid chunk was reserved at submission");
        t.total_bounty -= sum;
        // A running total over the task's life; it may outgrow any one moment's supply.
        t.paid_total_roe = t.paid_total_roe.saturating_add(sum);
        let next_chunk = chunk + 1;
        if next_chunk < list.chunks {
            let work = Work::Payout {
                round,
                attempt,
                next_chunk,
            };
            self.schedule_at(due, *task_id, work);
            return;
        }
        self.events.push(LedgerEvent::PayoutSuccessful {
            task: *task_id,
            round,
            attempt,
            total_roe: list.total_roe,
            entries: list.count,
        });
        self.rounds
            .get_mut(&(*task_id, round))
            .expect("round")
            .status = RoundStatus::Paid {
            attempt,
            total_roe: list.total_roe,
        };
        self.settle_round(due, task_id, round);
    }

    /// Encoded size of the first record a pruning step of `round` removes.
    pub(super) fn first_prune_bytes(&self, task_id: &TaskId, round: u64) -> u64 {
        fn first<K: Ord + Clone + BorshSerialize, V: Clone + PartialEq + BorshSerialize>(
            t: &Table<K, V>,
            range: impl std::ops::RangeBounds<K>,
        ) -> Option<u64> {
            t.range(range)
                .next()
                .map(|(k, v)| encoded_len(k) + encoded_len(v))
        }
        let (lo, hi) = ((*task_id, round, LO), (*task_id, round, HI));
        first(&self.submissions, lo..=hi)
            .or_else(|| first(&self.audits, lo..=hi))
            .or_else(|| first(&self.raises, lo..=hi))
            .or_else(|| {
                first(
                    &self.attempts,
                    (*task_id, round, 0)..=(*task_id, round, u16::MAX),
                )
            })
            .or_else(|| {
                let range = (*task_id, round, 0, 0)..=(*task_id, round, u16::MAX, u32::MAX);
                first(&self.chunks, range)
            })
            .unwrap_or(0)
    }

    /// Drop a settled round's data, at most `allowance` records and bytes per step (at most
    /// [`PRUNE_RECORDS_PER_STEP`] and [`PRUNE_BYTES_PER_STEP`]); the round record goes last.
    /// Returns what the step removed.
    pub(super) fn prune(
        &mut self,
        due: Slot,
        task_id: &TaskId,
        round: u64,
        allowance: Cost,
    ) -> Cost {
        let full = (allowance.records, allowance.bytes);
        let mut left = full;
        let mut done = true;
        // Each table in turn, while the previous ones are done and the allowance lasts; a step
        // that has removed nothing yet always removes at least one record, so pruning moves on.
        macro_rules! drop_range {
            ($table:expr, $range:expr) => {
                if done {
                    let (r, b, d) = $table.remove_range($range, left.0, left.1, left == full);
                    left = (left.0.saturating_sub(r), left.1.saturating_sub(b));
                    done &= d;
                }
            };
        }
        let (lo, hi) = ((*task_id, round, LO), (*task_id, round, HI));
        drop_range!(self.submissions, lo..=hi);
        drop_range!(self.audits, lo..=hi);
        drop_range!(self.raises, lo..=hi);
        drop_range!(
            self.attempts,
            (*task_id, round, 0)..=(*task_id, round, u16::MAX)
        );
        drop_range!(
            self.chunks,
            (*task_id, round, 0, 0)..=(*task_id, round, u16::MAX, u32::MAX)
        );
        let used = Cost::new(allowance.records - left.0, allowance.bytes - left.1);
        if !done {
            self.schedule_at(due, *task_id, Work::Prune { round });
            return used;
        }
        self.rounds.remove(&(*task_id, round));
        self.events.push(LedgerEvent::RoundPruned {
            task: *task_id,
            round,
        });
        used
    }
}
