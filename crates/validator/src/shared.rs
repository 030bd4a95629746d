//! State shared by the block producer and the HTTP handlers.
//!
//! Lock order (never take them the other way round): `mempool` → `ledger` → `store`; the
//! producer holds each only for its own step, so a reader waits at most one block apply or
//! one commit.

use crate::mempool::Mempool;
use gradual_ledger::Ledger;
use gradual_rpc::HeadDto;
use gradual_store::Store;
use gradual_types::{Genesis, Hash, Keypair, ValidatorKey};
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};
use tokio::sync::watch;

pub struct Shared {
    pub ledger: RwLock<Ledger>,
    pub store: Mutex<Store>,
    pub mempool: Mutex<Mempool>,
    /// The last committed block; `waitForSlot` listens to it.
    pub head: watch::Sender<HeadDto>,
    pub genesis: Genesis,
    /// The key blocks are sealed with (`Ledger::seal`).
    pub identity: ValidatorKey,
    pub faucet: Option<Keypair>,
    pub block_max_txs: usize,
    pub body_max_bytes: usize,
    pub batch_max: usize,
    pub artifact_max_bytes: usize,
    pub artifacts_dir: PathBuf,
    /// Base URL for artifact links, e.g. `http://127.0.0.1:8899`.
    pub public_url: String,
    /// Set when shutdown begins: new transactions are refused.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Becomes `true` when shutdown begins; long polls end early on it.
    pub stop: watch::Sender<bool>,
}

pub fn head_dto(slot: u64, height: u64, hash: Hash, state_root: Hash) -> HeadDto {
    HeadDto {
        slot,
        height,
        hash: hash.to_base58(),
        state_root: state_root.to_base58(),
    }
}
