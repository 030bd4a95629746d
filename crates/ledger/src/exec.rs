//! One handler per instruction (SPEC §4–7). Handlers may fail half-way: the ledger rolls
//! the transaction back, so "check, then write" ordering is for clarity, not safety.

use crate::error::TxError;
use crate::ledger::Ledger;
use crate::state::*;
use crate::window::{Clock, Window};
use gradual_types::hash::tags;
use gradual_types::{task_id, Hash, Instruction, Pubkey, TaskId, TaskParams, Verdict};
use std::collections::BTreeSet;

/// Digest of a distribution list (SPEC §6): entries in order, `node ‖ reward (u64 LE)`.
pub fn distribution_digest<'a>(entries: impl IntoIterator<Item = &'a (Pubkey, u64)>) -> Hash {
    let mut h = DistributionHasher::new();
    for e in entries {
        h.update(e);
    }
    h.finalize()
}

/// Incremental form of [`distribution_digest`], for lists uploaded in chunks.
pub struct DistributionHasher(blake3::Hasher);

impl DistributionHasher {
    pub fn new() -> Self {
        let mut h = blake3::Hasher::new();
        h.update(tags::DISTRIBUTION_LIST.as_bytes());
        DistributionHasher(h)
    }

    pub fn update(&mut self, (node, reward): &(Pubkey, u64)) {
        self.0.update(&node.0);
        self.0.update(&reward.to_le_bytes());
    }

    pub fn finalize(&self) -> Hash {
        Hash(*self.0.finalize().as_bytes())
    }
}

impl Default for DistributionHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Ledger {
    pub(crate) fn execute(&mut self, signer: &Pubkey, ix: &Instruction) -> Result<(), TxError> {
        match ix {
            Instruction::Transfer { to, amount } => {
                nonzero(*amount)?;
                self.debit(signer, *amount)?;
                self.credit(to, *amount)
            }
            Instruction::FaucetMint { to, amount } => self.faucet_mint(signer, to, *amount),
            Instruction::CreateTask {
                nonce,
                params,
                total_bounty,
            } => self.create_task(signer, *nonce, params, *total_bounty),
            Instruction::FundTask { task, amount } => {
                nonzero(*amount)?;
                self.open_task(task)?;
                self.debit(signer, *amount)?;
                let t = self.tasks.get_mut(task).expect("checked");
                t.total_bounty = t
                    .total_bounty
                    .checked_add(*amount)
                    .ok_or(TxError::Overflow)?;
                Ok(())
            }
            Instruction::UpdateTask { task, params } => self.update_task(signer, task, params),
            Instruction::SetActive { task, active } => {
                self.managed_task(signer, task)?;
                self.tasks.get_mut(task).expect("checked").is_active = *active;
                Ok(())
            }
            Instruction::CloseTask { task } => self.close_task(signer, task),
            Instruction::Stake { task, amount, url } => self.stake_roe(signer, task, *amount, url),
            Instruction::Unstake { task } => {
                let round = self.current_round(task)?;
                let s = self
                    .stakes
                    .get_mut(&(*task, *signer))
                    .ok_or(TxError::NotStaked { node: *signer })?;
                if let Some(since_round) = s.unstake_round {
                    return Err(TxError::Unstaking { since_round });
                }
                s.unstake_round = Some(round);
                Ok(())
            }
            Instruction::Withdraw { task } => self.withdraw(signer, task),
            Instruction::Claim { task } => {
                self.known_task(task)?;
                let amount = self
                    .rewards
                    .remove(&(*task, *signer))
                    .ok_or(TxError::NothingToClaim)?;
                self.credit(signer, amount)
            }
            Instruction::SubmitProof { task, round, value } => {
                self.submit_proof(signer, task, *round, value)
            }
            Instruction::AuditProof {
                task,
                round,
                candidate,
                verdict,
            } => {
                self.in_window(task, Window::ProofAudit, *round, 0)?;
                self.vote_proof(signer, task, *round, candidate, *verdict)
            }
            Instruction::AuditProofs { task, round, votes } => {
                self.in_window(task, Window::ProofAudit, *round, 0)?;
                let mut seen = BTreeSet::new();
                for (i, (candidate, verdict)) in votes.iter().enumerate() {
                    if !seen.insert(*candidate) {
                        return Err(TxError::DuplicateVote {
                            candidate: *candidate,
                        });
                    }
                    self.vote_proof(signer, task, *round, candidate, *verdict)
                        .map_err(|e| TxError::InBatch {
                            index: i as u32,
                            error: Box::new(e),
                        })?;
                }
                Ok(())
            }
            Instruction::UploadDistributionChunk {
                task,
                round,
                attempt,
                index,
                entries,
            } => {
                self.selected_attempt(
                    signer,
                    task,
                    *round,
                    *attempt,
                    Window::DistributionSubmission,
                )?;
                if self
                    .attempts
                    .get(&(*task, *round, *attempt))
                    .expect("checked")
                    .list
                    .is_some()
                {
                    return Err(TxError::ListAlreadySubmitted);
                }
                self.chunks
                    .insert((*task, *round, *attempt, *index), entries.clone());
                Ok(())
            }
            Instruction::SubmitDistribution {
                task,
                round,
                attempt,
                digest,
                count,
            } => self.submit_distribution(signer, task, *round, *attempt, digest, *count),
            Instruction::AuditDistribution {
                task,
                round,
                attempt,
                verdict,
            } => self.vote_distribution(signer, task, *round, *attempt, *verdict),
        }
    }

