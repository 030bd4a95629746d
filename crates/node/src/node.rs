//! The driver loop: one [`NodeCore`] for every task of the node, fed a fresh [`Snapshot`]
//! at each new head slot and the tasks' answers as they come; its actions become control
//! calls (concurrent, each with a timeout) and signed transactions (sent in order).

use crate::config::NodeConfig;
use crate::http;
use crate::outbound::{read_capped, Outbound};
use crate::store::NodeStore;
use crate::supervisor::{stopped, CallError, Confinement, Launch, TaskEnv, TaskProcess};
use crate::view::Snapshot;
use gradual_client::{Client, TaskInfoFlags};
use gradual_node_proto::{Action, ListPurpose, NodeCore, NodeStats, TaskConfig};
use gradual_task_sdk::protocol::{self, paths};
use gradual_types::{
    format_koii, Hash, Instruction, Keypair, Pubkey, Slot, TaskId, Transaction, Verdict,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Why the node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    #[error("{what} '{path}': {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error(
        "cannot listen on {addr}: {source}; pick another `listen` address or stop what holds it"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot reach the validator: {0}")]
    Validator(String),
    #[error("{0}")]
    Outbound(#[from] crate::outbound::OutboundError),
    #[error(
        "task confinement is required ([sandbox] require = true) but missing: {0}; run on a \
         kernel that has it, or set require = false"
    )]
    ConfinementMissing(String),
    #[error(
        "task processes would run as root: {0}. A root node runs each task as its own \
         unprivileged user; run the node as an unprivileged user instead if you cannot"
    )]
    TasksAsRoot(String),
}

/// A task's state as an operator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Starting, not staked yet, or staked too recently to submit this round.
    WarmingUp,
    /// Staked, eligible, and the task process is healthy.
    Active,
    /// Unstaking: the stake is in its cooldown.
    CoolingDown,
    /// The task is closed or deactivated.
    Complete,
    /// The task process keeps failing, or the task is gone from the ledger.
    Failing,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::WarmingUp => "warming_up",
            Health::Active => "active",
            Health::CoolingDown => "cooling_down",
            Health::Complete => "complete",
            Health::Failing => "failing",
        }
    }
}

/// Per-task status for `/info`, `/metrics` and logs.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub task: String,
    pub name: String,
    pub status: Health,
    /// Why, in words.
    pub detail: String,
    pub round: u64,
    pub stake_roe: u64,
    pub pending_rewards_roe: u64,
    pub restarts: u64,
    pub last_error: Option<String>,
    pub log_file: String,
    pub calls_failed: u64,
    /// Rounds in which the audit guard found this task's verdicts suspect (node policy:
    /// it raised nothing and abstained; docs/operator-guide.md).
    pub suspect_audit_rounds: u64,
    /// TCP ports the task declares it connects to (its metadata's `connectPorts`).
    pub declared_ports: Vec<u16>,
    /// TCP ports the operator allows it besides the node's (`None`: any).
    pub allowed_ports: Option<Vec<u16>>,
    /// Declared but not allowed: the task's code will be refused on these.
    pub unapproved_ports: Vec<u16>,
}

/// The TCP ports a task's metadata declares (`connect_ports` in its task.yml); none when
/// the metadata is not JSON or says nothing.
pub fn declared_ports(metadata: &[u8]) -> Vec<u16> {
    serde_json::from_slice::<serde_json::Value>(metadata)
        .ok()
        .and_then(|v| {
            let ports = v
                .get(gradual_types::CONNECT_PORTS_METADATA_KEY)?
                .as_array()?
                .clone();
            Some(
                ports
                    .iter()
                    .filter_map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()))
                    .filter(|p| *p != 0)
                    .collect(),
            )
        })
        .unwrap_or_default()
}

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

/// What the HTTP server and the driver share.
pub struct NodeShared {
    pub me: Pubkey,
    pub keypair: Keypair,
    pub client: Client,
    pub store: NodeStore,
    pub tasks: BTreeMap<TaskId, Arc<TaskProcess>>,
    pub tokens: BTreeMap<String, TaskId>,
    pub slot: AtomicU64,
    pub slot_ms: u64,
    pub balance: AtomicU64,
    pub low_balance_warn_roe: u64,
    pub public_url: String,
    pub status: RwLock<BTreeMap<TaskId, TaskStatus>>,
    /// Per task: `(node, url, stake)` of its stakers.
    pub peers: RwLock<BTreeMap<TaskId, Vec<Peer>>>,
    /// Per task: `(round_time, starting_slot)` to compute rounds.
    pub clocks: RwLock<BTreeMap<TaskId, gradual_ledger::Clock>>,
    pub stats: RwLock<NodeStats>,
    pub counters: Counters,
    pub calls_failed: RwLock<BTreeMap<TaskId, u64>>,
    /// The peer proxy's client: peers' URLs are stakers' choice, so it is guarded.
    pub outbound: Outbound,
    /// How task processes are confined (shown in `/info`).
    pub protections: crate::sandbox::Protections,
}

impl NodeShared {
    pub fn round_of(&self, task: &TaskId, slot: Slot) -> u64 {
        self.clocks
            .read()
            .ok()
            .and_then(|c| c.get(task).map(|c| c.round(slot)))
            .unwrap_or(0)
    }
}

/// Answers of the task process, back to the driver loop.
enum Answer {
    Proof {
        task: TaskId,
        round: u64,
        value: Option<Vec<u8>>,
    },
    Check {
        task: TaskId,
        round: u64,
        candidate: Pubkey,
        verdict: Verdict,
    },
    List {
        task: TaskId,
        round: u64,
        attempt: u16,
        purpose: ListPurpose,
        list: Vec<(Pubkey, u64)>,
    },
}

