//! What is checked of a transaction before it runs: its signature ([`CheckedTx`]) and its
//! envelope (SPEC §1), one function for the ledger and the validator's door; and which
//! failures use up a signature.

use crate::error::TxError;
use gradual_types::{Genesis, Message, Slot, Transaction};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A transaction whose signature has been checked. Only [`CheckedTx::check`] and
/// [`CheckedTx::check_all`] make one, so the ledger never trusts a caller's word.
#[derive(Debug, Clone)]
pub struct CheckedTx {
    pub(crate) tx: Transaction,
    pub(crate) sig_ok: bool,
}

impl CheckedTx {
    pub fn check(tx: Transaction) -> CheckedTx {
        let sig_ok = tx.verify();
        CheckedTx { tx, sig_ok }
    }

    /// Check signatures on `threads` threads (signature checks dominate block cost).
    pub fn check_all(txs: Vec<Transaction>, threads: usize) -> Vec<CheckedTx> {
        let threads = threads.max(1);
        if threads == 1 || txs.len() < 64 {
            return txs.into_iter().map(CheckedTx::check).collect();
        }
        // Threads take small batches from a shared counter rather than one fixed share each,
        // so a thread that loses its core for a while (e.g. to a block being applied) does
        // not leave the others idle at the end.
        const BATCH: usize = 32;
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done: Vec<(usize, bool)> = Vec::new();
            loop {
                let lo = next.fetch_add(BATCH, Ordering::Relaxed);
                if lo >= txs.len() {
                    return done;
                }
                let hi = (lo + BATCH).min(txs.len());
                done.extend((lo..hi).map(|i| (i, txs[i].verify())));
            }
        };
        let parts: Vec<Vec<(usize, bool)>> = std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
            let mut parts = vec![work()];
            parts.extend(
                helpers
                    .into_iter()
                    .map(|h| h.join().expect("verifier thread panicked")),
            );
            parts
        });
        let mut oks = vec![false; txs.len()];
        let mut checked = 0;
        for (i, ok) in parts.into_iter().flatten() {
            oks[i] = ok;
            checked += 1;
        }
        assert_eq!(checked, txs.len(), "every signature checked once");
        txs.into_iter()
            .zip(oks)
            .map(|(tx, sig_ok)| CheckedTx { tx, sig_ok })
            .collect()
    }

    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    pub fn signature_ok(&self) -> bool {
        self.sig_ok
    }
}

impl TxError {
    /// Whether a tx rejected with this error still used up its signature. Envelope failures
    /// that could pass later (a future `recent_slot`) or that prove nothing (a bad signature)
    /// do not; everything else is processed at most once.
    pub fn marks_seen(&self) -> bool {
        !matches!(
            self,
            TxError::BadSignature { .. }
                | TxError::WrongChain { .. }
                | TxError::Expired { .. }
                | TxError::FutureSlot { .. }
                | TxError::Duplicate
                | TxError::CannotPayFee { .. }
        )
    }
}

impl TxError {
    /// Whether the transaction's changes stand although it reports an error: a batch of
    /// votes of which some were counted (SPEC §1 [v2]: each vote succeeds or fails alone),
    /// and a list submission with the wrong digest, which seals the upload with the digest
    /// it computed (so the list is never hashed twice).
    pub fn keeps_changes(&self) -> bool {
        matches!(self, TxError::VotesRefused { applied, .. } if *applied > 0)
            || matches!(self, TxError::DigestMismatch { .. })
    }
}

/// The envelope of a transaction (SPEC §1), in the order the ledger checks it: signature,
/// chain, then `recent_slot` within `[landing − tx_max_age_slots, newest]`. None of these
/// failures uses up the signature ([`TxError::marks_seen`]). The ledger checks a block's
/// transactions with `newest = landing =` its slot; the validator's door, before any block,
/// with `newest` its head (a `recent_slot` must name a slot it has seen) and `landing` the
/// head + 1 (the earliest block the transaction can land in).
pub fn check_envelope(
    genesis: &Genesis,
    tx: &Transaction,
    sig_ok: bool,
    newest: Slot,
    landing: Slot,
) -> Result<(), TxError> {
    let m = &tx.message;
    if !sig_ok {
        return Err(TxError::BadSignature { signer: m.signer });
    }
    if m.chain_id != genesis.chain_id {
        return Err(TxError::WrongChain {
            got: m.chain_id.clone(),
            expected: genesis.chain_id.clone(),
        });
    }
    if m.recent_slot > newest {
        return Err(TxError::FutureSlot {
            recent_slot: m.recent_slot,
            slot: newest,
        });
    }
    let max_age = genesis.tx_max_age_slots;
    if m.recent_slot.saturating_add(max_age) < landing {
        return Err(TxError::Expired {
            recent_slot: m.recent_slot,
            slot: landing,
            max_age,
        });
    }
    Ok(())
}

/// The fee offered is at least the chain's `fee_roe` (SPEC §1 [v2]).
pub fn check_fee_offered(genesis: &Genesis, m: &Message) -> Result<(), TxError> {
    if m.fee < genesis.fee_roe {
        return Err(TxError::FeeTooLow {
            offered: m.fee,
            required: genesis.fee_roe,
        });
    }
    Ok(())
}