    fn faucet_mint(&mut self, signer: &Pubkey, to: &Pubkey, amount: u64) -> Result<(), TxError> {
        let faucet = self.genesis.faucet.clone().ok_or(TxError::FaucetDisabled)?;
        if *signer != faucet.authority {
            return Err(TxError::NotFaucet {
                authority: faucet.authority,
            });
        }
        nonzero(amount)?;
        if amount > faucet.mint_max_roe {
            return Err(TxError::MintTooLarge {
                got: amount,
                max: faucet.mint_max_roe,
            });
        }
        let meta = self.meta.get_mut(&()).expect("meta");
        meta.minted_roe = meta
            .minted_roe
            .checked_add(amount)
            .ok_or(TxError::Overflow)?;
        self.credit(to, amount)
    }

    fn create_task(
        &mut self,
        signer: &Pubkey,
        nonce: u64,
        params: &TaskParams,
        bounty: u64,
    ) -> Result<(), TxError> {
        params.validate().map_err(TxError::BadParams)?;
        let id = task_id(signer, nonce);
        if self.tasks.contains(&id) {
            return Err(TxError::TaskExists(id));
        }
        self.debit(signer, bounty)?;
        self.tasks.insert(
            id,
            TaskRecord {
                manager: *signer,
                params: params.clone(),
                starting_slot: self.slot,
                total_bounty: bounty,
                reserved_bounty: 0,
                is_active: true,
                closed: false,
                pending_params: None,
                open_rounds: 0,
                paid_total_roe: 0,
            },
        );
        Ok(())
    }

    fn update_task(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        params: &TaskParams,
    ) -> Result<(), TxError> {
        self.managed_task(signer, task)?;
        params.validate().map_err(TxError::BadParams)?;
        let t = self.tasks.get(task).expect("checked");
        if !t.params.same_timing(params) {
            return Err(TxError::TimingIsFixed);
        }
        let clock = self.task_clock(t);
        let next_round_start = clock.start(clock.round(self.slot) + 1);
        self.tasks.get_mut(task).expect("checked").pending_params = Some(params.clone());
        self.schedule_at(next_round_start, *task, Event::ApplyUpdate);
        Ok(())
    }

