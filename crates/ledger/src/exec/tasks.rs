//! Tasks (create, update, close) and stakes (stake, withdraw) (SPEC §2, §4, §7).

use super::*;

impl Ledger {
    pub(super) fn create_task(
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

    pub(super) fn update_task(
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

    pub(super) fn close_task(&mut self, signer: &Pubkey, task: &TaskId) -> Result<(), TxError> {
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

    pub(super) fn stake_roe(
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
    pub(super) fn payee(&self, task: &TaskId, node: &Pubkey) -> Pubkey {
        self.stakes.get(&(*task, *node)).map_or(*node, |s| s.owner)
    }

    pub(super) fn withdraw(&mut self, signer: &Pubkey, task: &TaskId) -> Result<(), TxError> {
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
}
