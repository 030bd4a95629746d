//! One handler per instruction (SPEC §4–7). Handlers may fail half-way: the ledger rolls
//! the transaction back, so "check, then write" ordering is for clarity, not safety.

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

/// Ended faucet windows a mint forgets (see `Ledger::prune_faucet_windows`).
pub const FAUCET_PRUNE_PER_MINT: usize = 4;

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

    /// Whether a `FaucetMint` of `amount` to `to` by the faucet authority would pass at
    /// `slot` (after the block at `slot - 1`): the rules of [`Ledger::faucet_mint`], for the
    /// validator's `requestAirdrop` to refuse at the door what the ledger would refuse.
    pub fn faucet_check(&self, to: &Pubkey, amount: u64, slot: Slot) -> Result<(), TxError> {
        let faucet = self
            .genesis
            .faucet
            .as_ref()
            .ok_or(TxError::FaucetDisabled)?;
        self.faucet_plan(faucet, to, amount, slot).map(|_| ())
    }

    /// The checks of a mint, and the recipient's window after it.
    fn faucet_plan(
        &self,
        faucet: &Faucet,
        to: &Pubkey,
        amount: u64,
        slot: Slot,
    ) -> Result<(FaucetWindow, bool), TxError> {
        nonzero(amount)?;
        if amount > faucet.mint_max_roe {
            return Err(TxError::MintTooLarge {
                got: amount,
                max: faucet.mint_max_roe,
            });
        }
        // Per recipient: at most `recipient_max_roe` within `recipient_window_slots` slots
        // of the window's first mint; a mint after the window opens a new one.
        let n = faucet.recipient_window_slots;
        let (window, new) = match self.faucet_windows.get(to) {
            Some(w) if slot < w.start.saturating_add(n) => (w.clone(), false),
            _ => (
                FaucetWindow {
                    start: slot,
                    minted_roe: 0,
                },
                true,
            ),
        };
        let received = window
            .minted_roe
            .checked_add(amount)
            .filter(|r| *r <= faucet.recipient_max_roe)
            .ok_or(TxError::FaucetRateLimited {
                recipient: *to,
                received: window.minted_roe,
                max: faucet.recipient_max_roe,
                window_slots: n,
                next_slot: window.start.saturating_add(n),
            })?;
        // In all: the amounts and the fees the mints paid, at most `cap_roe`.
        let needed = amount
            .checked_add(self.genesis.fee_roe)
            .ok_or(TxError::Overflow)?;
        let minted = self.meta().faucet_minted_roe;
        if minted
            .checked_add(needed)
            .is_none_or(|total| total > faucet.cap_roe)
        {
            return Err(TxError::FaucetCapReached {
                minted,
                cap: faucet.cap_roe,
                needed,
            });
        }
        Ok((
            FaucetWindow {
                start: window.start,
                minted_roe: received,
            },
            new,
        ))
    }

    /// Devnet faucet (docs/protocol.md *Faucet*). The authority holds nothing, so its mint
    /// pays its own fee: the ledger creates `amount + fee`, burns the fee and credits
    /// `amount` (the fee was not charged from the authority's balance, see
    /// `Genesis::fee_paid_by_mint`). Supply changes by the mint and the burn, as SPEC §1
    /// allows.
    fn faucet_mint(&mut self, signer: &Pubkey, to: &Pubkey, amount: u64) -> Result<(), TxError> {
        let faucet = self.genesis.faucet.clone().ok_or(TxError::FaucetDisabled)?;
        if *signer != faucet.authority {
            return Err(TxError::NotFaucet {
                authority: faucet.authority,
            });
        }
        let slot = self.slot;
        self.prune_faucet_windows(slot);
        let (window, new) = self.faucet_plan(&faucet, to, amount, slot)?;
        let fee = self.genesis.fee_roe;
        let created = amount.checked_add(fee).ok_or(TxError::Overflow)?;
        let meta = self.meta.get_mut(&()).expect("meta");
        // Cannot overflow: genesis validation keeps supply + cap_roe within u64, and the
        // cap was checked above.
        meta.faucet_minted_roe = meta
            .faucet_minted_roe
            .checked_add(created)
            .ok_or(TxError::Overflow)?;
        meta.minted_roe = meta
            .minted_roe
            .checked_add(created)
            .ok_or(TxError::Overflow)?;
        if fee > 0 {
            self.burn(fee);
        }
        if new {
            let expires = window.start.saturating_add(faucet.recipient_window_slots);
            self.faucet_expiry.insert((expires, *to), ());
        }
        self.faucet_windows.insert(*to, window);
        self.credit(to, amount)
    }

    /// Forget up to [`FAUCET_PRUNE_PER_MINT`] recipient windows that ended by `slot`: every
    /// mint adds at most one window and removes up to this many ended ones, so the faucet
    /// tables hold about the windows still open.
    fn prune_faucet_windows(&mut self, slot: Slot) {
        let ended: Vec<(Slot, Pubkey)> = self
            .faucet_expiry
            .range(..=(slot, Pubkey([0xff; 32])))
            .take(FAUCET_PRUNE_PER_MINT)
            .map(|(k, ())| *k)
            .collect();
        let n = self
            .genesis
            .faucet
            .as_ref()
            .map_or(0, |f| f.recipient_window_slots);
        for (expires, who) in ended {
            self.faucet_expiry.remove(&(expires, who));
            // The recipient may have opened a newer window since (indexed by its own expiry).
            let ended = self
                .faucet_windows
                .get(&who)
                .is_some_and(|w| w.start.saturating_add(n) == expires);
            if ended {
                self.faucet_windows.remove(&who);
            }
        }
    }

    fn create_task(
        &mut self,
        signer: &Pubkey,
        nonce: u64,
        params: &TaskParams,
        bounty: u64,
    ) -> Result<(), TxError> {
        params
            .validate_for_chain(self.genesis.slot_ms)
            .map_err(TxError::BadParams)?;
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
                terms_log: vec![(0, RoundTerms::of(params, true))],
                queued_draws: 0,
                queued_draw_seats: 0,
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
        params
            .validate_for_chain(self.genesis.slot_ms)
            .map_err(TxError::BadParams)?;
        let t = self.tasks.get(task).expect("checked");
        if !t.params.same_timing(params) {
            return Err(TxError::TimingIsFixed);
        }
        let clock = self.task_clock(t);
        let next_round_start = clock.start(clock.round(self.slot) + 1);
        self.tasks.get_mut(task).expect("checked").pending_params = Some(params.clone());
        self.schedule_at(next_round_start, *task, Work::ApplyUpdate);
        Ok(())
    }

    fn close_task(&mut self, signer: &Pubkey, task: &TaskId) -> Result<(), TxError> {
        self.managed_task(signer, task)?;
        let t = self.tasks.get(task).expect("checked");
        if t.is_active {
            return Err(TxError::TaskStillActive);
        }
        // Round terms (SPEC §2): the round that was active when the task was deactivated
        // still takes proofs in the next round; wait until no round that may still receive
        // proofs was active.
        let current = self.task_clock(t).round(self.slot);
        if let Some(round) = [current.saturating_sub(1), current]
            .into_iter()
            .find(|r| t.terms_for(*r).is_active)
        {
            return Err(TxError::RoundStillActive { round });
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
        owner: Option<Pubkey>,
    ) -> Result<(), TxError> {
        nonzero(amount)?;
        let minimum = self.open_task(task)?.params.minimum_stake;
        let current = self.slot_round(task);
        let key = (*task, *signer);
        // A record with nothing staked only remembers an owner other than the node.
        let prev = self.stakes.get(&key).cloned().filter(|s| s.amount > 0);
        if let Some(since_round) = prev.as_ref().and_then(|s| s.unstake_round) {
            return Err(TxError::Unstaking { since_round });
        }
        let slot = self.slot;
        let rec = match prev {
            None => {
                // SPEC §7 [v2]: no dust records; a first stake must reach the minimum.
                if amount < minimum {
                    return Err(TxError::StakeBelowMinimum {
                        stake: amount,
                        minimum,
                    });
                }
                // An empty record left by a withdrawal remembers its owner; only that owner
                // may hand it to another (SetStakeOwner).
                let kept = self.stakes.get(&key).map(|s| s.owner);
                if let (Some(kept), Some(o)) = (kept, owner) {
                    if kept != o {
                        return Err(TxError::OwnerMismatch {
                            owner: kept,
                            got: o,
                        });
                    }
                }
                let owner = kept.or(owner).unwrap_or(*signer);
                StakeRecord {
                    amount,
                    url: url.to_string(),
                    owner,
                    staked_slot: slot,
                    unstake_round: None,
                    withdraw_round: None,
                    // Nothing was staked at this round's start.
                    history: vec![(current, 0)],
                    settlement_locks: self.stakes.get(&key).map_or(0, |s| s.settlement_locks),
                }
            }
            Some(mut s) => {
                if let Some(o) = owner.filter(|o| *o != s.owner) {
                    return Err(TxError::OwnerMismatch {
                        owner: s.owner,
                        got: o,
                    });
                }
                if s.amount < minimum {
                    s.staked_slot = slot;
                }
                s.note_change(current);
                s.amount = s.amount.checked_add(amount).ok_or(TxError::Overflow)?;
                if !url.is_empty() {
                    s.url = url.to_string();
                }
                s
            }
        };
        self.debit(signer, amount)?;
        self.stakes.insert(key, rec);
        Ok(())
    }

    /// Who receives a node's withdrawals and claims: its stake's owner (SPEC §7 [v2]).
    fn payee(&self, task: &TaskId, node: &Pubkey) -> Pubkey {
        self.stakes.get(&(*task, *node)).map_or(*node, |s| s.owner)
    }

    fn withdraw(&mut self, signer: &Pubkey, task: &TaskId) -> Result<(), TxError> {
        let round = self.current_round(task)?;
        let closed = self.known_task(task)?.closed;
        let key = (*task, *signer);
        let s = self
            .stakes
            .get(&key)
            .filter(|s| s.amount > 0)
            .ok_or(TxError::NotStaked { node: *signer })?;
        // A closed task has nothing left to slash: its stakes come back at once.
        if !closed {
            let unstake_round = s.unstake_round.ok_or(TxError::NotUnstaking)?;
            let withdraw_round = s.withdraw_round.unwrap_or(unstake_round);
            if round < withdraw_round {
                return Err(TxError::CooldownNotOver {
                    unstake_round,
                    withdraw_round,
                    round,
                });
            }
            if s.settlement_locks > 0 {
                return Err(TxError::LockedUntilSettled {
                    rounds: s.settlement_locks,
                });
            }
        }
        let (amount, owner) = (s.amount, s.owner);
        if owner == *signer {
            self.stakes.remove(&key);
        } else {
            // Keep an empty record so rewards that arrive later still go to the owner.
            let s = self.stakes.get_mut(&key).expect("checked");
            s.amount = 0;
            s.unstake_round = None;
            s.withdraw_round = None;
            s.history.clear();
        }
        self.credit(&owner, amount)
    }

    fn submit_proof(
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

    /// Whether `node` is in the pool the committee of an audit of `round` is drawn from:
    /// eligible by its stake at the start of the round of the proof audit window (SPEC §5).
    fn may_sit_on_audit(&self, task: &TaskId, round: u64, node: &Pubkey) -> bool {
        let (Some(t), Some(rec)) = (self.tasks.get(task), self.rounds.get(&(*task, round))) else {
            return false;
        };
        let clock = self.task_clock(t);
        let weight_round = clock.round(clock.window(Window::ProofAudit, round, 0).opens);
        self.stakes
            .get(&(*task, *node))
            .and_then(|s| s.eligible_weight(weight_round, rec.terms.minimum_stake))
            .is_some()
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
            .ok_or(TxError::NotDistributing {
                round,
                status: RoundState::Unknown,
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
                status: RoundState::of(&rec.status),
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
            self.full_staker(task, signer, rec.terms.minimum_stake)?;
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
        let up = self.attempts.get(&akey).expect("checked").upload.clone();
        if up.chunks == 0 {
            return Err(TxError::MissingChunk { index: 0 });
        }
        if up.entries != count {
            return Err(TxError::CountMismatch {
                got: up.entries,
                expected: count,
            });
        }
        // O(1) checks first: after the hash only a digest mismatch (which keeps the hash)
        // or success can follow.
        let sum = up.sum_roe;
        let limit = self.payable_limit(task, round);
        if sum > limit {
            return Err(TxError::RewardsExceedLimit { sum, limit });
        }
        // Entries were checked chunk by chunk at upload; only the digest is left. It is
        // computed once and kept, sealing the upload: hashing is O(entries), and a submitter
        // repeating a wrong digest must not make every block pay for it again.
        let got = match up.digest {
            Some(got) => got,
            None => {
                let mut hasher = DistributionHasher::new();
                for (_, entries) in self
                    .chunks
                    .range((*task, round, attempt, 0)..=(*task, round, attempt, u32::MAX))
                {
                    for e in entries {
                        hasher.update(e);
                    }
                }
                let got = hasher.finalize();
                let att = self.attempts.get_mut(&akey).expect("checked");
                att.upload.digest = Some(got);
                got
            }
        };
        if got != *digest {
            return Err(TxError::DigestMismatch {
                got,
                expected: *digest,
            });
        }
        self.tasks.get_mut(task).expect("checked").reserved_bounty += sum;
        self.attempts.get_mut(&akey).expect("checked").list = Some(SubmittedList {
            digest: *digest,
            count,
            chunks: up.chunks,
            total_roe: sum,
            slot: self.slot,
            seed: distribution_seed(&self.randomness, task, round, attempt),
        });
        // SPEC §6 *Vindication*: the submitter stays slashable until the round settles.
        self.lock(task, signer);
        self.schedule_at(self.slot, *task, Work::DrawDistribution { round, attempt });
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
        // A voter may be slashed if a later attempt vindicates the list (SPEC §6).
        self.lock(task, signer);
        Ok(())
    }

    /// Most a list of `round` may pay: the round's `bounty_per_round`, within what the task
    /// holds and has not promised to other lists.
    fn payable_limit(&self, task: &TaskId, round: u64) -> u64 {
        let t = self.tasks.get(task).expect("checked");
        let per_round = self
            .rounds
            .get(&(*task, round))
            .map_or(0, |r| r.terms.bounty_per_round);
        per_round.min(t.total_bounty - t.reserved_bounty)
    }

    /// Chunks are checked as they arrive (SPEC §6 [v2]): in order, entries strictly
    /// ascending across the whole list, only non-voided submitters, never more entries than
    /// the round has submitters, never more than the round may pay. So no attempt can park
    /// more data than one full list.
    fn upload_chunk(
        &mut self,
        task: &TaskId,
        round: u64,
        attempt: u16,
        index: u32,
        entries: &[(Pubkey, u64)],
    ) -> Result<(), TxError> {
        let akey = (*task, round, attempt);
        let att = self.attempts.get(&akey).expect("checked");
        if att.list.is_some() {
            return Err(TxError::ListAlreadySubmitted);
        }
        let mut up = att.upload.clone();
        if let Some(digest) = up.digest {
            return Err(TxError::UploadSealed { digest });
        }
        if index != up.chunks {
            return Err(TxError::ChunkOutOfOrder {
                got: index,
                expected: up.chunks,
            });
        }
        let submitters = self.rounds.get(&(*task, round)).map_or(0, |r| r.submitters);
        if u64::from(up.entries) + entries.len() as u64 > submitters {
            return Err(TxError::TooManyEntries { max: submitters });
        }
        for (i, e) in entries.iter().enumerate() {
            if up.last_node.is_some_and(|p| p >= e.0) {
                return Err(TxError::EntriesNotSorted {
                    index: up.entries + i as u32,
                });
            }
            up.last_node = Some(e.0);
            match self.submissions.get(&(*task, round, e.0)) {
                Some(s) if !s.voided => {}
                _ => return Err(TxError::NotASubmitter { node: e.0, round }),
            }
            up.sum_roe = up.sum_roe.checked_add(e.1).ok_or(TxError::Overflow)?;
        }
        up.entries += entries.len() as u32;
        up.chunks += 1;
        let limit = self.payable_limit(task, round);
        if up.sum_roe > limit {
            return Err(TxError::RewardsExceedLimit {
                sum: up.sum_roe,
                limit,
            });
        }
        self.chunks
            .insert((*task, round, attempt, index), entries.to_vec());
        self.attempts.get_mut(&akey).expect("checked").upload = up;
        Ok(())
    }

    // ----- shared checks ---------------------------------------------------------------------

    /// Stake ≥ minimum and not unstaking: who may raise audits and submit lists.
    fn full_staker(&self, task: &TaskId, node: &Pubkey, minimum: u64) -> Result<(), TxError> {
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