    fn close_task(&mut self, signer: &Pubkey, task: &TaskId) -> Result<(), TxError> {
        self.managed_task(signer, task)?;
        let t = self.tasks.get(task).expect("checked");
        if t.is_active {
            return Err(TxError::TaskStillActive);
        }
        if t.open_rounds > 0 {
            return Err(TxError::RoundsNotSettled {
                open: t.open_rounds,
            });
        }
        let (manager, refund) = (t.manager, t.total_bounty);
        let t = self.tasks.get_mut(task).expect("checked");
        t.total_bounty = 0;
        t.closed = true;
        self.credit(&manager, refund)
    }

    fn stake_roe(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        amount: u64,
        url: &str,
    ) -> Result<(), TxError> {
        nonzero(amount)?;
        let minimum = self.open_task(task)?.params.minimum_stake;
        let key = (*task, *signer);
        let prev = self.stakes.get(&key).cloned();
        if let Some(since_round) = prev.as_ref().and_then(|s| s.unstake_round) {
            return Err(TxError::Unstaking { since_round });
        }
        self.debit(signer, amount)?;
        let slot = self.slot;
        let rec = match prev {
            None => StakeRecord {
                amount,
                url: url.to_string(),
                staked_slot: slot,
                unstake_round: None,
            },
            Some(mut s) => {
                if s.amount < minimum {
                    s.staked_slot = slot;
                }
                s.amount = s.amount.checked_add(amount).ok_or(TxError::Overflow)?;
                if !url.is_empty() {
                    s.url = url.to_string();
                }
                s
            }
        };
        self.stakes.insert(key, rec);
        Ok(())
    }

    fn withdraw(&mut self, signer: &Pubkey, task: &TaskId) -> Result<(), TxError> {
        let round = self.current_round(task)?;
        let t = self.tasks.get(task).expect("checked");
        let (closed, cooldown) = (t.closed, t.params.unstake_cooldown);
        let key = (*task, *signer);
        let s = self
            .stakes
            .get(&key)
            .ok_or(TxError::NotStaked { node: *signer })?;
        // A closed task has nothing left to slash: its stakes come back at once.
        if !closed {
            let unstake_round = s.unstake_round.ok_or(TxError::NotUnstaking)?;
            let withdraw_round = unstake_round.saturating_add(cooldown);
            if round < withdraw_round {
                return Err(TxError::CooldownNotOver {
                    unstake_round,
                    withdraw_round,
                    round,
                });
            }
        }
        let amount = self.stakes.remove(&key).expect("checked").amount;
        self.credit(signer, amount)
    }