/// A running node: [`RunningNode::shutdown`] stops it (tasks first).
pub struct RunningNode {
    pub addr: SocketAddr,
    pub shared: Arc<NodeShared>,
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningNode {
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        for h in self.handles {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
    }
}

fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NodeError {
    let path = path.display().to_string();
    move |source| NodeError::Io { what, path, source }
}

/// The most a downloaded executable may weigh (the validator's default cap is 64 MiB): a URL
/// that streams without end must not fill the node's memory.
pub const ARTIFACT_BYTES_MAX: usize = 256 * 1024 * 1024;

/// How long one artifact download may take.
const ARTIFACT_TIMEOUT: Duration = Duration::from_secs(120);

/// The two clients artifact downloads use.
pub struct ArtifactFetch {
    /// For the task creator's `executable.urls`.
    pub untrusted: Outbound,
    /// For the artifact store of the operator's own validator (`rpc_url`).
    pub validator: Outbound,
}

/// Download `url` and check that its bytes hash to `digest`.
async fn download(out: &Outbound, url: &str, digest: &Hash) -> Result<Vec<u8>, String> {
    let resp = out
        .get(url, ARTIFACT_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    if !status.is_success() {
        let text = read_capped(url, resp, 300)
            .await
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .unwrap_or_default();
        return Err(format!("{url} answered HTTP {}: {text}", status.as_u16()));
    }
    let body = read_capped(url, resp, ARTIFACT_BYTES_MAX)
        .await
        .map_err(|e| e.to_string())?;
    let got = Hash(*blake3::hash(&body).as_bytes());
    if got != *digest {
        return Err(format!(
            "{url}: the bytes hash to {got}, not {digest}; the source is corrupt or wrong"
        ));
    }
    Ok(body)
}

/// Fetch (or reuse from the cache) a task's executable, checking its digest.
async fn prepare_artifact(
    client: &Client,
    fetch: &ArtifactFetch,
    task: &TaskId,
    cache: &std::path::Path,
) -> Result<Launch, String> {
    let t = client
        .get_task_account_info(task, TaskInfoFlags::default())
        .await
        .map_err(|e| format!("cannot read the task account: {e}"))?;
    let digest = Hash::from_base58(&t.params.executable.digest)
        .map_err(|e| format!("task executable digest: {e}"))?;
    let path = cache.join(digest.to_base58());
    if let Ok(bytes) = tokio::fs::read(&path).await {
        if Hash(*blake3::hash(&bytes).as_bytes()) == digest {
            return Ok(Launch {
                artifact: path,
                runtime: t.params.executable.runtime,
            });
        }
        tracing::warn!(path = %path.display(), "cached artifact does not match its digest; fetching it again");
    }
    // The task creator's URLs are untrusted; the operator's own validator is not (and may
    // well sit on loopback), so its artifact URL is tried last with the unguarded client.
    let own = client.artifact_url(&digest);
    let mut urls: Vec<(&str, &Outbound)> = t
        .params
        .executable
        .urls
        .iter()
        .filter(|u| **u != own)
        .map(|u| (u.as_str(), &fetch.untrusted))
        .collect();
    urls.push((own.as_str(), &fetch.validator));
    let mut errors = Vec::new();
    for (url, out) in urls {
        match download(out, url, &digest).await {
            Ok(bytes) => {
                // Unique per download: tasks sharing an executable fetch it concurrently.
                let tmp = cache.join(format!(
                    "{}.{:016x}.tmp",
                    digest.to_base58(),
                    rand::random::<u64>()
                ));
                tokio::fs::write(&tmp, &bytes)
                    .await
                    .map_err(|e| format!("cannot write '{}': {e}", tmp.display()))?;
                {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755));
                }
                if let Err(e) = tokio::fs::rename(&tmp, &path).await {
                    let _ = tokio::fs::remove_file(&tmp).await;
                    return Err(format!("cannot write '{}': {e}", path.display()));
                }
                tracing::info!(task = %task, digest = %digest, "artifact fetched and checked");
                return Ok(Launch {
                    artifact: path,
                    runtime: t.params.executable.runtime,
                });
            }
            Err(e) => {
                tracing::warn!(task = %task, error = %e, "cannot fetch the task executable from this URL");
                errors.push(e);
            }
        }
    }
    Err(format!(
        "cannot fetch the task executable {digest}: {}",
        errors.join("; ")
    ))
}

