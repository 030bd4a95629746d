//! What the HTTP server and the driver share: the node's identity and clients, its task
//! processes, and what the driver last published (slot, balance, statuses, peers). The
//! driver writes through [`NodeShared::publish`]; everyone else only reads.

use crate::config::NodeConfig;
use crate::outbound::{Outbound, OutboundError};
use crate::sandbox::Protections;
use crate::status::{Health, TaskStatus};
use crate::store::NodeStore;
use crate::supervisor::{CallError, TaskProcess};
use gradual_client::Client;
use gradual_ledger::Clock;
use gradual_node_proto::NodeStats;
use gradual_task_sdk::protocol;
use gradual_types::{Keypair, Pubkey, Slot, TaskId};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A staker of a task: `(node, url, stake)`.
pub type Peer = (Pubkey, String, u64);

/// Counters kept by the node (exported at `/metrics`).
#[derive(Debug, Default)]
pub struct Counters {
    pub txs_sent: AtomicU64,
    pub txs_refused: AtomicU64,
    pub calls_ok: AtomicU64,
    pub calls_failed: AtomicU64,
    pub snapshots: AtomicU64,
    pub snapshot_errors: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the driver publishes after each ledger snapshot.
pub(crate) struct Published {
    pub slot: Slot,
    pub balance: u64,
    pub stats: NodeStats,
    pub statuses: BTreeMap<TaskId, TaskStatus>,
    /// Per task: its stakers.
    pub peers: BTreeMap<TaskId, Vec<Peer>>,
    /// Per task: its clock, to compute rounds.
    pub clocks: BTreeMap<TaskId, Clock>,
}

/// What the HTTP server and the driver share.
pub struct NodeShared {
    me: Pubkey,
    keypair: Keypair,
    client: Client,
    store: NodeStore,
    /// The task processes; tasks come and go on a config reload.
    tasks: RwLock<BTreeMap<TaskId, Arc<TaskProcess>>>,
    slot: AtomicU64,
    slot_ms: u64,
    balance: AtomicU64,
    low_balance_warn_roe: u64,
    public_url: String,
    status: RwLock<BTreeMap<TaskId, TaskStatus>>,
    peers: RwLock<BTreeMap<TaskId, Vec<Peer>>>,
    clocks: RwLock<BTreeMap<TaskId, Clock>>,
    stats: RwLock<NodeStats>,
    counters: Counters,
    calls_failed: RwLock<BTreeMap<TaskId, u64>>,
    /// The peer proxy's client: peers' URLs are stakers' choice, so it is guarded.
    outbound: Outbound,
    /// How task processes are confined (shown in `/info`).
    protections: Protections,
}

impl NodeShared {
    pub(crate) fn new(
        config: &NodeConfig,
        store: NodeStore,
        tasks: BTreeMap<TaskId, Arc<TaskProcess>>,
        slot_ms: u64,
        public_url: String,
        protections: Protections,
    ) -> Result<NodeShared, OutboundError> {
        Ok(NodeShared {
            me: config.keypair.pubkey(),
            keypair: config.keypair.clone(),
            client: Client::new(&config.rpc_url),
            store,
            tasks: RwLock::new(tasks),
            slot: AtomicU64::new(0),
            slot_ms,
            balance: AtomicU64::new(0),
            low_balance_warn_roe: config.low_balance_warn_roe,
            public_url,
            status: RwLock::default(),
            peers: RwLock::default(),
            clocks: RwLock::default(),
            stats: RwLock::default(),
            counters: Counters::default(),
            calls_failed: RwLock::default(),
            outbound: Outbound::guarded(config.outbound.clone())?,
            protections,
        })
    }

    pub fn me(&self) -> Pubkey {
        self.me
    }

    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// The validator's JSON-RPC client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn store(&self) -> &NodeStore {
        &self.store
    }

    /// The task processes now.
    pub fn tasks(&self) -> BTreeMap<TaskId, Arc<TaskProcess>> {
        self.tasks.read().map(|t| t.clone()).unwrap_or_default()
    }

    pub fn task(&self, id: &TaskId) -> Option<Arc<TaskProcess>> {
        self.tasks.read().ok().and_then(|t| t.get(id).cloned())
    }

