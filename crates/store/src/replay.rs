//! Replay from genesis: every stored block re-applied and checked against what was stored.

use crate::*;
use gradual_ledger::ReplayError;

impl Store {
    /// Re-apply every stored block to a fresh ledger from the genesis, re-checking every
    /// signature and every block's seal (producer in the validator set, VRF proof of its
    /// randomness), and check each replayed header and receipt against the stored one.
    /// Returns the final state root (which equals the head's).
    pub fn replay(&self) -> Result<Hash, StoreError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut ledger = Ledger::new(self.genesis.clone());
        let mut next: Slot = 0;
        loop {
            let batch = self.blocks_from(next, REPLAY_BATCH_BLOCKS)?;
            let Some(last) = batch.last() else {
                break;
            };
            next = last.block.header.slot + 1;
            for stored in batch {
                let slot = stored.block.header.slot;
                ledger
                    .replay_block(stored.block, Some(&stored.receipts), threads)
                    .map_err(|e| match e {
                        ReplayError::Apply(source) => StoreError::ReplayFailed {
                            path: self.path.clone(),
                            slot,
                            source,
                        },
                        ReplayError::Diverged {
                            what,
                            stored,
                            replayed,
                        } => StoreError::ReplayDiverged {
                            path: self.path.clone(),
                            slot,
                            what,
                            stored,
                            replayed,
                        },
                    })?;
            }
        }
        let replayed = Head {
            slot: ledger.slot(),
            height: ledger.height(),
            hash: ledger.head_hash(),
            state_root: ledger.state_root(),
        };
        if replayed != self.head {
            return Err(StoreError::ReplayDiverged {
                path: self.path.clone(),
                slot: replayed.slot,
                what: "head",
                stored: format!("{:?}", self.head),
                replayed: format!("{replayed:?}"),
            });
        }
        Ok(replayed.state_root)
    }
}