/// Start a node: open its store, start every task process, serve HTTP, and drive the
/// scheduler until [`RunningNode::shutdown`].
/// Decide how task processes are confined: ask the kernel what it enforces (once), decide
/// whether tasks get users of their own, and say what is missing (SPEC-free node policy,
/// docs/security.md *Task processes*).
fn confinement(config: &NodeConfig, node_port: u16) -> Result<Confinement, NodeError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = &config.data_dir;
    let exe = std::env::current_exe().map_err(io("cannot find the node's own binary", dir))?;
    let sb = &config.sandbox;
    let root = nix::unistd::geteuid().is_root();
    let mut protections = if sb.enabled {
        crate::sandbox::probe(&exe)
    } else {
        crate::sandbox::Protections::default()
    };
    // The node's own files are for the node: the store and the logs private to it.
    let private = |p: &std::path::Path, mode: u32| {
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
    };
    private(&dir.join("node.redb"), 0o600);
    private(&dir.join("logs"), 0o700);
    if sb.enabled && root {
        if !sb.separate_users {
            return Err(NodeError::TasksAsRoot(
                "sandbox.task_user = \"none\" on a node running as root".into(),
            ));
        }
        // Tasks of their own users must reach their directories: the data directory and
        // `tasks/` get traverse-only permission for others (no listing, no reading).
        let tasks_dir = dir.join("tasks");
        std::fs::create_dir_all(&tasks_dir)
            .map_err(io("cannot create task directory", &tasks_dir))?;
        for d in [dir.as_path(), tasks_dir.as_path()] {
            if let Ok(m) = std::fs::metadata(d) {
                private(d, m.permissions().mode() | 0o001);
            }
        }
        if let Some(blocked) = crate::sandbox::first_untraversable(&tasks_dir) {
            return Err(NodeError::TasksAsRoot(format!(
                "'{}' does not let other users pass, so tasks could not reach their \
                 directories as their own users; chmod o+x it or put data_dir elsewhere (e.g. \
                 /var/lib/gradual)",
                blocked.display()
            )));
        }
        protections.separate_user = true;
    } else if sb.enabled {
        protections.missing.push(
            "own user per task: the node does not run as root, so tasks run as the node's user: \
             memory and kills cover their process group only (a task that calls setsid leaves \
             them) and the process limit counts all the node user's processes"
                .into(),
        );
    } else if root {
        tracing::warn!(
            "task confinement is off ([sandbox] enabled = false) on a node running as root: \
             every task process runs as root"
        );
    }
    tracing::info!(protections = %protections.summary(), "task confinement");
    for m in &protections.missing {
        tracing::warn!("task confinement: missing {m}");
    }
    if sb.enabled && sb.require && !protections.missing.is_empty() {
        return Err(NodeError::ConfinementMissing(
            protections.missing.join("; "),
        ));
    }
    let abs = |p: &std::path::Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    Ok(Confinement {
        exe,
        config: sb.clone(),
        protections,
        node_port,
        protected: vec![abs(dir), abs(&config.keypair_path)],
    })
}

pub async fn start(config: NodeConfig) -> Result<RunningNode, NodeError> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).map_err(io("cannot create data directory", dir))?;
    let cache = dir.join("artifacts");
    std::fs::create_dir_all(&cache).map_err(io("cannot create artifact cache", &cache))?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(io("cannot create log directory", &logs))?;
    let store = NodeStore::open(&dir.join("node.redb"))?;
    let client = Client::new(&config.rpc_url);
    let genesis = {
        let mut tries = 0;
        loop {
            match client.get_genesis().await {
                Ok(g) => break g,
                Err(e) if tries < 20 => {
                    tries += 1;
                    tracing::warn!(error = %e, "validator not reachable yet; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(NodeError::Validator(e.to_string())),
            }
        }
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| NodeError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| NodeError::Bind {
        addr: config.listen,
        source,
    })?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let me = config.keypair.pubkey();

    let confinement = Arc::new(confinement(&config, addr.port())?);
    let uids = crate::sandbox::task_uids(
        &config.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        config.sandbox.uid_base,
        &crate::sandbox::system_uids(),
    );
    let mut tasks = BTreeMap::new();
    let mut tokens = BTreeMap::new();
    for t in &config.tasks {
        let tdir = dir.join("tasks").join(t.id.to_base58());
        std::fs::create_dir_all(&tdir).map_err(io("cannot create task directory", &tdir))?;
        let log = Arc::new(crate::supervisor::LogFile::new(
            logs.join(format!("{}.log", t.id.to_base58())),
            t.limits.log_max_bytes,
            t.limits.log_files,
        ));
        let p = Arc::new(TaskProcess::new(
            t.id,
            t.limits.clone(),
            tdir,
            log,
            confinement.clone(),
            t.connect_ports.clone(),
            uids.get(&t.id).copied(),
        ));
        tokens.insert(p.token.clone(), t.id);
        tasks.insert(t.id, p);
    }
    let shared = Arc::new(NodeShared {
        me,
        keypair: config.keypair.clone(),
        client: Client::new(&config.rpc_url),
        store,
        tasks,
        tokens,
        slot: AtomicU64::new(0),
        slot_ms: genesis.slot_ms,
        balance: AtomicU64::new(0),
        low_balance_warn_roe: config.low_balance_warn_roe,
        public_url: public_url.clone(),
        status: RwLock::default(),
        peers: RwLock::default(),
        clocks: RwLock::default(),
        stats: RwLock::default(),
        counters: Counters::default(),
        calls_failed: RwLock::default(),
        outbound: Outbound::guarded(config.outbound.clone())?,
        protections: confinement.protections.clone(),
    });
    let fetch = Arc::new(ArtifactFetch {
        untrusted: Outbound::guarded(config.outbound.clone())?,
        validator: Outbound::trusted()?,
    });
    let (stop, stop_rx) = watch::channel(false);
    let mut handles = Vec::new();

    // HTTP server.
    let app = http::router(shared.clone());
    let mut srv_stop = stop_rx.clone();
    handles.push(tokio::spawn(async move {
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped(&mut srv_stop).await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!(error = %e, "http server failed");
        }
    }));

    // Task processes.
    let node_url = format!("http://{addr}");
    for t in &config.tasks {
        let p = shared.tasks[&t.id].clone();
        let env = TaskEnv {
            node: me,
            node_url: node_url.clone(),
            extra: t.env.clone().into_iter().collect(),
        };
        let client = Client::new(&config.rpc_url);
        let cache = cache.clone();
        let fetch = fetch.clone();
        let id = t.id;
        let rx = stop_rx.clone();
        handles.push(tokio::spawn(async move {
            let client = Arc::new(client);
            let prepare = move || {
                let client = client.clone();
                let fetch = fetch.clone();
                let cache = cache.clone();
                async move { prepare_artifact(&client, &fetch, &id, &cache).await }
            };
            p.supervise(env, prepare, rx).await;
        }));
    }

    // The driver.
    let mut core = NodeCore::new(
        me,
        Hash::domain(
            "gradual/node-seed/v1",
            &[&config.keypair.to_bytes64()[..32]],
        ),
    );
    for t in &config.tasks {
        core.add_task(
            t.id,
            TaskConfig {
                stake_roe: t.stake_roe,
                url: public_url.clone(),
                claim_at_roe: t.claim_at_roe,
                audit_guard: t.audit_guard,
            },
        );
    }
    let driver = Driver {
        shared: shared.clone(),
        chain_id: genesis.chain_id.clone(),
        fee: genesis.fee_roe,
        tx_max_age: genesis.tx_max_age_slots,
        ran: Arc::default(),
    };
    handles.push(tokio::spawn(driver.run(core, stop_rx)));
    tracing::info!(node = %me, %addr, url = %public_url, tasks = config.tasks.len(), "node started");
    Ok(RunningNode {
        addr,
        shared,
        stop,
        handles,
    })
}

