//! Genesis: the parameters a chain starts from. Its hash is the parent of the first block.

use crate::hash::{tags, Hash};
use crate::keys::Pubkey;
use crate::vrf::{ValidatorInfo, ValidatorKey};
use borsh::{BorshDeserialize, BorshSerialize};

/// Devnet faucet: an authority whose `FaucetMint` transactions create ROE, within limits the
/// ledger enforces (docs/protocol.md *Faucet*).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Faucet {
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58"))]
    pub authority: Pubkey,
    /// Most one mint may create.
    pub mint_max_roe: u64,
    /// Most one recipient may receive within `recipient_window_slots` slots of its first
    /// mint of the window.
    pub recipient_max_roe: u64,
    /// Length of a recipient's window, in slots.
    pub recipient_window_slots: u64,
    /// Most the faucet may ever create (amounts plus the fees its mints pay), over the
    /// chain's life.
    pub cap_roe: u64,
}

impl Faucet {
    /// Default recipient window: 150 slots (one minute at the default 400 ms slot).
    pub const RECIPIENT_WINDOW_SLOTS_DEFAULT: u64 = 150;
    /// Longest recipient window: about 46 days at 400 ms slots.
    pub const RECIPIENT_WINDOW_SLOTS_MAX: u64 = 10_000_000;
    /// Default lifetime cap: one billion KOII.
    pub const CAP_ROE_DEFAULT: u64 = 1_000_000_000 * crate::constants::ROE_PER_KOII;

    /// A faucet with the default limits: a recipient may receive `mint_max_roe` per
    /// window of [`Faucet::RECIPIENT_WINDOW_SLOTS_DEFAULT`] slots, and the faucet creates at
    /// most [`Faucet::CAP_ROE_DEFAULT`] in all.
    pub fn new(authority: Pubkey, mint_max_roe: u64) -> Faucet {
        Faucet {
            authority,
            mint_max_roe,
            recipient_max_roe: mint_max_roe,
            recipient_window_slots: Self::RECIPIENT_WINDOW_SLOTS_DEFAULT,
            cap_roe: Self::CAP_ROE_DEFAULT,
        }
    }
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
    /// Most bytes of encoded transactions one block may carry (SPEC §1 [v2]); at most
    /// [`crate::constants::BLOCK_BYTES_MAX`].
    pub block_max_bytes: u64,
    /// Most transactions one block may carry; at most [`crate::constants::BLOCK_TXS_MAX`].
    pub block_max_txs: u32,
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
            block_max_bytes: crate::constants::DEFAULT_BLOCK_MAX_BYTES,
            block_max_txs: crate::constants::BLOCK_TXS_MAX as u32,
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
    #[error("faucet recipient_max_roe must be at least 1, got 0")]
    FaucetRecipientMax,
    #[error("faucet recipient_window_slots must be 1 to {max}, got {got}")]
    FaucetWindow { got: u64, max: u64 },
    #[error("faucet cap_roe must be at least 1, got 0")]
    FaucetCap,
    #[error("initial balances plus the faucet cap_roe add up to more than the largest supply (18446744073.709551615 KOII); lower cap_roe")]
    FaucetCapOverflow,
    #[error("protocol_version is {got}, this build runs version {expected}")]
    ProtocolVersion { got: u32, expected: u32 },
    #[error("the validator set must name 1 to {max} validators, got {got}")]
    Validators { got: usize, max: usize },
    #[error("validator {0} is named twice")]
    DuplicateValidator(Pubkey),
    #[error("block_max_bytes must be {min} to {max}, got {got}")]
    BlockMaxBytes { got: u64, min: u64, max: u64 },
    #[error("block_max_txs must be 1 to {max}, got {got}")]
    BlockMaxTxs { got: u32, max: u32 },
}

impl Genesis {
    /// Most transactions one block may carry (SPEC §1 [v2]): the genesis `block_max_txs`,
    /// never past the protocol maximum. The one place producers and the ledger read it.
    pub fn block_txs_limit(&self) -> usize {
        (self.block_max_txs as usize).min(crate::constants::BLOCK_TXS_MAX)
    }

