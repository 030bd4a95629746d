//! A bounded FIFO of transactions waiting for a block. Transactions reach it only after the
//! door checks (decode, limits, signature); the ledger re-checks everything when it applies
//! them.

use gradual_types::{Signature, Transaction};
use std::collections::{HashSet, VecDeque};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    #[error("mempool is full ({max} transactions waiting); retry in a few slots")]
    Full { max: usize },
    #[error("transaction is already waiting in the mempool")]
    AlreadyPending,
}

pub struct Mempool {
    queue: VecDeque<Transaction>,
    /// Ids waiting in `queue` plus those taken by the block being produced, so a status
    /// query never sees a transaction vanish between the mempool and the store.
    pending: HashSet<Signature>,
    in_flight: Vec<Signature>,
    max: usize,
}

impl Mempool {
    pub fn new(max: usize) -> Mempool {
        assert!(max > 0, "mempool capacity must be positive");
        Mempool {
            queue: VecDeque::new(),
            pending: HashSet::new(),
            in_flight: Vec::new(),
            max,
        }
    }

    pub fn push(&mut self, tx: Transaction) -> Result<(), PushError> {
        if self.pending.contains(&tx.signature) {
            return Err(PushError::AlreadyPending);
        }
        if self.queue.len() >= self.max {
            return Err(PushError::Full { max: self.max });
        }
        self.pending.insert(tx.signature);
        self.queue.push_back(tx);
        debug_assert!(self.queue.len() <= self.max);
        Ok(())
    }

    /// Take up to `n` transactions, oldest first, for the next block. They count as pending
    /// until [`Mempool::finish_block`].
    pub fn take(&mut self, n: usize) -> Vec<Transaction> {
        assert!(
            self.in_flight.is_empty(),
            "take called twice without finish_block"
        );
        let n = n.min(self.queue.len());
        let txs: Vec<Transaction> = self.queue.drain(..n).collect();
        self.in_flight = txs.iter().map(|t| t.signature).collect();
        txs
    }

    /// The block holding the taken transactions is committed (their status is now in the
    /// store).
    pub fn finish_block(&mut self) {
        for id in self.in_flight.drain(..) {
            self.pending.remove(&id);
        }
        debug_assert_eq!(self.pending.len(), self.queue.len());
    }

    pub fn contains(&self, id: &Signature) -> bool {
        self.pending.contains(id)
    }

    /// Transactions waiting (not counting those in the block being produced).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::{Instruction, Keypair, Pubkey};

    fn tx(i: u64) -> Transaction {
        Transaction::new_signed(
            &Keypair::from_seed([1; 32]),
            "t",
            i,
            0,
            Instruction::Transfer {
                to: Pubkey([2; 32]),
                amount: 1,
            },
        )
    }

    #[test]
    fn bounded_fifo_with_dedup_and_in_flight_tracking() {
        let mut m = Mempool::new(2);
        m.push(tx(1)).unwrap();
        assert_eq!(m.push(tx(1)), Err(PushError::AlreadyPending));
        m.push(tx(2)).unwrap();
        assert_eq!(m.push(tx(3)), Err(PushError::Full { max: 2 }));
        let taken = m.take(1);
        assert_eq!(taken, vec![tx(1)]);
        assert!(m.contains(&tx(1).signature), "in flight still counts");
        assert_eq!(m.len(), 1);
        m.push(tx(3)).unwrap();
        m.finish_block();
        assert!(!m.contains(&tx(1).signature));
        assert!(m.contains(&tx(2).signature));
        assert_eq!(m.take(10).len(), 2);
        m.finish_block();
        assert!(m.is_empty());
    }
}