/// Process starts seen when `task` was last called, and for which round.
type RunMark = (u64, Option<u64>);

#[derive(Clone)]
struct Driver {
    shared: Arc<NodeShared>,
    chain_id: String,
    fee: u64,
    tx_max_age: u64,
    /// Per task: process starts when `task` was last called, and for which round.
    ran: Arc<std::sync::Mutex<BTreeMap<TaskId, RunMark>>>,
}

impl Driver {
    async fn run(self, mut core: NodeCore, mut stop: watch::Receiver<bool>) {
        let sh = self.shared.clone();
        // Head watcher: long-polls the validator, publishes new head slots.
        let (head_tx, mut head_rx) = watch::channel(0u64);
        let watcher_client = Client::new(sh.client.url());
        let mut watcher_stop = stop.clone();
        let watcher_sh = sh.clone();
        let watcher = tokio::spawn(async move {
            let mut next = 0u64;
            loop {
                tokio::select! {
                    r = watcher_client.wait_for_slot(next, 5_000) => match r {
                        Ok(w) => {
                            if w.head.slot >= next {
                                // `/node/v1/slot`: the latest block slot seen, at once.
                                watcher_sh.slot.fetch_max(w.head.slot, Ordering::Relaxed);
                                head_tx.send_replace(w.head.slot);
                                next = w.head.slot + 1;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot follow the validator's head; retrying");
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    },
                    _ = stopped(&mut watcher_stop) => return,
                }
            }
        });
        // Sender: signs and sends in order.
        let (send_tx, send_rx) = mpsc::unbounded_channel::<(Instruction, Slot)>();
        let sender = tokio::spawn(self.clone().sender(send_rx));
        let (ans_tx, mut ans_rx) = mpsc::unbounded_channel::<Answer>();
        let ids: Vec<TaskId> = core.task_ids();
        let mut snap = Snapshot::default();
        let mut have = false;
        let mut last_low_warn: Option<Slot> = None;
        loop {
            tokio::select! {
                r = head_rx.changed() => {
                    if r.is_err() { break; }
                    let head = *head_rx.borrow_and_update();
                    if have && head <= snap.slot { continue; }
                    match Snapshot::fetch(&sh.client, &sh.me, &ids).await {
                        Ok(s) => { snap = s; have = true; sh.counters.snapshots.fetch_add(1, Ordering::Relaxed); }
                        Err(e) => {
                            sh.counters.snapshot_errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(error = %e, "cannot read the ledger; keeping the last view");
                            continue;
                        }
                    }
                    self.publish(&snap, &core);
                    if sh.low_balance_warn_roe > 0 && snap.balance < sh.low_balance_warn_roe
                        && last_low_warn.is_none_or(|s| snap.slot >= s + 100) {
                        last_low_warn = Some(snap.slot);
                        tracing::warn!(balance = %format_koii(snap.balance), threshold = %format_koii(sh.low_balance_warn_roe),
                            "low balance: top up this node's account (fees and restakes come from it)");
                    }
                    for id in &ids {
                        let _ = sh.store.prune_proofs(id, snap.tasks.get(id).map(|t| t.current_round.saturating_sub(16)).unwrap_or(0));
                    }
                    core.handle_slot(&snap);
                    self.drain(&mut core, &snap, &send_tx, &ans_tx);
                    self.rerun_after_restart(&snap, &ans_tx);
                }
                Some(a) = ans_rx.recv() => {
                    match a {
                        Answer::Proof { task, round, value } => core.handle_proof(&task, round, value, snap.slot + 1),
                        Answer::Check { task, round, candidate, verdict } => core.handle_check(&task, round, candidate, verdict),
                        Answer::List { task, round, attempt, purpose, list } => {
                            if purpose == ListPurpose::Audit {
                                if let Err(e) = snap.fetch_list(&sh.client, &task, round, attempt).await {
                                    // Without the uploaded list there is nothing to compare: no vote.
                                    tracing::warn!(task = %task, round, attempt, error = %e, "cannot read the list under audit; not voting");
                                    continue;
                                }
                            }
                            core.handle_list(&task, round, attempt, purpose, list, &snap);
                        }
                    }
                    self.drain(&mut core, &snap, &send_tx, &ans_tx);
                }
                _ = stopped(&mut stop) => break,
            }
        }
        drop(send_tx);
        let _ = sender.await;
        watcher.abort();
    }

    /// Update what `/info` and `/metrics` show.
    fn publish(&self, snap: &Snapshot, core: &NodeCore) {
        let sh = &self.shared;
        sh.slot.fetch_max(snap.slot, Ordering::Relaxed);
        sh.balance.store(snap.balance, Ordering::Relaxed);
        if let Ok(mut s) = sh.stats.write() {
            *s = core.stats();
        }
        let mut statuses = BTreeMap::new();
        let mut peers = BTreeMap::new();
        let mut clocks = BTreeMap::new();
        let failed = sh
            .calls_failed
            .read()
            .map(|m| m.clone())
            .unwrap_or_default();
        for (id, p) in &sh.tasks {
            let info = p.info();
            let t = snap.tasks.get(id);
            let stake = t.and_then(|t| t.stakes.get(&sh.me));
            let round = t.map(|t| t.info.clock.round(snap.slot + 1)).unwrap_or(0);
            let running = matches!(info.phase, crate::supervisor::Phase::Running { .. });
            let (status, detail) = match t {
                None => (Health::Failing, "task not found on the ledger".to_string()),
                Some(t) if t.info.closed || !t.info.is_active => {
                    (Health::Complete, "task is closed or inactive".to_string())
                }
                Some(_) if stake.is_some_and(|s| s.unstake_round.is_some()) => (
                    Health::CoolingDown,
                    "unstaking; withdraw after the cooldown".to_string(),
                ),
                Some(_) if !running && info.restarts > 0 => (
                    Health::Failing,
                    info.last_error
                        .clone()
                        .unwrap_or_else(|| "task process is restarting".into()),
                ),
                Some(_) if !running => (Health::WarmingUp, "task process starting".to_string()),
                Some(t) => match stake {
                    None => (
                        Health::WarmingUp,
                        "not staked yet (set stake and auto_stake, or run `gradual stake`)"
                            .to_string(),
                    ),
                    Some(s) if s.amount < t.info.params.minimum_stake => (
                        Health::WarmingUp,
                        "stake below the task minimum; top it up".to_string(),
                    ),
                    Some(s) if s.staked_slot >= t.info.clock.start(round) => (
                        Health::WarmingUp,
                        "staked this round; submits from the next".to_string(),
                    ),
                    Some(_) => (
                        Health::Active,
                        "working, submitting and auditing".to_string(),
                    ),
                },
            };
            if let Some(t) = t {
                peers.insert(
                    *id,
                    t.stakes
                        .iter()
                        .map(|(n, s)| (*n, s.url.clone(), s.amount))
                        .collect::<Vec<_>>(),
                );
                clocks.insert(*id, t.info.clock);
            }
            let prev = sh
                .status
                .read()
                .ok()
                .and_then(|s| s.get(id).map(|x| (x.status, x.unapproved_ports.clone())));
            if prev.as_ref().map(|p| p.0) != Some(status) {
                tracing::info!(task = %id, status = status.as_str(), detail = %detail, "task status");
            }
            let declared = t
                .map(|t| declared_ports(&t.info.params.metadata))
                .unwrap_or_default();
            let allowed = p.connect_ports().map(<[u16]>::to_vec);
            let unapproved: Vec<u16> = match &allowed {
                None => Vec::new(),
                Some(a) => declared
                    .iter()
                    .copied()
                    .filter(|d| !a.contains(d))
                    .collect(),
            };
            if !unapproved.is_empty() && prev.as_ref().map(|p| &p.1) != Some(&unapproved) {
                tracing::warn!(
                    task = %id,
                    ports = ?unapproved,
                    "the task declares TCP ports this node does not allow, so its connections \
                     there are refused; to allow them add connect_ports = {unapproved:?} to its \
                     [[task]] entry in the node config (docs/operator-guide.md, Task confinement)"
                );
            }
            statuses.insert(
                *id,
                TaskStatus {
                    task: id.to_base58(),
                    name: t.map(|t| t.info.params.name.clone()).unwrap_or_default(),
                    status,
                    detail,
                    round,
                    stake_roe: stake.map(|s| s.amount).unwrap_or(0),
                    pending_rewards_roe: t
                        .and_then(|t| t.rewards.get(&sh.me).copied())
                        .unwrap_or(0),
                    restarts: info.restarts,
                    last_error: info.last_error,
                    log_file: p.log.path().display().to_string(),
                    calls_failed: failed.get(id).copied().unwrap_or(0),
                    suspect_audit_rounds: core.suspect_rounds(id),
                    declared_ports: declared,
                    allowed_ports: allowed,
                    unapproved_ports: unapproved,
                },
            );
        }
        if let Ok(mut s) = sh.status.write() {
            *s = statuses;
        }
        if let Ok(mut s) = sh.peers.write() {
            *s = peers;
        }
        if let Ok(mut s) = sh.clocks.write() {
            *s = clocks;
        }
    }

    /// A task process that (re)started after the round's `task` call gets it again
    /// (docs/task-protocol.md §2: "and again for the current round after a restart").
    fn rerun_after_restart(&self, snap: &Snapshot, ans: &mpsc::UnboundedSender<Answer>) {
        let Ok(mut ran) = self.ran.lock() else { return };
        for (id, p) in &self.shared.tasks {
            let info = p.info();
            let Some(entry) = ran.get_mut(id) else {
                continue;
            };
            let round = snap
                .tasks
                .get(id)
                .map(|t| t.info.clock.round(snap.slot + 1));
            if entry.1 == round
                && entry.0 < info.starts
                && matches!(info.phase, crate::supervisor::Phase::Running { .. })
            {
                entry.0 = info.starts;
                if let Some(r) = round {
                    p.log.note(&format!(
                        "calling task for round {r} again after the restart"
                    ));
                    self.spawn_call(
                        *id,
                        p.clone(),
                        body(&protocol::RoundRequest { round: r }),
                        Kind::Task { round: r },
                        ans.clone(),
                    );
                }
            }
        }
    }

    fn drain(
        &self,
        core: &mut NodeCore,
        snap: &Snapshot,
        send: &mpsc::UnboundedSender<(Instruction, Slot)>,
        ans: &mpsc::UnboundedSender<Answer>,
    ) {
        while let Some(action) = core.poll_action() {
            let (task, body, kind) = match action {
                Action::Send { ix, .. } => {
                    let _ = send.send((ix, snap.slot));
                    continue;
                }
                Action::SuspectAudits {
                    task,
                    round,
                    sampled,
                    checked,
                    invalid,
                    unstake,
                } => {
                    let did = if unstake {
                        "raising nothing, voting abstain, unstaking"
                    } else {
                        "raising nothing, voting abstain"
                    };
                    tracing::warn!(task = %task, round, sampled, checked, invalid, action = did,
                        "the task called most of this round's sampled peers invalid; its audit code may be broken or time-bombed");
                    if let Some(p) = self.shared.tasks.get(&task) {
                        p.log.note(&format!(
                            "audit guard: round {round}: {invalid} of {checked} checked peers invalid; {did}"
                        ));
                    }
                    continue;
                }
                Action::RunTask { task, round } => (
                    task,
                    body(&protocol::RoundRequest { round }),
                    Kind::Task { round },
                ),
                Action::MakeProof { task, round } => (
                    task,
                    body(&protocol::RoundRequest { round }),
                    Kind::Proof { round },
                ),
                Action::CheckProof {
                    task,
                    round,
                    candidate,
                    value,
                } => (
                    task,
                    body(&protocol::AuditRequest {
                        round,
                        candidate: candidate.to_base58(),
                        value: protocol::b64_encode(&value),
                    }),
                    Kind::Check { round, candidate },
                ),
                Action::MakeDistribution {
                    task,
                    round,
                    attempt,
                    purpose,
                    submitters,
                    bounty,
                } => (
                    task,
                    body(&protocol::DistributionRequest {
                        round,
                        submitters: submitters.iter().map(|s| s.to_base58()).collect(),
                        bounty,
                    }),
                    Kind::List {
                        round,
                        attempt,
                        purpose,
                    },
                ),
            };
            let Some(p) = self.shared.tasks.get(&task).cloned() else {
                continue;
            };
            if let (Kind::Task { round }, Ok(mut ran)) = (kind, self.ran.lock()) {
                ran.insert(task, (p.info().starts, Some(round)));
            }
            self.spawn_call(task, p, body, kind, ans.clone());
        }
    }

    fn spawn_call(
        &self,
        task: TaskId,
        p: Arc<TaskProcess>,
        body: serde_json::Value,
        kind: Kind,
        ans: mpsc::UnboundedSender<Answer>,
    ) {
        let sh = self.shared.clone();
        tokio::spawn(async move {
            let name = kind.call_path();
            let r = p.call(name, &body).await;
            if r.is_ok() {
                sh.counters.calls_ok.fetch_add(1, Ordering::Relaxed);
            }
            let answer = match (kind, r) {
                (Kind::Task { .. }, Ok(_)) => None,
                (Kind::Task { .. }, Err(e)) => {
                    call_failed(&sh, &task, name, &e);
                    None
                }
                (Kind::Proof { round }, r) => {
                    let value = r.and_then(|v| proof_value(v).map_err(CallError::BadAnswer));
                    let value = match value {
                        Ok(v) => v,
                        Err(e) => {
                            call_failed(&sh, &task, name, &e);
                            None
                        }
                    };
                    Some(Answer::Proof { task, round, value })
                }
                (Kind::Check { round, candidate }, r) => {
                    let v = r
                        .and_then(|v| {
                            answer::<protocol::AuditResponse>(v).map_err(CallError::BadAnswer)
                        })
                        .map(|a| Verdict::from(a.verdict));
                    let verdict = v.unwrap_or_else(|e| {
                        call_failed(&sh, &task, name, &e);
                        Verdict::Abstain
                    });
                    Some(Answer::Check {
                        task,
                        round,
                        candidate,
                        verdict,
                    })
                }
                (
                    Kind::List {
                        round,
                        attempt,
                        purpose,
                    },
                    r,
                ) => match r.and_then(|v| list_entries(v).map_err(CallError::BadAnswer)) {
                    Ok(list) => Some(Answer::List {
                        task,
                        round,
                        attempt,
                        purpose,
                        list,
                    }),
                    Err(e) => {
                        call_failed(&sh, &task, name, &e);
                        None
                    }
                },
            };
            if let Some(a) = answer {
                let _ = ans.send(a);
            }
        });
    }

    async fn sender(self, mut rx: mpsc::UnboundedReceiver<(Instruction, Slot)>) {
        let sh = &self.shared;
        while let Some((ix, slot)) = rx.recv().await {
            let kind = ix.name();
            let tx = match &ix {
                Instruction::SubmitProof { task, round, .. } => {
                    // Idempotent across crashes: the recorded proof tx is re-sent as is.
                    match sh.store.proof_tx(task, *round) {
                        Ok(Some(tx)) if tx.message.recent_slot + self.tx_max_age > slot + 2 => tx,
                        _ => {
                            let tx = Transaction::new_signed(
                                &sh.keypair,
                                &self.chain_id,
                                slot,
                                self.fee,
                                ix.clone(),
                            );
                            if let Err(e) = sh.store.put_proof_tx(task, *round, &tx) {
                                tracing::error!(error = %e, "cannot record the proof before sending it; not sending");
                                continue;
                            }
                            tx
                        }
                    }
                }
                _ => {
                    Transaction::new_signed(&sh.keypair, &self.chain_id, slot, self.fee, ix.clone())
                }
            };
            match sh.client.send_transaction(&tx).await {
                Ok(sig) => {
                    sh.counters.txs_sent.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(kind, %sig, "sent");
                }
                Err(e) if e.tx_error_code().as_deref() == Some("duplicate") => {
                    tracing::debug!(kind, "already sent (duplicate)");
                }
                Err(e) => {
                    sh.counters.txs_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(kind, error = %e, "transaction refused");
                }
            }
        }
    }
}

fn call_failed(sh: &NodeShared, task: &TaskId, what: &str, e: &CallError) {
    sh.counters.calls_failed.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut m) = sh.calls_failed.write() {
        *m.entry(*task).or_default() += 1;
    }
    tracing::warn!(task = %task, call = what, error = %e, "task call failed");
    if let Some(p) = sh.tasks.get(task) {
        p.log.note(&format!("{what} call failed: {e}"));
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Task {
        round: u64,
    },
    Proof {
        round: u64,
    },
    Check {
        round: u64,
        candidate: Pubkey,
    },
    List {
        round: u64,
        attempt: u16,
        purpose: ListPurpose,
    },
}

impl Kind {
    fn call_path(&self) -> &'static str {
        match self {
            Kind::Task { .. } => paths::TASK,
            Kind::Proof { .. } => paths::SUBMISSION,
            Kind::Check { .. } => paths::AUDIT,
            Kind::List { .. } => paths::DISTRIBUTION,
        }
    }
}

/// A control call's body as JSON.
fn body<T: Serialize>(b: &T) -> serde_json::Value {
    serde_json::to_value(b).unwrap_or(serde_json::Value::Null)
}

/// A control call's answer as its protocol type.
fn answer<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("not the protocol's answer: {e}"))
}

