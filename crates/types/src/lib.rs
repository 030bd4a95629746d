//! Protocol types of Gradual Consensus: keys, hashes, amounts, transactions, genesis, limits.
//!
//! This crate does no I/O and holds no state; it is the vocabulary every other crate speaks.
//!
//! ```text
//!  Keypair ──sign──▶ Transaction ──encode──▶ bytes ──decode (limits)──▶ Transaction ──verify_strict
//! ```

pub mod amount;
pub mod artifact;
pub mod constants;
pub mod genesis;
pub mod hash;
pub mod keys;
pub mod round;
pub mod runtime;
pub mod split;
pub mod stake;
pub mod tx;
pub mod url;
pub mod vrf;
pub mod window;
#[cfg(feature = "serde")]
pub mod wire;

pub use amount::{format_koii, parse_koii, AmountError};
pub use artifact::ArtifactUpload;
pub use genesis::{validate_validator_set, Faucet, Genesis, GenesisError};
pub use hash::Hash;
pub use keys::{Keypair, KeypairError, ParseKeyError, Pubkey, Signature};
pub use split::equal_split;
pub use stake::StakeRecord;
pub use tx::{
    task_id, DecodeError, Executable, Instruction, Message, ParamError, RoundTerms, TaskId,
    TaskParams, Transaction, Verdict, TX_VERSION,
};
pub use url::{validate_node_url, UrlError};
pub use vrf::{ValidatorInfo, ValidatorKey, VrfInput, VrfProof, VrfPublicKey};

/// A ledger slot number (SPEC §1).
pub type Slot = u64;

/// The key under which a task's metadata (JSON) declares the TCP ports its code connects to
/// besides its node's (`connect_ports` in task.yml). Nodes show it to their operators, who
/// allow ports in their own config; the declaration grants nothing by itself.
pub const CONNECT_PORTS_METADATA_KEY: &str = "connectPorts";
