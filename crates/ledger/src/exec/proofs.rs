//! Proofs and their audits: submission, raises and votes (SPEC §4, §5).

use super::*;

impl Ledger {
    pub(super) fn submit_proof(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        value: &[u8],
    ) -> Result<(), TxError> {
        let t = self.open_task(task)?;
        let clock = self.task_clock(t);
        self.in_window(task, Window::ProofSubmission, round, 0)?;
        // Round terms (SPEC §2): whether round `round` takes proofs was fixed at its start.
        let terms = match self.rounds.get(&(*task, round)) {
            Some(r) => r.terms.clone(),
            None => t.terms_for(round).clone(),
        };
        if !terms.is_active {
            return Err(TxError::TaskInactive);
        }
        let minimum = terms.minimum_stake;
        let s = self
            .stakes
            .get(&(*task, *signer))
            .ok_or(TxError::NotStaked { node: *signer })?;
        s.check_may_submit(minimum, round, clock.start(round))?;
        let key = (*task, round, *signer);
        let replacing = self.submissions.contains(&key);
        self.submissions.insert(
            key,
            SubmissionRecord {
                value: value.to_vec(),
                slot: self.slot,
                voided: false,
            },
        );
        let rk = (*task, round);
        match self.rounds.get_mut(&rk) {
            Some(r) if !replacing => r.submitters += 1,
            Some(_) => {}
            None => {
                self.rounds.insert(
                    rk,
                    RoundRecord {
                        status: RoundStatus::Reviewing,
                        terms,
                        submitters: 1,
                        seed: None,
                        candidates: Vec::new(),
                        current_attempt: 0,
                    },
                );
                self.tasks.get_mut(task).expect("checked").open_rounds += 1;
                let close = clock.window(Window::ProofAudit, round, 0).closes;
                self.schedule_at(close, *task, Work::ProofAuditClose { round, after: None });
            }
        }
        Ok(())
    }

    pub(super) fn vote_proof(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        candidate: &Pubkey,
        verdict: Verdict,
    ) -> Result<(), TxError> {
        if candidate == signer {
            return Err(TxError::SelfAudit);
        }
        let key = (*task, round, *candidate);
        if !self.submissions.contains(&key) {
            return Err(TxError::NoSubmission {
                candidate: *candidate,
                round,
            });
        }
        let Some(audit) = self.audits.get(&key) else {
            if verdict != Verdict::Invalid {
                return Err(TxError::NoAuditRaised {
                    candidate: *candidate,
                });
            }
            // Raising an audit puts the accuser's stake at risk: it must be a full staker.
            let terms = self
                .rounds
                .get(&(*task, round))
                .expect("a proof exists")
                .terms
                .clone();
            self.full_staker(task, signer, terms.minimum_stake)?;
            // SPEC §5 *Vote window*: raises only in the first AW − V slots, so every
            // committee has at least V slots to vote.
            let t = self.known_task(task)?;
            let opens = self
                .task_clock(t)
                .window(Window::ProofAudit, round, 0)
                .opens;
            let last = raise_last_slot(opens, t.params.audit_window, self.genesis.slot_ms);
            if self.slot > last {
                return Err(TxError::RaiseTooLate {
                    last_slot: last,
                    slot: self.slot,
                });
            }
            // SPEC §5 *Bounded work*: refused when the draws queued ahead of this one would
            // draw its committee later than the raise cutoff's draw (slot `last + 1`), which
            // would leave the committee less than its V slots to vote.
            let draw_slot = self.next_draw_slot(task, u64::from(terms.committee_size));
            if draw_slot > last + 1 {
                return Err(TxError::DrawBacklog {
                    queued: t.queued_draws,
                    draw_slot,
                    latest: last + 1,
                });
            }
            // SPEC §5 *Bounded work*: at most `audit_sample` raises per node per round.
            let rkey = (*task, round, *signer);
            let raised = self.raises.get(&rkey).copied().unwrap_or(0);
            if raised >= terms.audit_sample {
                return Err(TxError::TooManyRaises {
                    max: terms.audit_sample,
                });
            }
            self.raises.insert(rkey, raised + 1);
            self.audits.insert(
                key,
                AuditRecord {
                    accuser: *signer,
                    trigger_slot: self.slot,
                    seed: audit_seed(&self.randomness, task, round, candidate),
                    committee: None,
                    votes: Vec::new(),
                    outcome: None,
                },
            );
            // The committee is drawn at the next block (SPEC §5), before the task's other
            // work (`Lane::Draw`).
            let work = Work::DrawAudit {
                round,
                candidate: *candidate,
            };
            self.schedule_at(self.slot, *task, work);
            return Ok(());
        };
        // SPEC §1 [v2] *honest races are not fined*: a raise on a candidate another node
        // already raised (in this block or earlier) is that node's `Invalid` vote. Before the
        // draw it waits in the record and counts if the draw gives the node a seat; after the
        // draw it counts if the node holds one. Either way it is not an error and it does not
        // count against the raise cap; a node that cannot hold a seat changes nothing.
        if verdict == Verdict::Invalid && *signer != audit.accuser {
            if audit.votes.iter().any(|(n, _)| n == signer) {
                return Err(TxError::AlreadyVoted { node: *signer });
            }
            let may_sit = match &audit.committee {
                Some(c) => c.seats_of(signer) > 0,
                None => self.may_sit_on_audit(task, round, signer),
            };
            if may_sit {
                self.audits
                    .get_mut(&key)
                    .expect("checked")
                    .votes
                    .push((*signer, verdict));
            }
            return Ok(());
        }
        check_vote(
            audit.committee.as_ref(),
            audit.trigger_slot + 1,
            &audit.votes,
            signer,
        )?;
        self.audits
            .get_mut(&key)
            .expect("checked")
            .votes
            .push((*signer, verdict));
        Ok(())
    }

    /// Whether `node` is in the pool the committee of an audit of `round` is drawn from:
    /// eligible by its stake at the start of the round of the proof audit window (SPEC §5).
    pub(super) fn may_sit_on_audit(&self, task: &TaskId, round: u64, node: &Pubkey) -> bool {
        let Some((clock, rec)) = self.round_clock(task, round) else {
            return false;
        };
        let weight_round = clock.round(clock.window(Window::ProofAudit, round, 0).opens);
        self.stakes
            .get(&(*task, *node))
            .and_then(|s| s.eligible_weight(weight_round, rec.terms.minimum_stake))
            .is_some()
    }
}
