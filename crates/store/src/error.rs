//! Why a store could not be created, opened, written, read or replayed.
//!
//! Messages are lowercase, quote the store's path, say what was found and what was expected,
//! and, where the caller can do something about it, what to do.
//!
//! Who is to blame, by variant:
//! - the caller's inputs: [`StoreError::NotFound`], [`StoreError::AlreadyExists`],
//!   [`StoreError::NoChain`], [`StoreError::GenesisMismatch`], [`StoreError::InvalidGenesis`],
//!   [`StoreError::AlreadyOpen`];
//! - API misuse (never caused by file contents): [`StoreError::NotNextBlock`];
//! - the file's contents: [`StoreError::UnsupportedFormat`], [`StoreError::ProtocolVersion`],
//!   [`StoreError::Corrupt`],
//!   [`StoreError::StateRootMismatch`], [`StoreError::ReplayFailed`],
//!   [`StoreError::ReplayDiverged`];
//! - the disk or the database engine: [`StoreError::Db`].
//!
//! `StoreError` does not derive `PartialEq`: [`StoreError::Db`] wraps `redb::Error`, which
//! holds `std::io::Error`. Tests match on variants instead.

use gradual_ledger::BlockError;
use gradual_types::{GenesisError, Hash, Slot};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("no store at '{path}'; create one from a genesis first")]
    NotFound { path: PathBuf },

    #[error(
        "store at '{path}' already holds chain '{chain_id}'; open it instead, or pick another path"
    )]
    AlreadyExists { path: PathBuf, chain_id: String },

    #[error("store at '{path}' holds no chain (it was never initialised from a genesis); create it from a genesis")]
    NoChain { path: PathBuf },

    #[error("store at '{path}' holds {stored}, the genesis given is for {given}; use the matching genesis or another path")]
    GenesisMismatch {
        path: PathBuf,
        stored: Box<ChainIdentity>,
        given: Box<ChainIdentity>,
    },

    #[error("cannot start a chain at '{path}' from this genesis: {source}")]
    InvalidGenesis { path: PathBuf, source: GenesisError },

    #[error("store at '{path}' is already open (by this or another process); close the other user first")]
    AlreadyOpen { path: PathBuf },

    #[error("store at '{path}' has format version {got}, this build reads version {expected}")]
    UnsupportedFormat {
        path: PathBuf,
        got: u32,
        expected: u32,
    },

    /// The store was made by another protocol version (`got`; `None`: a store from before
    /// the version was recorded, i.e. version 1). Refused before anything else is decoded.
    #[error(
        "store at '{path}' was made by protocol version {}; this build runs version {expected}: start a new data dir",
        version_name(*got)
    )]
    ProtocolVersion {
        path: PathBuf,
        got: Option<u32>,
        expected: u32,
    },

    #[error("store at '{path}' is corrupt: {what}; restore it from a backup or rebuild it from the block log")]
    Corrupt { path: PathBuf, what: String },

    #[error("store at '{path}' is corrupt: its state records hash to {computed}, its head (slot {slot}) says {stored}")]
    StateRootMismatch {
        path: PathBuf,
        slot: Slot,
        stored: Hash,
        computed: Hash,
    },

    #[error("block at slot {slot} (height {height}, parent {parent}) does not follow the head at slot {head_slot} (height {head_height}, hash {head_hash}); commit each block apply_block returns, in order, once")]
    NotNextBlock {
        slot: Slot,
        height: u64,
        parent: Hash,
        head_slot: Slot,
        head_height: u64,
        head_hash: Hash,
    },

    #[error("store at '{path}': replaying the block at slot {slot} failed: {source}")]
    ReplayFailed {
        path: PathBuf,
        slot: Slot,
        source: BlockError,
    },

    #[error("store at '{path}': replay diverged at slot {slot}: the stored {what} is {stored}, replay computed {replayed}")]
    ReplayDiverged {
        path: PathBuf,
        slot: Slot,
        what: &'static str,
        stored: String,
        replayed: String,
    },

    #[error("store at '{path}': database error while {doing}: {source}")]
    Db {
        path: PathBuf,
        doing: &'static str,
        source: Box<redb::Error>,
    },
}

fn version_name(v: Option<u32>) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "1 (or unknown)".into(),
    }
}

/// Which chain a genesis starts: its id and the genesis hash (two geneses may share an id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainIdentity {
    pub chain_id: String,
    pub genesis_hash: Hash,
}

impl ChainIdentity {
    pub fn of(genesis: &gradual_types::Genesis) -> ChainIdentity {
        ChainIdentity {
            chain_id: genesis.chain_id.clone(),
            genesis_hash: genesis.hash(),
        }
    }
}

impl std::fmt::Display for ChainIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "chain '{}' (genesis {})",
            self.chain_id, self.genesis_hash
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_can_cross_threads_stay_small_and_render_lowercase() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<StoreError>();
        assert!(
            std::mem::size_of::<StoreError>() <= 128,
            "box large variants"
        );
        let e = StoreError::GenesisMismatch {
            path: "/x".into(),
            stored: Box::new(ChainIdentity {
                chain_id: "a".into(),
                genesis_hash: Hash::ZERO,
            }),
            given: Box::new(ChainIdentity {
                chain_id: "b".into(),
                genesis_hash: Hash([1; 32]),
            }),
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("store at '/x' holds chain 'a' (genesis "),
            "{msg}"
        );
        assert!(msg.contains("the genesis given is for chain 'b'"), "{msg}");
    }
}
