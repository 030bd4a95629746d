//! The gradual validator: the I/O shell around the sans-IO ledger. It runs the slot clock,
//! keeps a bounded mempool, produces and commits one block per slot (sealed with its
//! identity key: producer and VRF randomness, see [`identity`]), and serves JSON-RPC,
//! the artifact store and metrics over HTTP.
//!
//! It does **not** decide anything the ledger decides (every rule lives in
//! `gradual-ledger`), talk to other validators (there is one producer per chain), or run
//! tasks (that is the node's job). Signal handling belongs to the binary (`gradual
//! validator`), which calls [`RunningValidator::shutdown`].
//!
//! ```text
//!  HTTP clients ──POST / (JSON-RPC)──▶ door checks ──▶ Mempool (bounded)
//!       │  ▲                      (decode, limits,          │ take ≤ block_max_txs
//!       │  │                  signature, fee, replay)        ▼
//!       │  │ reads: one bounded page         producer thread, every slot:
//!       │  │ under a read lock          take (round-robin over tasks, per-signer quota)
//!       │  └──────────── Ledger ◀──write── check_all(2) → seal → apply_block → Store::commit
//!       │        (serialised after the lock is released; only committed state is seen)
//!       │                                                               │
//!       ├─ GET/PUT /artifacts/<digest>  (files in <data>/artifacts)     ▼
//!       ├─ GET /metrics                                      head (watch) → waitForSlot
//!       └─ waitForSlot long poll ◀──────────────────────────────────────┘
//! ```

pub mod artifacts;
pub mod clock;
pub mod config;
mod http;
pub mod identity;
pub mod mempool;
mod metrics;
mod params;
mod producer;
mod rpc;
mod shared;

pub use config::{parse_genesis_json, validate_genesis, ConfigError, ValidatorConfig};
pub use identity::IDENTITY_FILE;
pub use producer::ProducerError;

use crate::clock::SlotClock;
use crate::mempool::Mempool;
use crate::shared::{head_dto, Shared};
use gradual_rpc::limits;
use gradual_store::{Store, StoreError};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex, RwLock};
use tokio::sync::{watch, Semaphore};

/// Name of the store file inside the data directory.
pub const STORE_FILE: &str = "ledger.redb";
/// Artifact directory inside the data directory.
pub const ARTIFACTS_DIR: &str = "artifacts";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidatorError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{what} '{path}': {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "cannot listen on {addr}: {source}; pick another --rpc-bind address or stop what holds it"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("block production failed: {0}")]
    Producer(#[from] ProducerError),
    #[error("a validator thread panicked: {0}")]
    Panicked(String),
}

/// A validator that is serving. Dropping it without [`RunningValidator::shutdown`] stops
/// block production at the next slot but does not wait for it.
pub struct RunningValidator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop_producer: Option<mpsc::Sender<()>>,
    producer: Option<std::thread::JoinHandle<Result<(), ProducerError>>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningValidator {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Resolves when the validator stopped on its own (block production failed).
    pub async fn stopped(&self) {
        let mut rx = self.shared.stop.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Stop taking transactions, finish the block in progress, stop serving, and close the
    /// store. Returns the producer's error if it had stopped on its own.
    pub async fn shutdown(mut self) -> Result<(), ValidatorError> {
        tracing::info!("shutting down");
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(tx) = self.stop_producer.take() {
            let _ = tx.send(());
        }
        let producer = match self.producer.take() {
            Some(h) => tokio::task::spawn_blocking(move || h.join())
                .await
                .map_err(|e| ValidatorError::Panicked(e.to_string()))?
                .map_err(|_| ValidatorError::Panicked("block producer".into()))?,
            None => Ok(()),
        };
        self.shared.stop.send_replace(true);
        if let Some(server) = self.server.take() {
            match server.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "http server ended with an error"),
                Err(e) => return Err(ValidatorError::Panicked(e.to_string())),
            }
        }
        let head = self.shared.head.borrow().clone();
        // Calls still finishing on blocking threads and background tasks hold the shared
        // state (and so the store file) a little longer; wait for them, so the directory
        // can be opened again as soon as this returns.
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Arc::strong_count(&self.shared) > 1 && std::time::Instant::now() < give_up {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tracing::info!(slot = head.slot, height = head.height, hash = %head.hash, "stopped");
        producer.map_err(ValidatorError::from)
    }
}

impl Drop for RunningValidator {
    fn drop(&mut self) {
        if let Some(tx) = self.stop_producer.take() {
            let _ = tx.send(());
        }
        self.shared.stop.send_replace(true);
    }
}

fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ValidatorError {
    let path = path.display().to_string();
    move |source| ValidatorError::Io { what, path, source }
}