    /// A task added on a config reload.
    pub(crate) fn add_task(&self, p: Arc<TaskProcess>) {
        if let Ok(mut t) = self.tasks.write() {
            t.insert(p.task, p);
        }
    }

    /// A task removed on a config reload: its token no longer opens the task-service API.
    pub(crate) fn remove_task(&self, id: &TaskId) -> Option<Arc<TaskProcess>> {
        self.tasks.write().ok().and_then(|mut t| t.remove(id))
    }

    /// The task whose process sent this `Authorization` header value, if any.
    pub fn task_of_token(&self, given: Option<&str>) -> Option<TaskId> {
        self.tasks.read().ok().and_then(|t| {
            t.values()
                .find(|p| protocol::bearer_matches(given, &p.token))
                .map(|p| p.task)
        })
    }

    /// The latest block slot seen.
    pub fn slot(&self) -> Slot {
        self.slot.load(Ordering::Relaxed)
    }

    /// A new head was seen (the head watcher calls this at once, before any snapshot).
    pub(crate) fn see_slot(&self, slot: Slot) {
        self.slot.fetch_max(slot, Ordering::Relaxed);
    }

    pub fn slot_ms(&self) -> u64 {
        self.slot_ms
    }

    pub fn balance(&self) -> u64 {
        self.balance.load(Ordering::Relaxed)
    }

    /// The operator's low-balance threshold (0: none).
    pub fn low_balance_warn_roe(&self) -> u64 {
        self.low_balance_warn_roe
    }

    /// The balance is below the operator's threshold.
    pub fn low_balance(&self, balance: u64) -> bool {
        self.low_balance_warn_roe > 0 && balance < self.low_balance_warn_roe
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    pub fn statuses(&self) -> Vec<TaskStatus> {
        self.status
            .read()
            .map(|s| s.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The last published status of `task` and its unapproved ports.
    pub(crate) fn last_status(&self, task: &TaskId) -> Option<(Health, Vec<u16>)> {
        self.status
            .read()
            .ok()
            .and_then(|s| s.get(task).map(|x| (x.status, x.unapproved_ports.clone())))
    }

    /// The stakers of `task`, as last published.
    pub fn peers(&self, task: &TaskId) -> Vec<Peer> {
        self.peers
            .read()
            .ok()
            .and_then(|p| p.get(task).cloned())
            .unwrap_or_default()
    }

    pub fn round_of(&self, task: &TaskId, slot: Slot) -> u64 {
        self.clocks
            .read()
            .ok()
            .and_then(|c| c.get(task).map(|c| c.round(slot)))
            .unwrap_or(0)
    }

    pub fn stats(&self) -> NodeStats {
        self.stats.read().map(|s| *s).unwrap_or_default()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Failed control calls per task.
    pub fn calls_failed(&self) -> BTreeMap<TaskId, u64> {
        self.calls_failed
            .read()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    pub fn protections(&self) -> &Protections {
        &self.protections
    }

    /// Count a failed control call and say so in the node's and the task's logs.
    pub(crate) fn call_failed(&self, task: &TaskId, what: &str, e: &CallError) {
        Counters::bump(&self.counters.calls_failed);
        if let Ok(mut m) = self.calls_failed.write() {
            *m.entry(*task).or_default() += 1;
        }
        tracing::warn!(task = %task, call = what, error = %e, "task call failed");
        if let Some(p) = self.task(task) {
            p.log.note(&format!("{what} call failed: {e}"));
        }
    }

    /// Update what `/info`, `/metrics` and the task-service API show.
    pub(crate) fn publish(&self, p: Published) {
        self.see_slot(p.slot);
        self.balance.store(p.balance, Ordering::Relaxed);
        if let Ok(mut s) = self.stats.write() {
            *s = p.stats;
        }
        if let Ok(mut s) = self.status.write() {
            *s = p.statuses;
        }
        if let Ok(mut s) = self.peers.write() {
            *s = p.peers;
        }
        if let Ok(mut s) = self.clocks.write() {
            *s = p.clocks;
        }
    }
}
