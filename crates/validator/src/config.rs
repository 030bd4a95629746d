//! Validator configuration, and the genesis file a new chain can start from.

use gradual_types::constants::PROTOCOL_VERSION;
use gradual_types::{
    Faucet, Genesis, GenesisError, Keypair, Pubkey, ValidatorInfo, ValidatorKey, VrfPublicKey,
};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

pub use gradual_types::constants::{SLOT_MS_MAX, SLOT_MS_MIN};

#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    /// Directory holding `ledger.redb`, `slot-clock` and `artifacts/`.
    pub data_dir: PathBuf,
    /// Where JSON-RPC, artifacts and metrics are served (`127.0.0.1:0` picks a free port).
    pub rpc_bind: SocketAddr,
    /// Used only when `data_dir` holds no chain yet. An empty `validators` list names this
    /// validator's identity as the chain's validator set.
    pub genesis: Genesis,
    /// The key this validator signs blocks with (and derives its VRF key from). `None`:
    /// `<data_dir>/validator-identity.json`; when that is missing and a new chain is created
    /// with an empty validator list, a fresh key is generated and saved there. A chain whose
    /// only validator is the public devnet key (`Genesis::default()`) runs with that key.
    pub identity: Option<Keypair>,
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
    /// Artifact quotas, the uploader's minimum balance and garbage collection.
    pub artifact_limits: crate::artifacts::ArtifactLimits,
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
            identity: None,
            faucet_keypair: None,
            mempool_max_txs: 20_000,
            block_max_txs: 5_000,
            body_max_bytes: gradual_rpc::limits::BODY_BYTES_DEFAULT,
            batch_max: gradual_rpc::limits::BATCH_CALLS_DEFAULT,
            artifact_max_bytes: 64 * 1024 * 1024,
            artifact_limits: crate::artifacts::ArtifactLimits::default(),
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
    #[error("slot_ms is {got}, it must be between {min} and {max}")]
    SlotMs { got: u64, min: u64, max: u64 },
    #[error("protocol_version is {got}, this build runs version {expected}; a genesis file may leave it out")]
    ProtocolVersion { got: u32, expected: u32 },
    /// A rule of `Genesis::validate` (the one place genesis rules live).
    #[error("{0}")]
    Genesis(#[from] GenesisError),
    #[error("{field}: {reason}")]
    Key { field: String, reason: String },
    #[error("faucet keypair is {got}, but this chain's faucet authority is {expected}; use the matching key or no faucet key")]
    FaucetMismatch { got: Pubkey, expected: String },
    #[error("a faucet keypair was given but this chain has no faucet (its genesis has none)")]
    NoFaucetInGenesis,
    #[error("validator identity file '{path}': {reason}")]
    IdentityFile { path: String, reason: String },
    #[error("this validator has no identity key: '{path}' is missing and the chain's validator set ({set}) does not name a key it may generate; pass --identity <key file> of a listed validator")]
    NoIdentity { path: String, set: String },
    #[error("this validator's identity {id} is not in the chain's validator set for slot {slot} ({set}); start it with --identity <key file> of a listed validator")]
    NotAValidator { id: Pubkey, slot: u64, set: String },
    #[error("this validator's identity {id} is in the validator set with VRF key {named}, but its key derives VRF key {derived}; the set names another key for this id")]
    VrfKeyMismatch {
        id: Pubkey,
        named: VrfPublicKey,
        derived: VrfPublicKey,
    },
}