/// Open (or create) the chain in `config.data_dir`, bind the HTTP server and start producing
/// blocks. Must be called inside a Tokio runtime.
pub async fn start(config: ValidatorConfig) -> Result<RunningValidator, ValidatorError> {
    metrics::install();
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(io("cannot create data directory", dir))?;
    let artifacts_dir = dir.join(ARTIFACTS_DIR);
    std::fs::create_dir_all(&artifacts_dir)
        .map_err(io("cannot create artifact directory", &artifacts_dir))?;
    let artifacts =
        artifacts::ArtifactStore::open(artifacts_dir.clone(), config.artifact_limits.clone())
            .map_err(io("cannot index the artifact directory", &artifacts_dir))?;
    let store_path = dir.join(STORE_FILE);
    // The identity must be in the validator set of the next block; checked before a new
    // chain is created, so a refused start leaves no store behind.
    let (store, ledger, identity, identity_source) = if store_path.exists() {
        let (store, ledger) = Store::open(&store_path)?;
        let next = ledger.slot() + 1;
        let set = ledger.validators_at(next);
        let (identity, source) = identity::resolve(config.identity.as_ref(), dir, false, set)?;
        identity::check_member(&identity, set, next)?;
        (store, ledger, identity, source)
    } else {
        // Check the genesis before a key is generated for it.
        validate_genesis(&config.genesis)?;
        let (identity, source) = identity::resolve(
            config.identity.as_ref(),
            dir,
            true,
            &config.genesis.validators,
        )?;
        let mut genesis = config.genesis.clone();
        if genesis.validators.is_empty() {
            // A genesis that names no validators names this one.
            genesis.validators = vec![identity.info()];
            validate_genesis(&genesis)?;
        }
        identity::check_member(&identity, &genesis.validators, 1)?;
        let (store, ledger) = Store::create(&store_path, &genesis)?;
        (store, ledger, identity, source)
    };
    if identity_source == identity::IdentitySource::Devnet {
        tracing::warn!(
            id = %identity.id(),
            "this chain's validator is the public devnet key: anyone can predict its block \
             randomness; use it for tests and throwaway devnets only"
        );
    }
    let genesis = store.genesis().clone();
    match (&config.faucet_keypair, &genesis.faucet) {
        (Some(kp), Some(f)) if kp.pubkey() != f.authority => {
            return Err(ConfigError::FaucetMismatch {
                got: kp.pubkey(),
                expected: f.authority.to_base58(),
            }
            .into())
        }
        (Some(_), None) => return Err(ConfigError::NoFaucetInGenesis.into()),
        _ => {}
    }
    let h = store.head();
    assert_eq!(h.slot, ledger.slot(), "store head and ledger agree");
    let head = head_dto(h.slot, h.height, h.hash, h.state_root);
    let clock = SlotClock::load_or_init(dir, genesis.slot_ms, h.slot)
        .map_err(io("cannot write the slot clock in", dir))?;

    let listener = tokio::net::TcpListener::bind(config.rpc_bind)
        .await
        .map_err(|source| ValidatorError::Bind {
            addr: config.rpc_bind,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ValidatorError::Bind {
            addr: config.rpc_bind,
            source,
        })?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();

    let (head_tx, _) = watch::channel(head.clone());
    let (stop_tx, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        ledger: RwLock::new(ledger),
        store: RwLock::new(store),
        mempool: Mutex::new(
            Mempool::new(config.mempool_max_txs.max(1))
                .with_exempt(config.faucet_keypair.as_ref().map(|k| k.pubkey())),
        ),
        head: head_tx,
        genesis: genesis.clone(),
        identity: identity.clone(),
        faucet: config.faucet_keypair.clone(),
        block_max_txs: config.block_max_txs.max(1),
        body_max_bytes: config.body_max_bytes,
        batch_max: config.batch_max.max(1),
        artifact_max_bytes: config.artifact_max_bytes,
        artifacts,
        public_url,
        stopping: false.into(),
        stop: stop_tx,
        durable_slot: h.slot.into(),
        heavy: Arc::new(Semaphore::new(limits::HEAVY_CALLS_MAX)),
        long_polls: Arc::new(Semaphore::new(limits::LONG_POLLS_MAX)),
        requests: Arc::new(Semaphore::new(limits::REQUESTS_IN_FLIGHT_MAX)),
    });

    let (stop_producer, stop_rx) = mpsc::channel();
    let p_shared = shared.clone();
    let producer = std::thread::Builder::new()
        .name("block-producer".into())
        .spawn(move || {
            let r = producer::run(p_shared.clone(), clock, stop_rx);
            if r.is_err() {
                // Stop serving: the in-memory ledger may be ahead of the store.
                p_shared.stopping.store(true, Ordering::SeqCst);
                p_shared.stop.send_replace(true);
            }
            r
        })
        .map_err(|e| ValidatorError::Panicked(format!("cannot spawn block producer: {e}")))?;

    shared::spawn_collector(shared.clone());
    let app = http::router(shared.clone());
    let mut stop_rx = shared.stop.subscribe();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await
    });
    tracing::info!(
        chain = %genesis.chain_id,
        slot = head.slot,
        height = head.height,
        slot_ms = genesis.slot_ms,
        protocol = genesis.protocol_version,
        identity = %identity.id(),
        vrf_key = %identity.vrf_public(),
        identity_from = ?identity_source,
        %addr,
        "validator started"
    );
    Ok(RunningValidator {
        addr,
        shared,
        stop_producer: Some(stop_producer),
        producer: Some(producer),
        server: Some(server),
    })
}