    fn submit_proof(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        value: &[u8],
    ) -> Result<(), TxError> {
        let t = self.open_task(task)?;
        if !t.is_active {
            return Err(TxError::TaskInactive);
        }
        let clock = self.task_clock(t);
        let minimum = t.params.minimum_stake;
        self.in_window(task, Window::ProofSubmission, round, 0)?;
        let s = self
            .stakes
            .get(&(*task, *signer))
            .ok_or(TxError::NotStaked { node: *signer })?;
        if let Some(since_round) = s.unstake_round {
            return Err(TxError::Unstaking { since_round });
        }
        if s.amount < minimum {
            return Err(TxError::StakeBelowMinimum {
                stake: s.amount,
                minimum,
            });
        }
        let round_start = clock.start(round);
        if s.staked_slot >= round_start {
            return Err(TxError::StakedTooLate {
                staked_slot: s.staked_slot,
                round,
                round_start,
            });
        }
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
                        submitters: 1,
                        seed: None,
                        candidates: Vec::new(),
                        current_attempt: 0,
                    },
                );
                self.tasks.get_mut(task).expect("checked").open_rounds += 1;
                let close = clock.window(Window::ProofAudit, round, 0).closes;
                self.schedule_at(close, *task, Event::ProofAuditClose { round });
            }
        }
        Ok(())
    }

    fn vote_proof(
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
            self.full_staker(task, signer)?;
            self.audits.insert(
                key,
                AuditRecord {
                    accuser: *signer,
                    trigger_slot: self.slot,
                    committee: None,
                    votes: Vec::new(),
                    outcome: None,
                },
            );
            self.draws.insert(
                Draw::Audit {
                    task: *task,
                    round,
                    candidate: *candidate,
                },
                (),
            );
            return Ok(());
        };
        let committee = audit.committee.as_ref().ok_or(TxError::CommitteeNotDrawn {
            opens: audit.trigger_slot + 1,
        })?;
        check_vote(committee, &audit.votes, signer)?;
        self.audits
            .get_mut(&key)
            .expect("checked")
            .votes
            .push((*signer, verdict));
        Ok(())
    }

    /// Checks shared by the distribution instructions, window first (SPEC §3).
    fn selected_attempt(
        &self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        attempt: u16,
        window: Window,
    ) -> Result<(), TxError> {
        self.known_task(task)?;
        let rec = self
            .rounds
            .get(&(*task, round))
            .ok_or_else(|| TxError::NotDistributing {
                round,
                status: "no proofs were submitted for it, or it was pruned".into(),
            })?;
        // SPEC §3: a transaction outside its window is rejected with an error naming the
        // window. Check the window first, so that e.g. a vote at the slot where the
        // distribution audit window closed (the attempt has just been paid or failed) says
        // so instead of "not distributing". While the round distributes, the open window is
        // the current attempt's; a wrong attempt number inside it is `WrongAttempt`.
        let open_attempt = if rec.status == RoundStatus::Distributing {
            rec.current_attempt
        } else {
            attempt
        };
        self.in_window(task, window, round, open_attempt)?;
        if rec.status != RoundStatus::Distributing {
            return Err(TxError::NotDistributing {
                round,
                status: format!("{:?}", rec.status),
            });
        }
        if attempt != rec.current_attempt {
            return Err(TxError::WrongAttempt {
                round,
                got: attempt,
                current: rec.current_attempt,
            });
        }
        let att = self
            .attempts
            .get(&(*task, round, attempt))
            .expect("current attempt exists");
        if window == Window::DistributionSubmission && att.submitter != *signer {
            return Err(TxError::NotSelected {
                attempt,
                selected: att.submitter,
            });
        }
        // The list's submitter must have stake at risk when it submits: a candidate that has
        // since unstaked or been slashed below the minimum forfeits its attempt.
        if window == Window::DistributionSubmission {
            self.full_staker(task, signer)?;
        }
        Ok(())
    }

    fn submit_distribution(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        attempt: u16,
        digest: &Hash,
        count: u32,
    ) -> Result<(), TxError> {
        self.selected_attempt(signer, task, round, attempt, Window::DistributionSubmission)?;
        let akey = (*task, round, attempt);
        if self.attempts.get(&akey).expect("checked").list.is_some() {
            return Err(TxError::ListAlreadySubmitted);
        }
        let mut hasher = DistributionHasher::new();
        let mut n: u32 = 0;
        let mut chunks: u32 = 0;
        let mut sum: u64 = 0;
        let mut prev: Option<Pubkey> = None;
        for ((_, _, _, index), entries) in self
            .chunks
            .range((*task, round, attempt, 0)..=(*task, round, attempt, u32::MAX))
        {
            if *index != chunks {
                return Err(TxError::MissingChunk { index: chunks });
            }
            chunks += 1;
            for e in entries {
                if prev.is_some_and(|p| p >= e.0) {
                    return Err(TxError::EntriesNotSorted { index: n });
                }
                prev = Some(e.0);
                match self.submissions.get(&(*task, round, e.0)) {
                    Some(s) if !s.voided => {}
                    _ => return Err(TxError::NotASubmitter { node: e.0, round }),
                }
                sum = sum.saturating_add(e.1);
                hasher.update(e);
                n += 1;
            }
        }
        if chunks == 0 {
            return Err(TxError::MissingChunk { index: 0 });
        }
        if n != count {
            return Err(TxError::CountMismatch {
                got: n,
                expected: count,
            });
        }
        let got = hasher.finalize();
        if got != *digest {
            return Err(TxError::DigestMismatch {
                got,
                expected: *digest,
            });
        }
        let t = self.tasks.get(task).expect("checked");
        let limit = t
            .params
            .bounty_per_round
            .min(t.total_bounty - t.reserved_bounty);
        if sum > limit {
            return Err(TxError::RewardsExceedLimit { sum, limit });
        }
        self.tasks.get_mut(task).expect("checked").reserved_bounty += sum;
        self.attempts.get_mut(&akey).expect("checked").list = Some(SubmittedList {
            digest: *digest,
            count,
            chunks,
            total_roe: sum,
            slot: self.slot,
        });
        self.draws.insert(
            Draw::Distribution {
                task: *task,
                round,
                attempt,
            },
            (),
        );
        Ok(())
    }

    fn vote_distribution(
        &mut self,
        signer: &Pubkey,
        task: &TaskId,
        round: u64,
        attempt: u16,
        verdict: Verdict,
    ) -> Result<(), TxError> {
        self.selected_attempt(signer, task, round, attempt, Window::DistributionAudit)?;
        let akey = (*task, round, attempt);
        let att = self.attempts.get(&akey).expect("checked");
        let list = att.list.as_ref().ok_or(TxError::ListNotSubmitted)?;
        let committee = att.committee.as_ref().ok_or(TxError::CommitteeNotDrawn {
            opens: list.slot + 1,
        })?;
        check_vote(committee, &att.votes, signer)?;
        self.attempts
            .get_mut(&akey)
            .expect("checked")
            .votes
            .push((*signer, verdict));
        Ok(())
    }

    // ----- shared checks ---------------------------------------------------------------------

    /// Stake ≥ minimum and not unstaking: who may raise audits and submit lists.
    fn full_staker(&self, task: &TaskId, node: &Pubkey) -> Result<(), TxError> {
        let minimum = self.known_task(task)?.params.minimum_stake;
        let s = self
            .stakes
            .get(&(*task, *node))
            .ok_or(TxError::NotStaked { node: *node })?;
        if let Some(since_round) = s.unstake_round {
            return Err(TxError::Unstaking { since_round });
        }
        if s.amount < minimum {
            return Err(TxError::StakeBelowMinimum {
                stake: s.amount,
                minimum,
            });
        }
        Ok(())
    }

    fn known_task(&self, task: &TaskId) -> Result<&TaskRecord, TxError> {
        self.tasks.get(task).ok_or(TxError::UnknownTask(*task))
    }

    fn open_task(&self, task: &TaskId) -> Result<&TaskRecord, TxError> {
        let t = self.known_task(task)?;
        if t.closed {
            return Err(TxError::TaskClosed);
        }
        Ok(t)
    }

    fn managed_task(&self, signer: &Pubkey, task: &TaskId) -> Result<&TaskRecord, TxError> {
        let t = self.open_task(task)?;
        if t.manager != *signer {
            return Err(TxError::NotManager { manager: t.manager });
        }
        Ok(t)
    }

    fn current_round(&self, task: &TaskId) -> Result<u64, TxError> {
        let t = self.known_task(task)?;
        Ok(Clock::new(t.starting_slot, &t.params).round(self.slot))
    }

    fn in_window(
        &self,
        task: &TaskId,
        window: Window,
        round: u64,
        attempt: u16,
    ) -> Result<(), TxError> {
        let t = self.known_task(task)?;
        let span = self.task_clock(t).window(window, round, attempt);
        if !span.contains(self.slot) {
            return Err(TxError::OutsideWindow {
                window,
                round,
                slot: self.slot,
                opens: span.opens,
                closes: span.closes,
            });
        }
        Ok(())
    }
}

fn nonzero(amount: u64) -> Result<(), TxError> {
    if amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    Ok(())
}

fn check_vote(
    committee: &Committee,
    votes: &[(Pubkey, Verdict)],
    signer: &Pubkey,
) -> Result<(), TxError> {
    if committee.seats_of(signer) == 0 {
        return Err(TxError::NotOnCommittee { node: *signer });
    }
    if votes.iter().any(|(n, _)| n == signer) {
        return Err(TxError::AlreadyVoted { node: *signer });
    }
    Ok(())
}
