//! Genesis: the parameters a chain starts from. Its hash is the parent of the first block.

use crate::hash::{tags, Hash};
use crate::keys::Pubkey;
use borsh::{BorshDeserialize, BorshSerialize};

/// Devnet faucet: an authority whose `FaucetMint` transactions create ROE.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Faucet {
    pub authority: Pubkey,
    /// Most one mint may create.
    pub mint_max_roe: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Genesis {
    pub chain_id: String,
    /// Slot duration for the validator's clock; the ledger itself never reads time.
    pub slot_ms: u64,
    /// Flat fee per successful transaction, burned (SPEC §1).
    pub fee_roe: u64,
    /// A transaction is valid for this many slots after its `recent_slot`.
    pub tx_max_age_slots: u64,
    pub faucet: Option<Faucet>,
    /// Initial balances.
    pub accounts: Vec<(Pubkey, u64)>,
}

impl Default for Genesis {
    fn default() -> Self {
        Genesis {
            chain_id: "gradual-devnet".into(),
            slot_ms: 400,
            fee_roe: 0,
            tx_max_age_slots: 600,
            faucet: None,
            accounts: Vec::new(),
        }
    }
}

impl Genesis {
    pub fn hash(&self) -> Hash {
        Hash::domain(tags::GENESIS, &[&borsh::to_vec(self).expect("vec write")])
    }
}
