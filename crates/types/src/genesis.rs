//! Genesis: the parameters a chain starts from. Its hash is the parent of the first block.

use crate::hash::{tags, Hash};
use crate::keys::Pubkey;
use crate::vrf::{ValidatorInfo, ValidatorKey};
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
    /// Protocol version of the rules this chain runs (SPEC §1 *Versions*); a store or block of
    /// another version is refused, never misread.
    pub protocol_version: u32,
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
    /// The first validator set (SPEC §1: block producers' keys are ledger state).
    pub validators: Vec<ValidatorInfo>,
    /// Who may change the validator set (`SetValidators`); `None` fixes it for good.
    pub admin: Option<Pubkey>,
}

impl Default for Genesis {
    fn default() -> Self {
        Genesis {
            protocol_version: crate::constants::PROTOCOL_VERSION,
            chain_id: "gradual-devnet".into(),
            slot_ms: 400,
            fee_roe: 0,
            tx_max_age_slots: 600,
            faucet: None,
            accounts: Vec::new(),
            validators: vec![ValidatorKey::devnet().info()],
            admin: None,
        }
    }
}

/// A genesis parameter that cannot start a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenesisError {
    #[error("chain_id must be 1 to {max} bytes, got {got}")]
    ChainId { got: usize, max: usize },
    #[error("slot_ms must be at least 1, got 0")]
    SlotMs,
    #[error("tx_max_age_slots must be at least 1, got 0")]
    TxMaxAge,
    #[error(
        "initial balances add up to more than the largest supply (18446744073.709551615 KOII)"
    )]
    SupplyOverflow,
    #[error("faucet mint_max_roe must be at least 1, got 0")]
    FaucetMax,
    #[error("protocol_version is {got}, this build runs version {expected}")]
    ProtocolVersion { got: u32, expected: u32 },
    #[error("the validator set must name 1 to {max} validators, got {got}")]
    Validators { got: usize, max: usize },
    #[error("validator {0} is named twice")]
    DuplicateValidator(Pubkey),
}

impl Genesis {
    /// Check that this genesis can start a chain.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let max = crate::constants::CHAIN_ID_BYTES_MAX;
        if self.chain_id.is_empty() || self.chain_id.len() > max {
            return Err(GenesisError::ChainId {
                got: self.chain_id.len(),
                max,
            });
        }
        if self.slot_ms == 0 {
            return Err(GenesisError::SlotMs);
        }
        if self.tx_max_age_slots == 0 {
            return Err(GenesisError::TxMaxAge);
        }
        if self.protocol_version != crate::constants::PROTOCOL_VERSION {
            return Err(GenesisError::ProtocolVersion {
                got: self.protocol_version,
                expected: crate::constants::PROTOCOL_VERSION,
            });
        }
        validate_validator_set(&self.validators)?;
        if self.faucet.as_ref().is_some_and(|f| f.mint_max_roe == 0) {
            return Err(GenesisError::FaucetMax);
        }
        self.accounts
            .iter()
            .try_fold(0u64, |acc, (_, b)| acc.checked_add(*b))
            .ok_or(GenesisError::SupplyOverflow)?;
        Ok(())
    }

    pub fn hash(&self) -> Hash {
        Hash::domain(tags::GENESIS, &[&borsh::to_vec(self).expect("vec write")])
    }
}

/// A validator set must be non-empty, bounded and name each key once.
pub fn validate_validator_set(set: &[ValidatorInfo]) -> Result<(), GenesisError> {
    let max = crate::constants::VALIDATORS_MAX;
    if set.is_empty() || set.len() > max {
        return Err(GenesisError::Validators {
            got: set.len(),
            max,
        });
    }
    let mut ids: Vec<Pubkey> = set.iter().map(|v| v.id).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(GenesisError::DuplicateValidator(w[0]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_bad_field() {
        assert!(Genesis::default().validate().is_ok());
        let g = Genesis {
            chain_id: String::new(),
            ..Genesis::default()
        };
        assert_eq!(
            g.validate().unwrap_err(),
            GenesisError::ChainId { got: 0, max: 32 }
        );
        let g = Genesis {
            slot_ms: 0,
            ..Genesis::default()
        };
        assert_eq!(g.validate().unwrap_err(), GenesisError::SlotMs);
        let g = Genesis {
            accounts: vec![(Pubkey([1; 32]), u64::MAX), (Pubkey([2; 32]), 1)],
            ..Genesis::default()
        };
        assert_eq!(g.validate().unwrap_err(), GenesisError::SupplyOverflow);
        assert_ne!(
            Genesis::default().hash(),
            Genesis {
                fee_roe: 1,
                ..Genesis::default()
            }
            .hash()
        );
    }
}