    /// Most bytes of encoded transactions one block may carry (SPEC §1 [v2]): the genesis
    /// `block_max_bytes`, never past the protocol maximum.
    pub fn block_bytes_limit(&self) -> u64 {
        self.block_max_bytes.min(crate::constants::BLOCK_BYTES_MAX)
    }

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
        let (min, max) = (
            crate::constants::TX_BYTES_MAX as u64,
            crate::constants::BLOCK_BYTES_MAX,
        );
        if !(min..=max).contains(&self.block_max_bytes) {
            return Err(GenesisError::BlockMaxBytes {
                got: self.block_max_bytes,
                min,
                max,
            });
        }
        let max = crate::constants::BLOCK_TXS_MAX as u32;
        if self.block_max_txs == 0 || self.block_max_txs > max {
            return Err(GenesisError::BlockMaxTxs {
                got: self.block_max_txs,
                max,
            });
        }
        let supply = self
            .accounts
            .iter()
            .try_fold(0u64, |acc, (_, b)| acc.checked_add(*b))
            .ok_or(GenesisError::SupplyOverflow)?;
        if let Some(f) = &self.faucet {
            if f.mint_max_roe == 0 {
                return Err(GenesisError::FaucetMax);
            }
            if f.recipient_max_roe == 0 {
                return Err(GenesisError::FaucetRecipientMax);
            }
            let max = Faucet::RECIPIENT_WINDOW_SLOTS_MAX;
            if f.recipient_window_slots == 0 || f.recipient_window_slots > max {
                return Err(GenesisError::FaucetWindow {
                    got: f.recipient_window_slots,
                    max,
                });
            }
            if f.cap_roe == 0 {
                return Err(GenesisError::FaucetCap);
            }
            // Every faucet mint then fits the ledger's supply counters.
            supply
                .checked_add(f.cap_roe)
                .ok_or(GenesisError::FaucetCapOverflow)?;
        }
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

    /// SPEC §1 [v2]: blocks are bounded by bytes and count; genesis names both within the
    /// protocol maxima.
    #[test]
    fn block_limits_are_validated() {
        use crate::constants::{BLOCK_BYTES_MAX, BLOCK_TXS_MAX, TX_BYTES_MAX};
        let d = Genesis::default();
        assert_eq!(d.block_max_bytes, 4 * 1024 * 1024);
        let g = Genesis {
            block_max_bytes: BLOCK_BYTES_MAX + 1,
            ..d.clone()
        };
        let bytes = |got| GenesisError::BlockMaxBytes {
            got,
            min: TX_BYTES_MAX as u64,
            max: BLOCK_BYTES_MAX,
        };
        assert_eq!(g.validate(), Err(bytes(BLOCK_BYTES_MAX + 1)));
        let g = Genesis {
            block_max_bytes: TX_BYTES_MAX as u64 - 1,
            ..d.clone()
        };
        assert_eq!(g.validate(), Err(bytes(TX_BYTES_MAX as u64 - 1)));
        let max = BLOCK_TXS_MAX as u32;
        for got in [0, max + 1] {
            let g = Genesis {
                block_max_txs: got,
                ..d.clone()
            };
            assert_eq!(g.validate(), Err(GenesisError::BlockMaxTxs { got, max }));
        }
        let g = Genesis {
            block_max_txs: max,
            block_max_bytes: BLOCK_BYTES_MAX,
            ..d
        };
        assert_eq!(g.validate(), Ok(()));
    }

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

    #[test]
    fn a_faucet_without_sane_limits_is_refused() {
        let faucet = |f: Faucet| Genesis {
            faucet: Some(f),
            ..Genesis::default()
        };
        let ok = Faucet::new(Pubkey([7; 32]), 10);
        assert!(faucet(ok.clone()).validate().is_ok());
        assert_eq!(
            faucet(Faucet {
                recipient_max_roe: 0,
                ..ok.clone()
            })
            .validate()
            .unwrap_err(),
            GenesisError::FaucetRecipientMax
        );
        assert_eq!(
            faucet(Faucet {
                recipient_window_slots: 0,
                ..ok.clone()
            })
            .validate()
            .unwrap_err(),
            GenesisError::FaucetWindow {
                got: 0,
                max: Faucet::RECIPIENT_WINDOW_SLOTS_MAX
            }
        );
        assert_eq!(
            faucet(Faucet {
                cap_roe: 0,
                ..ok.clone()
            })
            .validate()
            .unwrap_err(),
            GenesisError::FaucetCap
        );
        let g = Genesis {
            accounts: vec![(Pubkey([1; 32]), 2)],
            ..faucet(Faucet {
                cap_roe: u64::MAX - 1,
                ..ok
            })
        };
        assert_eq!(g.validate().unwrap_err(), GenesisError::FaucetCapOverflow);
    }
}