/// `{"value": "<base64>"}` or `{"value": null}`, at most 512 bytes.
fn proof_value(v: serde_json::Value) -> Result<Option<Vec<u8>>, String> {
    answer::<protocol::SubmissionResponse>(v)?
        .bytes()
        .map_err(|e| e.to_string())
}

/// `{"entries": [["<base58>", 250], ...]}`.
fn list_entries(v: serde_json::Value) -> Result<Vec<(Pubkey, u64)>, String> {
    answer::<protocol::DistributionResponse>(v)?
        .parse()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #10, found by review: a root node whose task users could not reach their
    /// directories (or with `task_user = "none"`) ran tasks as root with every capability,
    /// Landlock aside. It now refuses to start and names the fix.
    #[test]
    fn a_root_node_refuses_to_run_tasks_as_root() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root: a non-root node never runs tasks as root; nothing to check");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        gradual_client::write_keypair_file(&d.path().join("k.json"), &Keypair::generate(), false)
            .unwrap();
        let text = |extra: &str| {
            format!(
                "keypair = \"k.json\"\n{extra}[[task]]\nid = \"11111111111111111111111111111111\"\n"
            )
        };
        let parse = |t: String| NodeConfig::parse(&t, false, d.path(), "node.toml").unwrap();
        let e = confinement(&parse(text("")), 1).unwrap_err().to_string();
        assert!(e.contains("does not let other users pass"), "{e}");
        assert!(e.contains("/var/lib/gradual"), "{e}");
        let e = confinement(&parse(text("[sandbox]\ntask_user = \"none\"\n")), 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("task_user = \"none\""), "{e}");
        // Reachable: tasks get users of their own.
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let c = confinement(&parse(text("")), 1).unwrap();
        assert!(c.protections.separate_user);
        let mode = std::fs::metadata(d.path().join("node-data/tasks"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o001, 0o001, "tasks/ is traversable");
    }

    #[test]
    fn task_answers_are_checked() {
        use serde_json::json;
        assert_eq!(proof_value(json!({"value": null})), Ok(None));
        assert_eq!(proof_value(json!({})), Ok(None));
        assert_eq!(proof_value(json!({"value": "AQI="})), Ok(Some(vec![1, 2])));
        assert!(proof_value(json!({"value": 5}))
            .unwrap_err()
            .contains("protocol"));
        assert!(proof_value(json!({"value": "%%"}))
            .unwrap_err()
            .contains("base64"));
        let big = protocol::b64_encode(&[0u8; 513]);
        assert!(proof_value(json!({ "value": big }))
            .unwrap_err()
            .contains("513 bytes"));
        let k = Keypair::from_seed([1; 32]).pubkey();
        assert_eq!(
            list_entries(json!({"entries": [[k.to_base58(), 7]]})),
            Ok(vec![(k, 7)])
        );
        assert!(list_entries(json!({"entries": [[k.to_base58(), -1]]})).is_err());
        assert!(list_entries(json!({"entries": [["x"]]})).is_err());
        assert!(list_entries(json!({"entries": [["x", 1]]})).is_err());
        assert!(list_entries(json!({})).is_err());
        assert_eq!(
            answer::<protocol::AuditResponse>(json!({"verdict": "abstain"}))
                .map(|a| Verdict::from(a.verdict)),
            Ok(Verdict::Abstain)
        );
        assert!(answer::<protocol::AuditResponse>(json!({"verdict": "maybe"})).is_err());
    }

    use crate::outbound::testing::serve;
    use crate::outbound::OutboundPolicy;
    use std::sync::atomic::Ordering as AtomicOrdering;

    const EXE: &str = "#!/bin/sh\necho task\n";

    fn exe_digest() -> Hash {
        Hash(*blake3::hash(EXE.as_bytes()).as_bytes())
    }

    #[tokio::test]
    async fn artifact_url_on_a_private_address_is_refused() {
        let (addr, hits) = serve(200, None, EXE).await;
        let url = format!("http://{addr}/exe");
        let guarded = Outbound::guarded(OutboundPolicy::default()).unwrap();
        let e = download(&guarded, &url, &exe_digest()).await.unwrap_err();
        assert!(e.contains("127.0.0.1 is a loopback address"), "{e}");
        assert_eq!(hits.load(AtomicOrdering::SeqCst), 0);
        // Private-network and metadata addresses are refused before any connection.
        for url in [
            "http://10.0.0.7/exe",
            "http://192.168.1.1/exe",
            "http://[fd00::1]/exe",
            "http://169.254.169.254/exe",
        ] {
            let e = download(&guarded, url, &exe_digest()).await.unwrap_err();
            assert!(e.contains("refused to connect"), "{url}: {e}");
        }
        // Allowed by the operator, the same URL works (and the digest is still checked).
        let allowed = Outbound::guarded(OutboundPolicy::with_loopback()).unwrap();
        let bytes = download(&allowed, &url, &exe_digest()).await.unwrap();
        assert_eq!(bytes, EXE.as_bytes());
        let e = download(&allowed, &url, &Hash([1; 32])).await.unwrap_err();
        assert!(e.contains("corrupt or wrong"), "{e}");
    }

    #[tokio::test]
    async fn artifact_download_does_not_follow_redirects() {
        let (inner, inner_hits) = serve(200, None, EXE).await;
        let (addr, _) = serve(301, Some(format!("http://{inner}/exe")), "").await;
        let url = format!("http://{addr}/exe");
        for out in [
            Outbound::guarded(OutboundPolicy::with_loopback()).unwrap(),
            Outbound::trusted().unwrap(),
        ] {
            let e = download(&out, &url, &exe_digest()).await.unwrap_err();
            assert!(e.contains(&url) && e.contains("HTTP 301"), "{e}");
        }
        assert_eq!(inner_hits.load(AtomicOrdering::SeqCst), 0);
    }

    /// The operator's own validator on loopback stays usable with the default policy, while
    /// a task creator's loopback URL is never called.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn validator_artifact_url_on_loopback_is_trusted() {
        use gradual_types::constants::ROE_PER_KOII;
        use gradual_types::{task_id, Executable, Faucet, Genesis, TaskParams};
        let dir = tempfile::tempdir().unwrap();
        let faucet = Keypair::generate();
        let genesis = Genesis {
            slot_ms: 50,
            faucet: Some(Faucet::new(faucet.pubkey(), 10_000 * ROE_PER_KOII)),
            ..Genesis::default()
        };
        let mut vc = gradual_validator::ValidatorConfig::new(
            dir.path().join("validator"),
            "127.0.0.1:0".parse().unwrap(),
            genesis,
        );
        vc.faucet_keypair = Some(faucet);
        let v = gradual_validator::start(vc).await.unwrap();
        let client = Client::new(&v.url());
        let manager = Keypair::generate();
        client
            .airdrop_and_confirm(&manager.pubkey(), 300 * ROE_PER_KOII)
            .await
            .unwrap();
        client
            .upload_artifact_signed(&manager, EXE.as_bytes().to_vec())
            .await
            .unwrap();
        let (rogue, rogue_hits) = serve(200, None, EXE).await;
        let params = TaskParams {
            name: "t".into(),
            executable: Executable {
                digest: exe_digest(),
                urls: vec![format!("http://{rogue}/exe")],
                runtime: "sh".into(),
            },
            bounty_per_round: ROE_PER_KOII,
            round_time: 135,
            submission_window: 15,
            audit_window: 120,
            minimum_stake: ROE_PER_KOII,
            ..TaskParams::default()
        };
        client
            .send_and_confirm(
                &manager,
                Instruction::CreateTask {
                    nonce: 1,
                    params,
                    total_bounty: 100 * ROE_PER_KOII,
                },
            )
            .await
            .unwrap();
        let task = task_id(&manager.pubkey(), 1);
        let fetch = ArtifactFetch {
            untrusted: Outbound::guarded(OutboundPolicy::default()).unwrap(),
            validator: Outbound::trusted().unwrap(),
        };
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        let launch = prepare_artifact(&client, &fetch, &task, &cache).await;
        v.shutdown().await.unwrap();
        let launch = launch.unwrap();
        assert_eq!(std::fs::read(&launch.artifact).unwrap(), EXE.as_bytes());
        assert_eq!(rogue_hits.load(AtomicOrdering::SeqCst), 0);
    }
}
