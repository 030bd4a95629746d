//! One handler per instruction (SPEC §4–7). Handlers may fail half-way: the ledger rolls
//! the transaction back, so "check, then write" ordering is for clarity, not safety.
//!
//! One file per instruction group: `faucet`, `tasks` (tasks and stakes), `proofs` (proofs
//! and their audits), `lists` (distribution lists and their audits).

mod faucet;
mod lists;
mod proofs;
mod tasks;

use crate::committee::{audit_seed, distribution_seed};
use crate::error::{RoundState, TxError};
use crate::ledger::{record_terms, Ledger};
use crate::state::*;
use crate::window::{Clock, Window};
use gradual_types::constants::raise_last_slot;
use gradual_types::hash::tags;
use gradual_types::{
    task_id, Faucet, Hash, Instruction, Pubkey, Slot, TaskId, TaskParams, Verdict,
};
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
                // Round terms (SPEC §2): rounds already started keep the state they started
                // with; the change counts from the next round on.
                let current = self.slot_round(task);
                let t = self.tasks.get_mut(task).expect("checked");
                t.is_active = *active;
                record_terms(t, current + 1, current);
                Ok(())
            }
            Instruction::CloseTask { task } => self.close_task(signer, task),
            Instruction::Stake {
                task,
                amount,
                url,
                owner,
            } => self.stake_roe(signer, task, *amount, url, *owner),
            Instruction::SetNodeUrl { task, url } => {
                self.open_task(task)?;
                let s = self
                    .stakes
                    .get_mut(&(*task, *signer))
                    .filter(|s| s.amount > 0)
                    .ok_or(TxError::NotStaked { node: *signer })?;
                s.url = url.clone();
                Ok(())
            }
            Instruction::SetStakeOwner { task, node, owner } => {
                self.known_task(task)?;
                let s = self
                    .stakes
                    .get_mut(&(*task, *node))
                    .ok_or(TxError::NotStaked { node: *node })?;
                if s.owner != *signer {
                    return Err(TxError::NotOwner { owner: s.owner });
                }
                s.owner = *owner;
                Ok(())
            }
            Instruction::SetValidators {
                validators,
                from_slot,
            } => {
                let admin = self.genesis.admin.ok_or(TxError::NoAdmin)?;
                if *signer != admin {
                    return Err(TxError::NotAdmin { admin });
                }
                if *from_slot <= self.slot {
                    return Err(TxError::ValidatorsTooSoon {
                        from_slot: *from_slot,
                        slot: self.slot,
                    });
                }
                self.meta.get_mut(&()).expect("meta").next_validators =
                    Some((*from_slot, validators.clone()));
                Ok(())
            }
            Instruction::Unstake { task } => {
                let round = self.current_round(task)?;
                // SPEC §7 [v2]: the withdrawal round is fixed now, by the cooldown in force.
                let cooldown = self.known_task(task)?.params.unstake_cooldown;
                let s = self
                    .stakes
                    .get_mut(&(*task, *signer))
                    .filter(|s| s.amount > 0)
                    .ok_or(TxError::NotStaked { node: *signer })?;
                if let Some(since_round) = s.unstake_round {
                    return Err(TxError::Unstaking { since_round });
                }
                s.unstake_round = Some(round);
                s.withdraw_round = Some(round.saturating_add(cooldown));
                Ok(())
            }
            Instruction::Withdraw { task } => self.withdraw(signer, task),
            Instruction::Claim { task } => {
                self.known_task(task)?;
                let amount = self
                    .rewards
                    .remove(&(*task, *signer))
                    .ok_or(TxError::NothingToClaim)?;
                let to = self.payee(task, signer);
                self.credit(&to, amount)
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
                // SPEC §1 [v2]: each vote of a batch succeeds or fails on its own; a refused
                // vote is undone alone and reported with its index.
                let mut seen = BTreeSet::new();
                let mut refused = Vec::new();
                for (i, (candidate, verdict)) in votes.iter().enumerate() {
                    let result = if seen.insert(*candidate) {
                        let savepoint = self.savepoint();
                        let r = self.vote_proof(signer, task, *round, candidate, *verdict);
                        if r.is_err() {
                            self.rollback_to(&savepoint);
                        }
                        r
                    } else {
                        Err(TxError::DuplicateVote {
                            candidate: *candidate,
                        })
                    };
                    if let Err(e) = result {
                        refused.push((i as u32, e));
                    }
                }
                if refused.is_empty() {
                    return Ok(());
                }
                Err(TxError::VotesRefused {
                    applied: (votes.len() - refused.len()) as u32,
                    refused,
                })
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
                self.upload_chunk(task, *round, *attempt, *index, entries)
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
}

impl Ledger {
    // ----- shared checks ---------------------------------------------------------------------

    /// Stake ≥ minimum and not unstaking: who may raise audits and submit lists.
    pub(super) fn full_staker(
        &self,
        task: &TaskId,
        node: &Pubkey,
        minimum: u64,
    ) -> Result<(), TxError> {
        self.stakes
            .get(&(*task, *node))
            .ok_or(TxError::NotStaked { node: *node })?
            .check_full_staker(minimum)
    }

    pub(super) fn known_task(&self, task: &TaskId) -> Result<&TaskRecord, TxError> {
        self.tasks.get(task).ok_or(TxError::UnknownTask(*task))
    }

    pub(super) fn open_task(&self, task: &TaskId) -> Result<&TaskRecord, TxError> {
        let t = self.known_task(task)?;
        if t.closed {
            return Err(TxError::TaskClosed);
        }
        Ok(t)
    }

    pub(super) fn managed_task(
        &self,
        signer: &Pubkey,
        task: &TaskId,
    ) -> Result<&TaskRecord, TxError> {
        let t = self.open_task(task)?;
        if t.manager != *signer {
            return Err(TxError::NotManager { manager: t.manager });
        }
        Ok(t)
    }

    pub(super) fn current_round(&self, task: &TaskId) -> Result<u64, TxError> {
        let t = self.known_task(task)?;
        Ok(Clock::new(t.starting_slot, &t.params).round(self.slot))
    }

    pub(super) fn in_window(
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

pub(super) fn nonzero(amount: u64) -> Result<(), TxError> {
    if amount == 0 {
        return Err(TxError::ZeroAmount);
    }
    Ok(())
}

/// Whether `signer` may vote now: the committee is drawn (else votes count from slot
/// `opens`), gives the signer a seat, and holds no vote of the signer's yet among `votes`.
pub(super) fn check_vote(
    committee: Option<&Committee>,
    opens: Slot,
    votes: &[(Pubkey, Verdict)],
    signer: &Pubkey,
) -> Result<(), TxError> {
    let committee = committee.ok_or(TxError::CommitteeNotDrawn { opens })?;
    if committee.seats_of(signer) == 0 {
        return Err(TxError::NotOnCommittee { node: *signer });
    }
    if votes.iter().any(|(n, _)| n == signer) {
        return Err(TxError::AlreadyVoted { node: *signer });
    }
    Ok(())
}