/// A validator set as error messages show it: `id (vrf key), ...`.
pub fn describe_set(set: &[ValidatorInfo]) -> String {
    if set.is_empty() {
        return "empty".into();
    }
    set.iter()
        .map(|v| format!("{} (vrf {})", v.id, v.vrf_key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The validator's identity as a validator set names it.
pub fn validator_info(identity: &Keypair) -> ValidatorInfo {
    ValidatorKey::from_keypair(identity.clone()).info()
}

/// Check a genesis before a chain is created from it (the ledger panics on a broken one):
/// the validator's own limits (the slot clock range), then every rule of
/// [`Genesis::validate`]. An empty `validators` list passes: it stands for the starting
/// validator's identity, which [`crate::start`] fills in before creating the chain.
pub fn validate_genesis(g: &Genesis) -> Result<(), ConfigError> {
    if !(SLOT_MS_MIN..=SLOT_MS_MAX).contains(&g.slot_ms) {
        return Err(ConfigError::SlotMs {
            got: g.slot_ms,
            min: SLOT_MS_MIN,
            max: SLOT_MS_MAX,
        });
    }
    let checked = if g.validators.is_empty() {
        // Check everything else with a stand-in for the identity named at start.
        let named = Genesis {
            validators: vec![ValidatorKey::devnet().info()],
            ..g.clone()
        };
        named.validate()
    } else {
        g.validate()
    };
    checked.map_err(|e| match e {
        // The same rule, with the hint a genesis file needs.
        GenesisError::ProtocolVersion { got, expected } => {
            ConfigError::ProtocolVersion { got, expected }
        }
        e => ConfigError::Genesis(e),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaucetFile {
    authority: String,
    mint_max_roe: u64,
    /// Defaults to `mint_max_roe`.
    recipient_max_roe: Option<u64>,
    /// Defaults to `Faucet::RECIPIENT_WINDOW_SLOTS_DEFAULT`.
    recipient_window_slots: Option<u64>,
    /// Defaults to `Faucet::CAP_ROE_DEFAULT`.
    cap_roe: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountFile {
    pubkey: String,
    balance_roe: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidatorFile {
    /// ed25519 identity, base58.
    id: String,
    /// VRF public key, base58 (32 bytes).
    vrf_key: String,
}

/// `genesis.json`: every field but `chain_id` is optional. `protocol_version` defaults to
/// this build's (another one is refused); `validators` (`[{id, vrf_key}]`, base58) defaults
/// to the starting validator's identity; `admin` (base58) to none, which fixes the set;
/// the rest as in `Genesis::default()`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenesisFile {
    protocol_version: Option<u32>,
    chain_id: String,
    slot_ms: Option<u64>,
    fee_roe: Option<u64>,
    tx_max_age_slots: Option<u64>,
    block_max_bytes: Option<u64>,
    block_max_txs: Option<u32>,
    faucet: Option<FaucetFile>,
    #[serde(default)]
    accounts: Vec<AccountFile>,
    #[serde(default)]
    validators: Vec<ValidatorFile>,
    admin: Option<String>,
}

fn key(field: String, s: &str) -> Result<Pubkey, ConfigError> {
    s.parse()
        .map_err(|e: gradual_types::ParseKeyError| ConfigError::Key {
            field,
            reason: e.to_string(),
        })
}

fn vrf_key(field: String, s: &str) -> Result<VrfPublicKey, ConfigError> {
    let bad = |reason: String| ConfigError::Key {
        field: field.clone(),
        reason,
    };
    let bytes = bs58::decode(s)
        .into_vec()
        .map_err(|e| bad(format!("not base58: {e}")))?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| bad(format!("a VRF key is 32 bytes, got {}", b.len())))?;
    Ok(VrfPublicKey(bytes))
}

/// Parse a genesis file (JSON) and check it. A file without `validators` gives an empty
/// list: the starting validator's identity (see [`ValidatorConfig::genesis`]).
pub fn parse_genesis_json(text: &str) -> Result<Genesis, ConfigError> {
    let f: GenesisFile =
        serde_json::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
    let d = Genesis::default();
    let faucet = match f.faucet {
        Some(fc) => {
            let d = Faucet::new(
                key("faucet.authority".into(), &fc.authority)?,
                fc.mint_max_roe,
            );
            Some(Faucet {
                recipient_max_roe: fc.recipient_max_roe.unwrap_or(d.recipient_max_roe),
                recipient_window_slots: fc
                    .recipient_window_slots
                    .unwrap_or(d.recipient_window_slots),
                cap_roe: fc.cap_roe.unwrap_or(d.cap_roe),
                ..d
            })
        }
        None => None,
    };
    let mut accounts = Vec::with_capacity(f.accounts.len());
    for (i, a) in f.accounts.iter().enumerate() {
        accounts.push((
            key(format!("accounts[{i}].pubkey"), &a.pubkey)?,
            a.balance_roe,
        ));
    }
    let mut validators = Vec::with_capacity(f.validators.len());
    for (i, v) in f.validators.iter().enumerate() {
        validators.push(ValidatorInfo {
            id: key(format!("validators[{i}].id"), &v.id)?,
            vrf_key: vrf_key(format!("validators[{i}].vrf_key"), &v.vrf_key)?,
        });
    }
    let admin = match &f.admin {
        Some(a) => Some(key("admin".into(), a)?),
        None => None,
    };
    let g = Genesis {
        protocol_version: f.protocol_version.unwrap_or(PROTOCOL_VERSION),
        chain_id: f.chain_id,
        slot_ms: f.slot_ms.unwrap_or(d.slot_ms),
        fee_roe: f.fee_roe.unwrap_or(d.fee_roe),
        tx_max_age_slots: f.tx_max_age_slots.unwrap_or(d.tx_max_age_slots),
        // Block limits (SPEC §1 [v2]); `validate_genesis` refuses values past the protocol's.
        block_max_bytes: f.block_max_bytes.unwrap_or(d.block_max_bytes),
        block_max_txs: f.block_max_txs.unwrap_or(d.block_max_txs),
        faucet,
        accounts,
        validators,
        admin,
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
        assert_eq!(g.faucet.unwrap(), Faucet::new(kp.pubkey(), 5));
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
        assert_eq!(
            parse_genesis_json(&over),
            Err(ConfigError::Genesis(GenesisError::SupplyOverflow))
        );
        // Rules of Genesis::validate come from there.
        assert_eq!(
            parse_genesis_json(r#"{"chain_id":""}"#),
            Err(ConfigError::Genesis(GenesisError::ChainId {
                got: 0,
                max: gradual_types::constants::CHAIN_ID_BYTES_MAX
            }))
        );
    }

    #[test]
    fn genesis_file_versions_validators_and_admin() {
        // Defaults: this build's version, no validators named (the starting validator's
        // identity is), no admin.
        let g = parse_genesis_json(r#"{"chain_id":"dev"}"#).unwrap();
        assert_eq!(g.protocol_version, PROTOCOL_VERSION);
        assert!(g.validators.is_empty());
        assert_eq!(g.admin, None);
        let same = format!(r#"{{"chain_id":"dev","protocol_version":{PROTOCOL_VERSION}}}"#);
        assert_eq!(parse_genesis_json(&same).unwrap(), g);
        let err = parse_genesis_json(r#"{"chain_id":"dev","protocol_version":1}"#).unwrap_err();
        assert_eq!(
            err,
            ConfigError::ProtocolVersion {
                got: 1,
                expected: PROTOCOL_VERSION
            }
        );
        assert!(
            err.to_string().contains("this build runs version 2"),
            "{err}"
        );

        let a = ValidatorKey::from_seed([1; 32]);
        let b = ValidatorKey::from_seed([2; 32]);
        let admin = Keypair::from_seed([3; 32]).pubkey();
        let text = format!(
            r#"{{"chain_id":"dev","admin":"{admin}","validators":[
                {{"id":"{}","vrf_key":"{}"}},{{"id":"{}","vrf_key":"{}"}}]}}"#,
            a.id(),
            a.vrf_public(),
            b.id(),
            b.vrf_public()
        );
        let g = parse_genesis_json(&text).unwrap();
        assert_eq!(g.validators, vec![a.info(), b.info()]);
        assert_eq!(g.admin, Some(admin));
        assert!(g.validate().is_ok());

        // A key named twice: Genesis::validate's rule.
        let twice = format!(
            r#"{{"chain_id":"dev","validators":[{{"id":"{0}","vrf_key":"{1}"}},{{"id":"{0}","vrf_key":"{1}"}}]}}"#,
            a.id(),
            a.vrf_public()
        );
        assert_eq!(
            parse_genesis_json(&twice),
            Err(ConfigError::Genesis(GenesisError::DuplicateValidator(
                a.id()
            )))
        );
        // Bad keys name their field.
        let short = format!(
            r#"{{"chain_id":"dev","validators":[{{"id":"{}","vrf_key":"abc"}}]}}"#,
            a.id()
        );
        assert!(matches!(
            parse_genesis_json(&short),
            Err(ConfigError::Key { field, reason }) if field == "validators[0].vrf_key" && reason.contains("32 bytes")
        ));
        assert!(matches!(
            parse_genesis_json(r#"{"chain_id":"dev","admin":"0OIl"}"#),
            Err(ConfigError::Key { field, .. }) if field == "admin"
        ));
        assert!(matches!(
            parse_genesis_json(r#"{"chain_id":"dev","validators":[{"id":"x"}]}"#),
            Err(ConfigError::Parse(m)) if m.contains("vrf_key")
        ));
    }

    #[test]
    fn genesis_block_limits_parse_and_are_validated() {
        let g = parse_genesis_json(
            r#"{"chain_id":"dev","block_max_bytes":1048576,"block_max_txs":500}"#,
        )
        .unwrap();
        assert_eq!((g.block_max_bytes, g.block_max_txs), (1_048_576, 500));
        let d = parse_genesis_json(r#"{"chain_id":"dev"}"#).unwrap();
        assert_eq!(d.block_max_bytes, Genesis::default().block_max_bytes);
        assert!(matches!(
            parse_genesis_json(r#"{"chain_id":"dev","block_max_bytes":1099511627776}"#),
            Err(ConfigError::Genesis(GenesisError::BlockMaxBytes { .. }))
        ));
        assert!(matches!(
            parse_genesis_json(r#"{"chain_id":"dev","block_max_txs":0}"#),
            Err(ConfigError::Genesis(GenesisError::BlockMaxTxs { .. }))
        ));
    }

    #[test]
    fn genesis_faucet_limits_parse_and_are_validated() {
        let kp = Keypair::from_seed([4; 32]);
        let text = |extra: &str| {
            format!(
                r#"{{"chain_id":"dev","faucet":{{"authority":"{}","mint_max_roe":5{extra}}}}}"#,
                kp.pubkey()
            )
        };
        let f = parse_genesis_json(&text(
            r#","recipient_max_roe":9,"recipient_window_slots":30,"cap_roe":100"#,
        ))
        .unwrap()
        .faucet
        .unwrap();
        assert_eq!(
            (f.recipient_max_roe, f.recipient_window_slots, f.cap_roe),
            (9, 30, 100)
        );
        assert_eq!(
            parse_genesis_json(&text(r#","recipient_window_slots":0"#)),
            Err(ConfigError::Genesis(GenesisError::FaucetWindow {
                got: 0,
                max: Faucet::RECIPIENT_WINDOW_SLOTS_MAX
            }))
        );
        assert_eq!(
            parse_genesis_json(&text(r#","cap_roe":0"#)),
            Err(ConfigError::Genesis(GenesisError::FaucetCap))
        );
        assert!(matches!(
            parse_genesis_json(&text(r#","cap":1"#)),
            Err(ConfigError::Parse(m)) if m.contains("cap")
        ));
    }
}
