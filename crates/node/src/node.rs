//! Starting and stopping a node: its store, its task processes (fetched, confined,
//! supervised), its HTTP server and its driver. The parts live in their own modules:
//! `shared.rs` (state the server and the driver share), `status.rs` (a task's status, a pure
//! function), `calls.rs` (control calls), `sender.rs` (signing and sending), `driver.rs`
//! (the loop around [`gradual_node_proto::NodeCore`]), `artifact.rs` (task executables).

use crate::artifact::ArtifactFetch;
use crate::config::{NodeConfig, TaskEntry};
use crate::driver::Driver;
use crate::http;
use crate::launcher::Launcher;
use crate::outbound::Outbound;
use crate::sender::Sender;
use crate::shared::NodeShared;
use crate::store::NodeStore;
use crate::supervisor::{stopped, Confinement};
use gradual_client::Client;
use gradual_node_proto::{NodeCore, TaskConfig};
use gradual_types::Hash;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub use crate::shared::{Counters, Peer};
pub use crate::status::{declared_ports, Health, TaskStatus};

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

/// A running node: [`RunningNode::shutdown`] stops it (tasks first).
pub struct RunningNode {
    pub addr: SocketAddr,
    pub shared: Arc<NodeShared>,
    stop: watch::Sender<bool>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    launcher: Arc<Launcher>,
    reload: mpsc::UnboundedSender<NodeConfig>,
    pid_file: PathBuf,
}

/// The node's process id, in its data directory while it runs (`gradual node reload`
/// signals it).
pub const PID_FILE: &str = "node.pid";

impl RunningNode {
    pub async fn shutdown(self) {
        self.stop.send_replace(true);
        self.launcher.stop_all().await;
        for h in self.handles {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }

    /// Apply a re-read config file: start the tasks added to it, stop the ones removed,
    /// apply the kept tasks' stake, claim and audit-guard settings, and log which other
    /// changes need a restart. (SIGHUP, `gradual node reload`.) Returns at once; the
    /// driver applies it between two slots.
    pub fn reload(&self, config: NodeConfig) {
        if self.reload.send(config).is_err() {
            tracing::warn!("the node is stopping; reload ignored");
        }
    }
}

fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> NodeError {
    let path = path.display().to_string();
    move |source| NodeError::Io { what, path, source }
}

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

/// Start a node: open its store, start every task process, serve HTTP, and drive the
/// scheduler until [`RunningNode::shutdown`].
pub async fn start(mut config: NodeConfig) -> Result<RunningNode, NodeError> {
    // Task processes run in their own directories: every path they are given is absolute.
    config.data_dir = crate::config::absolute_dir(&config.data_dir);
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
    let bind = |source| NodeError::Bind {
        addr: config.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(bind)?;
    let addr = listener.local_addr().map_err(bind)?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let me = config.keypair.pubkey();

    let confinement = Arc::new(confinement(&config, addr.port())?);
    let fetch = Arc::new(ArtifactFetch {
        untrusted: Outbound::guarded(config.outbound.clone())?,
        validator: Outbound::trusted()?,
    });
    let launcher = Arc::new(Launcher::new(
        dir.clone(),
        config.rpc_url.clone(),
        me,
        format!("http://{addr}"),
        config.sandbox.uid_base,
        confinement.clone(),
        fetch,
    ));
    let tdir = dir.join("tasks");
    let procs = launcher
        .processes(&config.tasks, &Default::default())
        .map_err(io("cannot create task directory", &tdir))?;
    let tasks: BTreeMap<_, _> = procs.iter().map(|p| (p.task, p.clone())).collect();
    let shared = Arc::new(NodeShared::new(
        &config,
        store,
        tasks,
        genesis.slot_ms,
        public_url.clone(),
        confinement.protections.clone(),
    )?);
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
    for (p, t) in procs.into_iter().zip(&config.tasks) {
        launcher.start(p, t);
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
        core.add_task(t.id, task_config(t, &public_url));
    }
    let pid_file = dir.join(PID_FILE);
    if let Err(e) = std::fs::write(&pid_file, std::process::id().to_string()) {
        tracing::warn!(path = %pid_file.display(), error = %e, "cannot write the pid file; `gradual node reload` will not find this node");
    }
    let (reload, reload_rx) = mpsc::unbounded_channel();
    let driver = Driver {
        shared: shared.clone(),
        sender: Sender {
            shared: shared.clone(),
            chain_id: genesis.chain_id.clone(),
            fee: genesis.fee_roe,
            tx_max_age: genesis.tx_max_age_slots,
        },
        ran: Mutex::default(),
        unpaid_rounds_warn: config.unpaid_rounds_warn,
        launcher: launcher.clone(),
        public_url: public_url.clone(),
    };
    let tasks = config.tasks.len();
    handles.push(tokio::spawn(driver.run(core, config, reload_rx, stop_rx)));
    tracing::info!(node = %me, %addr, url = %public_url, tasks, "node started");
    Ok(RunningNode {
        addr,
        shared,
        stop,
        handles,
        launcher,
        reload,
        pid_file,
    })
}

/// What the scheduler needs of a task's entry.
pub(crate) fn task_config(t: &TaskEntry, public_url: &str) -> TaskConfig {
    TaskConfig {
        stake_roe: t.stake_roe,
        url: public_url.to_string(),
        claim_at_roe: t.claim_at_roe,
        audit_guard: t.audit_guard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::Keypair;

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
}
