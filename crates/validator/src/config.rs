//! Validator configuration, and the genesis file a new chain can start from.

use gradual_types::constants::CHAIN_ID_BYTES_MAX;
use gradual_types::{Faucet, Genesis, Keypair, Pubkey};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Fastest slot clock a validator runs (tests use 10–20 ms).
pub const SLOT_MS_MIN: u64 = 10;
/// Slowest slot clock (one minute).
pub const SLOT_MS_MAX: u64 = 60_000;

#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// Directory holding `ledger.redb`, `slot-clock` and `artifacts/`.
    pub data_dir: PathBuf,
    /// Where JSON-RPC, artifacts and metrics are served (`127.0.0.1:0` picks a free port).
    pub rpc_bind: SocketAddr,
    /// Used only when `data_dir` holds no chain yet.
    pub genesis: Genesis,
    /// Devnet faucet key; must be the genesis faucet authority. Enables `requestAirdrop`.
    pub faucet_keypair: Option<Keypair>,
    /// Transactions waiting for a block, at most.
    pub mempool_max_txs: usize,
    /// Transactions per block, at most.
    pub block_max_txs: usize,
    /// Largest JSON-RPC request body.
    pub body_max_bytes: usize,
    /// Most calls in one JSON-RPC batch.
    pub batch_max: usize,
    /// Largest artifact upload.
    pub artifact_max_bytes: usize,
    /// Base URL peers use to reach this validator (artifact URLs); defaults to the bound
    /// address.
    pub public_url: Option<String>,
}

impl ValidatorConfig {
    pub fn new(data_dir: PathBuf, rpc_bind: SocketAddr, genesis: Genesis) -> ValidatorConfig {
        ValidatorConfig {
            data_dir,
            rpc_bind,
            genesis,
            faucet_keypair: None,
            mempool_max_txs: 20_000,
            block_max_txs: 5_000,
            body_max_bytes: 2 * 1024 * 1024,
            batch_max: 100,
            artifact_max_bytes: 64 * 1024 * 1024,
            public_url: None,
        }
    }
}

/// Why a configuration or genesis file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("genesis file: {0}")]
    Parse(String),
    #[error("chain_id must be 1 to {max} bytes, got {got}")]
    ChainId { got: usize, max: usize },
    #[error("slot_ms is {got}, it must be between {min} and {max}")]
    SlotMs { got: u64, min: u64, max: u64 },
    #[error("tx_max_age_slots must be at least 1")]
    TxMaxAge,
    #[error("{field}: {reason}")]
    Key { field: String, reason: String },
    #[error("genesis balances add up to more than the ROE supply (u64)")]
    SupplyOverflow,
    #[error("faucet keypair is {got}, but this chain's faucet authority is {expected}; use the matching key or no faucet key")]
    FaucetMismatch { got: Pubkey, expected: String },
    #[error("a faucet keypair was given but this chain has no faucet (its genesis has none)")]
    NoFaucetInGenesis,
}

/// Check a genesis before a chain is created from it (the ledger panics on a broken one).
pub fn validate_genesis(g: &Genesis) -> Result<(), ConfigError> {
    if g.chain_id.is_empty() || g.chain_id.len() > CHAIN_ID_BYTES_MAX {
        return Err(ConfigError::ChainId {
            got: g.chain_id.len(),
            max: CHAIN_ID_BYTES_MAX,
        });
    }
    if !(SLOT_MS_MIN..=SLOT_MS_MAX).contains(&g.slot_ms) {
        return Err(ConfigError::SlotMs {
            got: g.slot_ms,
            min: SLOT_MS_MIN,
            max: SLOT_MS_MAX,
        });
    }
    if g.tx_max_age_slots == 0 {
        return Err(ConfigError::TxMaxAge);
    }
    g.accounts
        .iter()
        .try_fold(0u64, |acc, (_, b)| acc.checked_add(*b))
        .ok_or(ConfigError::SupplyOverflow)?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaucetFile {
    authority: String,
    mint_max_roe: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    pubkey: String,
    balance_roe: u64,
}

/// `genesis.json`: every field but `chain_id` is optional and defaults as in
/// `Genesis::default()`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisFile {
    chain_id: String,
    slot_ms: Option<u64>,
    fee_roe: Option<u64>,
    tx_max_age_slots: Option<u64>,
    faucet: Option<FaucetFile>,
    #[serde(default)]
    accounts: Vec<AccountFile>,
}

fn key(field: String, s: &str) -> Result<Pubkey, ConfigError> {
    s.parse()
        .map_err(|e: gradual_types::ParseKeyError| ConfigError::Key {
            field,
            reason: e.to_string(),
        })
}

/// Parse a genesis file (JSON) and check it.
pub fn parse_genesis_json(text: &str) -> Result<Genesis, ConfigError> {
    let f: GenesisFile =
        serde_json::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
    let d = Genesis::default();
    let faucet = match f.faucet {
        Some(fc) => Some(Faucet {
            authority: key("faucet.authority".into(), &fc.authority)?,
            mint_max_roe: fc.mint_max_roe,
        }),
        None => None,
    };
    let mut accounts = Vec::with_capacity(f.accounts.len());
    for (i, a) in f.accounts.iter().enumerate() {
        accounts.push((
            key(format!("accounts[{i}].pubkey"), &a.pubkey)?,
            a.balance_roe,
        ));
    }
    let g = Genesis {
        chain_id: f.chain_id,
        slot_ms: f.slot_ms.unwrap_or(d.slot_ms),
        fee_roe: f.fee_roe.unwrap_or(d.fee_roe),
        tx_max_age_slots: f.tx_max_age_slots.unwrap_or(d.tx_max_age_slots),
        faucet,
        accounts,
    };
    validate_genesis(&g)?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_file_parses_and_rejects_bad_fields() {
        let kp = Keypair::from_seed([4; 32]);
        let text = format!(
            r#"{{"chain_id":"dev","slot_ms":50,"faucet":{{"authority":"{}","mint_max_roe":5}},
               "accounts":[{{"pubkey":"{}","balance_roe":7}}]}}"#,
            kp.pubkey(),
            kp.pubkey()
        );
        let g = parse_genesis_json(&text).unwrap();
        assert_eq!(g.chain_id, "dev");
        assert_eq!(g.slot_ms, 50);
        assert_eq!(g.accounts, vec![(kp.pubkey(), 7)]);
        assert_eq!(g.faucet.unwrap().mint_max_roe, 5);
        assert!(matches!(
            parse_genesis_json(r#"{"chain_id":"x","slot_msec":5}"#),
            Err(ConfigError::Parse(m)) if m.contains("slot_msec")
        ));
        assert_eq!(
            parse_genesis_json(r#"{"chain_id":"x","slot_ms":5}"#),
            Err(ConfigError::SlotMs {
                got: 5,
                min: SLOT_MS_MIN,
                max: SLOT_MS_MAX
            })
        );
        assert!(matches!(
            parse_genesis_json(r#"{"chain_id":"x","faucet":{"authority":"nope!","mint_max_roe":1}}"#),
            Err(ConfigError::Key { field, .. }) if field == "faucet.authority"
        ));
        let over = format!(
            r#"{{"chain_id":"x","accounts":[{{"pubkey":"{0}","balance_roe":18446744073709551615}},{{"pubkey":"{0}","balance_roe":1}}]}}"#,
            kp.pubkey()
        );
        assert_eq!(parse_genesis_json(&over), Err(ConfigError::SupplyOverflow));
    }
}
