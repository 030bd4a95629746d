//! Starting and stopping a devnet: the in-process validator, the task deployed through the
//! client (artifact upload + `CreateTask`), and the `gradual node` child processes.

use crate::config::{
    node_config_text, DevnetConfig, TaskChoice, NODE_AIRDROP_KOII, NODE_DATA_DIR, NODE_STAKE_KOII,
};
use crate::observe::RoundObs;
use gradual_client::{write_keypair_file, Client};
use gradual_rpc::dto::TaskDto;
use gradual_types::constants::ROE_PER_KOII;
use gradual_types::{
    task_id, Executable, Faucet, Genesis, Hash, Instruction, Keypair, Pubkey, TaskId, TaskParams,
};
use gradual_validator::{RunningValidator, ValidatorConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The built-in stdlib-Python demo task (docs/task-protocol.md).
pub const BUILTIN_TASK_PY: &str = include_str!("builtin_task.py");

/// One node process of the devnet.
pub struct DevNode {
    pub index: usize,
    pub keypair: Keypair,
    pub adversary: Option<String>,
    pub config_path: PathBuf,
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
    started: bool,
    pub restarts: u32,
}

impl DevNode {
    pub fn pubkey(&self) -> Pubkey {
        self.keypair.pubkey()
    }
    pub fn role(&self) -> String {
        self.adversary
            .clone()
            .map(|a| format!("adversary ({a})"))
            .unwrap_or_else(|| "honest".into())
    }
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub struct Devnet {
    pub cfg: DevnetConfig,
    pub validator: Option<RunningValidator>,
    pub client: Client,
    pub task: TaskId,
    pub manager: Keypair,
    pub faucet: Keypair,
    pub nodes: Vec<DevNode>,
    pub minted_roe: u64,
    pub stake_roe: u64,
    pub rounds: BTreeMap<u64, RoundObs>,
    pub last: Option<TaskDto>,
    /// The bounty the task was created with.
    pub bounty_roe: u64,
    /// The one copy of the task executable every node's artifact cache links to.
    pub shared_artifact: PathBuf,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Whether `port` on loopback is free now (the devnet binds it a moment later).
fn port_free(port: u16, what: &str) -> Result<u16, String> {
    std::net::TcpListener::bind(("127.0.0.1", port))
        .map(|_| port)
        .map_err(|e| format!("port {port} ({what}) is not free: {e}; choose another --base-port"))
}

/// Put one copy of the task executable in `<dir>/artifacts/<digest>` (a hard link to the
/// validator's stored upload when there is one, else the bytes written once), executable.
fn shared_artifact(
    dir: &Path,
    validator_dir: &Path,
    digest: &Hash,
    bytes: &[u8],
) -> Result<PathBuf, String> {
    let name = digest.to_base58();
    let shared_dir = dir.join("artifacts");
    std::fs::create_dir_all(&shared_dir)
        .map_err(|e| format!("cannot create '{}': {e}", shared_dir.display()))?;
    let shared = shared_dir.join(&name);
    let stored = validator_dir
        .join(gradual_validator::ARTIFACTS_DIR)
        .join(&name);
    let linked = std::fs::read(&stored)
        .is_ok_and(|b| Hash(*blake3::hash(&b).as_bytes()) == *digest)
        && std::fs::hard_link(&stored, &shared).is_ok();
    if !linked {
        std::fs::write(&shared, bytes)
            .map_err(|e| format!("cannot write '{}': {e}", shared.display()))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot make '{}' executable: {e}", shared.display()))?;
    Ok(shared)
}

/// Seed a node's artifact cache (`<node dir>/<data>/artifacts/<digest>`, where the node
/// looks before downloading, checking the digest) with a hard link to the shared copy, so
/// N nodes on one machine hold one copy, not N. A copy if linking fails.
fn seed_artifact_cache(node_dir: &Path, shared: &Path) -> Result<(), String> {
    let cache = node_dir.join(NODE_DATA_DIR).join("artifacts");
    std::fs::create_dir_all(&cache)
        .map_err(|e| format!("cannot create '{}': {e}", cache.display()))?;
    let to = cache.join(shared.file_name().unwrap_or_default());
    if std::fs::hard_link(shared, &to).is_err() {
        std::fs::copy(shared, &to)
            .map_err(|e| format!("cannot copy the task executable to '{}': {e}", to.display()))?;
    }
    Ok(())
}

fn runtime_for(path: &Path) -> &'static str {
    gradual_types::runtime::interpreter_for(&path.file_name().unwrap_or_default().to_string_lossy())
}

/// A task directory packed as the node unpacks it, run from `entry` inside it.
fn packed_dir(dir: &Path, entry: Option<&str>) -> Result<(Vec<u8>, String), String> {
    let entry = entry.ok_or_else(|| {
        format!(
            "--task '{}' is a directory: name the file the nodes run inside it with --entry, e.g. --entry main.py",
            dir.display()
        )
    })?;
    let runtime = gradual_types::runtime::with_entry(runtime_for(Path::new(entry)), entry)
        .map_err(|e| format!("--entry '{entry}': {e}"))?;
    let packed = gradual_client::pack::pack_dir(dir, gradual_types::constants::ARTIFACT_BYTES_MAX)
        .map_err(|e| format!("cannot pack --task '{}': {e}", dir.display()))?;
    Ok((packed.bytes, runtime))
}

impl Devnet {
    /// The artifact bytes and runtime for the configured task.
    fn artifact(cfg: &DevnetConfig) -> Result<(Vec<u8>, String, String), String> {
        let sibling = |name: &str| {
            cfg.gradual_bin
                .parent()
                .map(|d| d.join(name))
                .filter(|p| p.is_file())
        };
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| format!("cannot read task executable '{}': {e}", p.display()))
        };
        match &cfg.task {
            TaskChoice::Builtin => Ok((
                BUILTIN_TASK_PY.as_bytes().to_vec(),
                "python3".into(),
                "builtin".into(),
            )),
            TaskChoice::Auto => match sibling("gradual-chain-indexer") {
                Some(p) => Ok((read(&p)?, "native".into(), "chain-indexer".into())),
                None => Ok((
                    BUILTIN_TASK_PY.as_bytes().to_vec(),
                    "python3".into(),
                    "builtin".into(),
                )),
            },
            TaskChoice::ChainIndexer | TaskChoice::RestMonitor => {
                let name = if cfg.task == TaskChoice::ChainIndexer {
                    "gradual-chain-indexer"
                } else {
                    "gradual-rest-monitor"
                };
                let p = sibling(name).ok_or_else(|| {
                    format!("'{name}' is not next to {}; build it (cargo build --release --bins) or use --task builtin", cfg.gradual_bin.display())
                })?;
                Ok((
                    read(&p)?,
                    "native".into(),
                    name.trim_start_matches("gradual-").into(),
                ))
            }
            TaskChoice::Path(p) if p.is_dir() => {
                let (bytes, runtime) = packed_dir(p, cfg.entry.as_deref())?;
                Ok((bytes, runtime, p.display().to_string()))
            }
            TaskChoice::Path(p) => Ok((read(p)?, runtime_for(p).into(), p.display().to_string())),
        }
    }

    /// Start the validator, deploy the task, start the nodes.
    pub async fn start(cfg: DevnetConfig) -> Result<Devnet, String> {
        cfg.check()?;
        std::fs::create_dir_all(&cfg.dir)
            .map_err(|e| format!("cannot create '{}': {e}", cfg.dir.display()))?;
        let (artifact, runtime, task_name) = Devnet::artifact(&cfg)?;
        // Fixed ports: all free before anything starts, or the port and its owner named.
        if let Some(base) = cfg.base_port {
            port_free(base, "the validator")?;
            for i in 1..=cfg.nodes {
                let port = cfg
                    .node_port(i)
                    .ok_or("--base-port leaves no port for node")?;
                port_free(port, &format!("node {i}"))?;
            }
        }
        let faucet = Keypair::generate();
        let genesis = Genesis {
            chain_id: "gradual-devnet".into(),
            slot_ms: cfg.slot_ms,
            fee_roe: 0,
            tx_max_age_slots: 600,
            faucet: Some(Faucet::new(faucet.pubkey(), 100_000 * ROE_PER_KOII)),
            accounts: Vec::new(),
            // No validators named: the validator generates its own identity (saved in its
            // data directory) and names it as the chain's only validator; no admin, so the
            // set is fixed (SPEC §1).
            validators: Vec::new(),
            admin: None,
            ..Genesis::default()
        };
        let validator_dir = cfg.dir.join("validator");
        let mut vc = ValidatorConfig::new(validator_dir.clone(), cfg.validator_addr(), genesis);
        vc.faucet_keypair = Some(faucet.clone());
        // A debug build of an example task is larger than the default upload limit.
        vc.artifact_max_bytes = vc.artifact_max_bytes.max(artifact.len());
        let quota = &mut vc.artifact_limits.uploader_quota_bytes;
        *quota = (*quota).max(artifact.len() as u64);
        let validator = gradual_validator::start(vc).await.map_err(|e| {
            let hint = cfg
                .base_port
                .map(|p| format!(" (port {p}: choose another --base-port)"))
                .unwrap_or_default();
            format!("cannot start the validator: {e}{hint}")
        })?;
        let client = Client::new(&validator.url());
        let manager = Keypair::generate();
        let mut minted = 0u64;
        let bounty_total = 1_000 * ROE_PER_KOII;
        client
            .airdrop_and_confirm(&manager.pubkey(), bounty_total + ROE_PER_KOII)
            .await
            .map_err(|e| format!("airdrop to the task manager: {e}"))?;
        minted += bounty_total + ROE_PER_KOII;
        let art = client
            .upload_artifact_signed(&manager, artifact.clone())
            .await
            .map_err(|e| format!("uploading the task executable: {e}"))?;
        let digest = Hash(*blake3::hash(&artifact).as_bytes());
        let params = TaskParams {
            description: format!("gradual devnet: {task_name}"),
            executable: Executable {
                digest,
                urls: vec![art.url.clone()],
                runtime,
            },
            ..cfg.task_params()
        };
        let nonce = 1;
        client
            .send_and_confirm(
                &manager,
                Instruction::CreateTask {
                    nonce,
                    params,
                    total_bounty: bounty_total,
                },
            )
            .await
            .map_err(|e| format!("creating the task: {e}"))?;
        let task = task_id(&manager.pubkey(), nonce);
        let shared = shared_artifact(&cfg.dir, &validator_dir, &digest, &artifact)?;
        drop(artifact);
        let mut nodes = Vec::new();
        for i in 0..cfg.nodes {
            let kp = Keypair::generate();
            let dir = cfg.dir.join(format!("node-{}", i + 1));
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create '{}': {e}", dir.display()))?;
            let key_path = dir.join("key.json");
            write_keypair_file(&key_path, &kp, true)
                .map_err(|e| format!("writing {}: {e}", key_path.display()))?;
            client
                .airdrop_and_confirm(&kp.pubkey(), NODE_AIRDROP_KOII * ROE_PER_KOII)
                .await
                .map_err(|e| format!("airdrop to node {}: {e}", i + 1))?;
            minted += NODE_AIRDROP_KOII * ROE_PER_KOII;
            let adversary = if i + 1 == cfg.nodes {
                cfg.adversary.clone()
            } else {
                None
            };
            seed_artifact_cache(&dir, &shared)?;
            let port = match cfg.node_port(i + 1) {
                Some(p) => p,
                None => free_port()?,
            };
            let text = node_config_text(&cfg, &validator.url(), port, &task, adversary.as_deref());
            let config_path = dir.join("node.toml");
            std::fs::write(&config_path, text)
                .map_err(|e| format!("writing {}: {e}", config_path.display()))?;
            nodes.push(DevNode {
                index: i + 1,
                keypair: kp,
                adversary,
                config_path,
                dir,
                port,
                child: None,
                started: false,
                restarts: 0,
            });
        }
        let mut net = Devnet {
            cfg,
            validator: Some(validator),
            client,
            task,
            manager,
            faucet,
            nodes,
            minted_roe: minted,
            stake_roe: NODE_STAKE_KOII * ROE_PER_KOII,
            rounds: BTreeMap::new(),
            last: None,
            bounty_roe: bounty_total,
            shared_artifact: shared,
        };
        for i in 0..net.nodes.len() {
            net.start_node(i)?;
        }
        Ok(net)
    }

    /// (Re)start node `i` (0-based) as a `gradual node` child process.
    pub fn start_node(&mut self, i: usize) -> Result<(), String> {
        let n = self
            .nodes
            .get_mut(i)
            .ok_or_else(|| format!("no node {i}"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(n.dir.join("node.log"))
            .map_err(|e| format!("cannot open node log: {e}"))?;
        let err = log
            .try_clone()
            .map_err(|e| format!("cannot open node log: {e}"))?;
        let child = Command::new(&self.cfg.gradual_bin)
            .arg("node")
            .arg("--config")
            .arg(&n.config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start '{} node': {e}",
                    self.cfg.gradual_bin.display()
                )
            })?;
        if n.started {
            n.restarts += 1;
        }
        n.started = true;
        n.child = Some(child);
        Ok(())
    }

    /// SIGKILL node `i` (0-based), as a crash would.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes.get_mut(i).and_then(|n| n.child.take()) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether node `i`'s process is still running.
    pub fn node_alive(&mut self, i: usize) -> bool {
        self.nodes
            .get_mut(i)
            .and_then(|n| n.child.as_mut())
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stop every node and then the validator.
    pub async fn shutdown(&mut self) {
        self.stop_nodes().await;
        if let Some(v) = self.validator.take() {
            let _ = v.shutdown().await;
        }
    }

    /// Stop every node (SIGTERM, then SIGKILL after 10 s), then let the ledger run a
    /// few slots, so what they sent last is applied. Call before
    /// [`Devnet::summary`] for an exact supply check (claims move rewards while nodes run).
    pub async fn stop_nodes(&mut self) {
        for n in &mut self.nodes {
            if let Some(c) = &n.child {
                let _ = Command::new("kill")
                    .args(["-TERM", &c.id().to_string()])
                    .status();
            }
        }
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let mut waited = 0;
                loop {
                    match c.try_wait() {
                        Ok(Some(_)) | Err(_) => break,
                        Ok(None) if waited >= 100 => {
                            let _ = c.kill();
                            let _ = c.wait();
                            break;
                        }
                        Ok(None) => {
                            waited += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(self.cfg.slot_ms * 3)).await;
    }
}
