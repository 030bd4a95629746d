//! Replaying a block produced elsewhere (a store's log, a test's or simulator's chain): the
//! one way every replay re-applies a block and decides that it matches.

use super::*;
use crate::error::ReplayError;

impl Ledger {
    /// Re-apply `block` on this ledger (SPEC §1: anyone holding the blocks reproduces the
    /// state): its parent and seal come from its header, every signature is checked again
    /// (on `threads` threads), and the result must reproduce its header (the state root
    /// named first) and, when given, its `receipts`.
    pub fn replay_block(
        &mut self,
        block: Block,
        receipts: Option<&[Receipt]>,
        threads: usize,
    ) -> Result<BlockOutput, ReplayError> {
        let header = block.header;
        let checked = CheckedTx::check_all(block.txs, threads);
        let out = self.apply_block(header.slot, header.parent_hash, header.seal(), checked)?;
        let diverged = |what, stored: String, replayed: String| {
            Err(ReplayError::Diverged {
                what,
                stored,
                replayed,
            })
        };
        let got = &out.block.header;
        if got.state_root != header.state_root {
            return diverged(
                "state root",
                header.state_root.to_string(),
                got.state_root.to_string(),
            );
        }
        if *got != header {
            return diverged("header", format!("{header:?}"), format!("{got:?}"));
        }
        if let Some(stored) = receipts {
            if out.receipts != stored {
                return diverged(
                    "receipts",
                    format!("{stored:?}"),
                    format!("{:?}", out.receipts),
                );
            }
        }
        Ok(out)
    }
}
