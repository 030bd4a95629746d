//! One transaction: the envelope (`crate::envelope`), the fee, then the instruction (`exec`),
//! all-or-nothing.

use super::*;
use crate::envelope::{check_envelope, check_fee_offered};

impl Ledger {
    /// Apply one transaction; `fee_charged` receives the ROE it burned as its fee (receipts
    /// carry it, so clients never re-derive the fee rule).
    pub(super) fn apply_tx(
        &mut self,
        checked: &CheckedTx,
        fee_charged: &mut u64,
    ) -> Result<(), TxError> {
        let tx = &checked.tx;
        let m = &tx.message;
        check_envelope(&self.genesis, tx, checked.sig_ok, self.slot, self.slot)?;
        if self.seen.contains(&tx.signature) {
            return Err(TxError::Duplicate);
        }
        self.seen.insert(tx.signature);
        // Limits were checked at decode; a block built in-process may skip decode.
        tx.check_limits()
            .map_err(|e| TxError::Limits(e.to_string()))?;
        check_fee_offered(&self.genesis, m)?;
        // SPEC §1 [v2]: block space is never free. The envelope is valid, so the fee is
        // charged (and burned) before the instruction runs and stays charged if the
        // instruction is rejected; a signer that cannot pay it is refused with no change.
        match self.charge_fee(&m.signer, &m.instruction) {
            Ok(charged) => *fee_charged = charged,
            Err(e) => {
                // Nothing happened: the same transaction may pass once the signer is funded.
                self.seen.remove(&tx.signature);
                return Err(e);
            }
        }
        for t in self.tables_mut() {
            t.begin_tx();
        }
        let result = self.execute(&m.signer, &m.instruction);
        match &result {
            Ok(()) => self.tables_mut().into_iter().for_each(|t| t.commit_tx()),
            Err(e) if e.keeps_changes() => {
                self.tables_mut().into_iter().for_each(|t| t.commit_tx())
            }
            Err(_) => self.tables_mut().into_iter().for_each(|t| t.rollback_tx()),
        }
        // A faucet mint pays its fee out of what it mints, and only when it mints.
        if result.is_ok() && self.genesis.fee_paid_by_mint(&m.signer, &m.instruction) {
            *fee_charged = self.genesis.fee_roe;
        }
        result
    }

    /// A point inside the open transaction to roll back to: one vote of a batch stands or
    /// falls on its own (SPEC §1 [v2]).
    pub(crate) fn savepoint(&mut self) -> Vec<usize> {
        self.tables().iter().map(|t| t.savepoint()).collect()
    }

    /// Undo what happened since `points` ([`Ledger::savepoint`]); the transaction stays open.
    pub(crate) fn rollback_to(&mut self, points: &[usize]) {
        let mut it = points.iter();
        for t in self.tables_mut() {
            t.rollback_to(*it.next().expect("a point per table"));
        }
    }

    pub(super) fn charge_fee(
        &mut self,
        signer: &Pubkey,
        ix: &gradual_types::Instruction,
    ) -> Result<u64, TxError> {
        // The faucet authority holds nothing: its mint pays the fee (exec `faucet_mint`).
        let fee = self.genesis.fee_due(signer, ix);
        if fee == 0 {
            return Ok(0);
        }
        let available = self.balance(signer);
        if available < fee {
            return Err(TxError::CannotPayFee {
                account: *signer,
                fee,
                available,
            });
        }
        self.debit(signer, fee).expect("balance checked");
        self.burn(fee);
        Ok(fee)
    }
}
