//! What a transaction's fee is, given the chain's genesis: here, next to the instructions it
//! prices, so that `genesis` need not know the instruction set.

use super::Instruction;
use crate::{Genesis, Pubkey};

impl Genesis {
    /// Whether the fee of `signer`'s `ix` is paid out of a faucet mint instead of the
    /// signer's balance: true for a `FaucetMint` signed by the faucet authority, which holds
    /// nothing (docs/protocol.md *Faucet*). The ledger then mints the fee with the amount
    /// and burns it; the validator's door does not ask the authority for a balance.
    pub fn fee_paid_by_mint(&self, signer: &Pubkey, ix: &Instruction) -> bool {
        matches!(ix, Instruction::FaucetMint { .. })
            && self.faucet.as_ref().is_some_and(|f| f.authority == *signer)
    }

    /// The fee `signer`'s `ix` takes from the signer's balance: `fee_roe`, or 0 when the
    /// faucet mint pays it ([`Genesis::fee_paid_by_mint`]). The ledger charges it; the
    /// validator's door asks the signer's balance for it.
    pub fn fee_due(&self, signer: &Pubkey, ix: &Instruction) -> u64 {
        if self.fee_paid_by_mint(signer, ix) {
            0
        } else {
            self.fee_roe
        }
    }
}
