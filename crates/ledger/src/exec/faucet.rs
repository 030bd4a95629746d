//! The devnet faucet (docs/protocol.md *Faucet*): mints, recipient windows and their pruning.

use super::*;

/// Ended faucet windows a mint forgets (see `Ledger::prune_faucet_windows`).
pub(crate) const FAUCET_PRUNE_PER_MINT: usize = 4;

impl Ledger {
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
    pub(super) fn faucet_plan(
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
    pub(super) fn faucet_mint(
        &mut self,
        signer: &Pubkey,
        to: &Pubkey,
        amount: u64,
    ) -> Result<(), TxError> {
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
    pub(super) fn prune_faucet_windows(&mut self, slot: Slot) {
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
}
