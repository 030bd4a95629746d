//! State shared by the block producer and the HTTP handlers.
//!
//! Lock order (never take them the other way round): `mempool` → `ledger` → `store`.
//!
//! The producer holds the ledger's write lock while it applies a block **and** commits it,
//! so a reader that holds the read lock sees only durable (committed) state; it holds the
//! store's write lock only for the commit. Readers (RPC) hold a read lock only to copy out
//! one bounded page of records (see `gradual_rpc::limits`), never while converting or
//! serialising it, so the producer waits at most one bounded copy. redb read transactions
//! run concurrently with each other under the store's read lock.

use crate::mempool::Mempool;
use gradual_ledger::Ledger;
use gradual_rpc::HeadDto;
use gradual_store::Store;
use gradual_types::{Genesis, Hash, Keypair, ValidatorKey};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{watch, Semaphore};

pub struct Shared {
    pub ledger: RwLock<Ledger>,
    pub store: RwLock<Store>,
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
    /// The artifact store's files, quotas and collector (`crate::artifacts`).
    pub artifacts: crate::artifacts::ArtifactStore,
    /// Base URL for artifact links, e.g. `http://127.0.0.1:8899`.
    pub public_url: String,
    /// Set when shutdown begins: new transactions are refused.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Becomes `true` when shutdown begins; long polls end early on it.
    pub stop: watch::Sender<bool>,
    /// Slot of the last block the store committed; the ledger is at it whenever the
    /// producer does not hold the write lock (unless a commit failed).
    pub durable_slot: std::sync::atomic::AtomicU64,
    /// Permits for CPU-heavy RPC work on blocking threads (`HEAVY_CALLS_MAX`).
    pub heavy: Arc<Semaphore>,
    /// Permits for waiting long polls (`LONG_POLLS_MAX`).
    pub long_polls: Arc<Semaphore>,
    /// Permits for requests being handled (`REQUESTS_IN_FLIGHT_MAX`).
    pub requests: Arc<Semaphore>,
}

pub fn head_dto(slot: u64, height: u64, hash: Hash, state_root: Hash) -> HeadDto {
    HeadDto {
        slot,
        height,
        hash,
        state_root,
    }
}

/// Run garbage collection every `gc_interval` until the validator stops.
pub(crate) fn spawn_collector(shared: Arc<Shared>) {
    let mut stop = shared.stop.subscribe();
    tokio::spawn(async move {
        let every = shared
            .artifacts
            .limits
            .gc_interval
            .max(std::time::Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let s = shared.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let referenced = match s.ledger.read() {
                    Ok(l) => crate::artifacts::referenced_digests(&l),
                    Err(_) => return,
                };
                s.artifacts
                    .collect(&referenced, std::time::SystemTime::now());
            })
            .await;
        }
    });
}
