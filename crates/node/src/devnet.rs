//! `gradual devnet`: a validator (in this process, fast slots), one task deployed through the
//! client (artifact upload + `CreateTask`), and N `gradual node` child processes (each with
//! its own keypair, data directory and port; the last one adversarial). It watches the
//! ledger, shows progress, and judges the outcome: every settled round paid the honest
//! nodes, the cheater was caught and slashed, no honest node was slashed, supply conserved.
//!
//! ```text
//!   Devnet::start ──▶ validator (in-process) ◀──RPC── node 1..N (child processes)
//!        │                 ▲                             │ task child processes
//!        └─ poll() ────────┘ observations per round ─▶ summary() ─▶ table + verdict
//! ```

use crate::config::ADVERSARIES;
use gradual_client::{write_keypair_file, Client, TaskInfoFlags};
use gradual_rpc::dto::{AttemptOutcomeDto, AuditOutcomeDto, RoundStatusDto, TaskDto};
use gradual_types::constants::{ROE_PER_KOII, VOTE_WINDOW_MS_MIN};
use gradual_types::{
    format_koii, task_id, Executable, Faucet, Genesis, Hash, Instruction, Keypair, Pubkey, TaskId,
    TaskParams,
};
use gradual_validator::{RunningValidator, ValidatorConfig};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The built-in stdlib-Python demo task (docs/task-protocol.md).
pub const BUILTIN_TASK_PY: &str = include_str!("builtin_task.py");

/// Which task the devnet deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskChoice {
    /// `chain-indexer` if its binary sits next to `gradual`, else `builtin`.
    Auto,
    /// The `gradual-chain-indexer` example binary.
    ChainIndexer,
    /// The `gradual-rest-monitor` example binary.
    RestMonitor,
    /// The node crate's built-in Python task.
    Builtin,
    /// Any executable; the runtime comes from its extension (.py, .js, .sh, else native).
    Path(PathBuf),
}

impl std::str::FromStr for TaskChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => TaskChoice::Auto,
            "chain-indexer" => TaskChoice::ChainIndexer,
            "rest-monitor" => TaskChoice::RestMonitor,
            "builtin" => TaskChoice::Builtin,
            p if Path::new(p).exists() => TaskChoice::Path(PathBuf::from(p)),
            other => {
                return Err(format!(
                    "'{other}' is neither auto, chain-indexer, rest-monitor, builtin nor an existing file"
                ))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct DevnetConfig {
    pub nodes: usize,
    /// `GRADUAL_ADVERSARY` of the last node; `None` for an all-honest devnet.
    pub adversary: Option<String>,
    pub slot_ms: u64,
    pub round_time: u64,
    pub submission_window: u64,
    pub audit_window: u64,
    pub task: TaskChoice,
    /// Working directory (validator, keys, node data, logs).
    pub dir: PathBuf,
    /// The `gradual` binary to run nodes with.
    pub gradual_bin: PathBuf,
    /// Extra environment for every node's task process.
    pub task_env: Vec<(String, String)>,
    /// Log filter of the nodes.
    pub node_log_level: String,
}

impl DevnetConfig {
    pub fn new(dir: PathBuf, gradual_bin: PathBuf) -> DevnetConfig {
        DevnetConfig {
            nodes: 5,
            adversary: Some("garbage".into()),
            // 8 s rounds: 1 s to submit proofs, 6 s of proof audits (the least the vote
            // window allows at 100 ms slots: committees get ≥ 3 s to vote, SPEC §5).
            slot_ms: 100,
            round_time: 80,
            submission_window: 10,
            audit_window: 60,
            task: TaskChoice::Auto,
            dir,
            gradual_bin,
            task_env: Vec::new(),
            node_log_level: "info".into(),
        }
    }

    /// Slot length and round length; the windows follow: an eighth of the round to submit
    /// proofs, and an audit window of at least `2·V` slots (SPEC §5 *Vote window*: 6 s of
    /// slots, or 2/5 of the round if that is longer).
    pub fn set_timing(&mut self, slot_ms: u64, round_time: u64) {
        self.slot_ms = slot_ms;
        self.round_time = round_time;
        self.submission_window = (round_time / 8).max(1);
        self.audit_window = min_audit_window(slot_ms).max(round_time * 2 / 5);
    }

    /// The task the devnet deploys, without its executable.
    pub fn task_params(&self) -> TaskParams {
        TaskParams {
            name: "devnet".into(),
            bounty_per_round: ROE_PER_KOII,
            round_time: self.round_time,
            submission_window: self.submission_window,
            audit_window: self.audit_window,
            minimum_stake: ROE_PER_KOII,
            ..TaskParams::default()
        }
    }

    /// Every problem, each with its fix.
    pub fn check(&self) -> Result<(), String> {
        let mut p = Vec::new();
        if !(1..=50).contains(&self.nodes) {
            p.push(format!("--nodes {}: run 1 to 50 nodes", self.nodes));
        }
        if self.adversary.is_some() && self.nodes < 3 {
            p.push(format!(
                "--nodes {} with an adversary: use at least 3 nodes (or --adversary none)",
                self.nodes
            ));
        }
        if let Some(a) = &self.adversary {
            if !ADVERSARIES.contains(&a.as_str()) {
                p.push(format!(
                    "--adversary {a}: expected none or one of {}",
                    ADVERSARIES.join(", ")
                ));
            }
        }
        if !(gradual_validator::config::SLOT_MS_MIN..=gradual_validator::config::SLOT_MS_MAX)
            .contains(&self.slot_ms)
        {
            p.push(format!(
                "--slot-ms {}: must be between 10 and 60000",
                self.slot_ms
            ));
        }
        // The ledger's own rules (and words) for the task the devnet will create.
        if let Err(e) = self.task_params().validate_for_chain(self.slot_ms) {
            let fix = min_round_time(self.slot_ms)
                .filter(|rt| self.round_time < *rt)
                .map(|rt| {
                    format!(
                        " (at --slot-ms {} use --round-time {rt} or more)",
                        self.slot_ms
                    )
                })
                .unwrap_or_default();
            p.push(format!(
                "round of {} slots (submission window {}, audit window {}): {e}{fix}",
                self.round_time, self.submission_window, self.audit_window
            ));
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(p.join("; "))
        }
    }
}

/// The shortest audit window the vote window allows at `slot_ms` (SPEC §5: `AW ≥ 2·V`,
/// `V ≥ 3 s` of slots).
pub fn min_audit_window(slot_ms: u64) -> u64 {
    2 * VOTE_WINDOW_MS_MIN.div_ceil(slot_ms.max(1))
}

/// The shortest round [`DevnetConfig::set_timing`] fits its windows in at `slot_ms`.
pub fn min_round_time(slot_ms: u64) -> Option<u64> {
    let mut c = DevnetConfig::new(PathBuf::new(), PathBuf::new());
    let from = min_audit_window(slot_ms) + 1;
    (from..from.saturating_mul(2)).find(|rt| {
        c.set_timing(slot_ms, *rt);
        c.task_params().validate_for_chain(slot_ms).is_ok()
    })
}

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

/// What the devnet saw of one round.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundObs {
    pub round: u64,
    pub status: String,
    pub settled: bool,
    pub submitters: Vec<String>,
    pub voided: Vec<String>,
    /// Candidates whose proof was upheld invalid (slashed).
    pub upheld: Vec<String>,
    /// Accusers slashed for a refuted audit.
    pub refuted_accusers: Vec<String>,
    /// Submitters of rejected lists (slashed when the round settled, not vindicated).
    pub rejected_lists: Vec<String>,
    /// Selected submitters that sent no list in their window (slashed `missed_list_bps`).
    pub missed_lists: Vec<String>,
    /// The paid list, once paid.
    pub paid: Option<Vec<(String, u64)>>,
    /// ROE this round's verdicts burned (SPEC §5–6 [v2]: slash remainders not paid out).
    pub burned_roe: u64,
    /// A rejected list was slashed: its split is not in the RPC view, so the burn is unknown.
    pub burn_unknown: bool,
}

/// The verdict of a devnet run.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub task: String,
    pub rounds: Vec<RoundObs>,
    pub nodes: Vec<NodeSummary>,
    pub settled_rounds: u64,
    /// Each failure in words; empty when the run passed.
    pub failures: Vec<String>,
    pub adversary_slashes: u64,
    pub supply_conserved: bool,
    pub ok: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeSummary {
    pub index: usize,
    pub node: String,
    pub role: String,
    pub stake_roe: u64,
    pub balance_roe: u64,
    pub pending_roe: u64,
    pub rounds_paid: u64,
    pub rewards_roe: u64,
    pub restarts: u32,
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
}

/// Stake each node puts on the task, and its starting balance.
const NODE_STAKE_KOII: u64 = 2;
const NODE_AIRDROP_KOII: u64 = 10;

/// The `node.toml` of one devnet node.
fn node_config_text(
    cfg: &DevnetConfig,
    rpc_url: &str,
    port: u16,
    task: &TaskId,
    adversary: Option<&str>,
) -> String {
    let mut env = String::new();
    for (k, v) in &cfg.task_env {
        env.push_str(&format!("{k} = {v:?}\n"));
    }
    // Every devnet node listens on 127.0.0.1, so their peer URLs are loopback ones, which a
    // node refuses to call by default (outbound.rs): allow loopback explicitly.
    format!(
        "# written by gradual devnet\nkeypair = \"key.json\"\nrpc_url = \"{rpc_url}\"\ndata_dir = \"data\"\nlisten = \"127.0.0.1:{port}\"\nlow_balance_warn = \"1\"\nlog_level = \"{}\"\n\n[limits]\ncall_timeout_ms = 3000\nrestart_backoff_ms = 200\nrestart_backoff_max_ms = 5000\n\n# all nodes of this devnet are on loopback: let them reach each other\n[outbound]\nallow = [\"127.0.0.0/8\", \"::1\"]\n\n[[task]]\nid = \"{task}\"\nstake = \"{NODE_STAKE_KOII}\"\nauto_stake = true\nclaim_at = \"0.5\"\n{}[task.env]\n{env}",
        cfg.node_log_level,
        adversary
            .map(|a| format!("adversary = \"{a}\"\n"))
            .unwrap_or_default(),
    )
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn runtime_for(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("py") => "python3",
        Some("js") | Some("mjs") | Some("cjs") => "node",
        Some("sh") => "sh",
        _ => "native",
    }
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
            TaskChoice::Path(p) => Ok((read(p)?, runtime_for(p).into(), p.display().to_string())),
        }
    }

    /// Start the validator, deploy the task, start the nodes.
    pub async fn start(cfg: DevnetConfig) -> Result<Devnet, String> {
        cfg.check()?;
        std::fs::create_dir_all(&cfg.dir)
            .map_err(|e| format!("cannot create '{}': {e}", cfg.dir.display()))?;
        let (artifact, runtime, task_name) = Devnet::artifact(&cfg)?;
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
        let mut vc = ValidatorConfig::new(
            cfg.dir.join("validator"),
            "127.0.0.1:0".parse().expect("address literal"),
            genesis,
        );
        vc.faucet_keypair = Some(faucet.clone());
        // A debug build of an example task is larger than the default upload limit.
        vc.artifact_max_bytes = vc.artifact_max_bytes.max(artifact.len());
        let quota = &mut vc.artifact_limits.uploader_quota_bytes;
        *quota = (*quota).max(artifact.len() as u64);
        let validator = gradual_validator::start(vc)
            .await
            .map_err(|e| format!("cannot start the validator: {e}"))?;
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
            let port = free_port()?;
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

    /// The task's clock.
    pub fn clock(&self) -> Option<gradual_ledger::Clock> {
        self.last.as_ref().map(gradual_client::task_clock)
    }

    /// Read the ledger and record what happened to each round. Returns the task view.
    pub async fn poll(&mut self) -> Result<TaskDto, String> {
        let t = self
            .client
            .get_task_account_info(&self.task, TaskInfoFlags::ALL)
            .await
            .map_err(|e| e.to_string())?;
        for r in t.rounds.iter().flatten() {
            let obs = self.rounds.entry(r.round).or_insert_with(|| RoundObs {
                round: r.round,
                ..RoundObs::default()
            });
            if obs.paid.is_some() {
                continue;
            }
            obs.status = match &r.status {
                RoundStatusDto::Reviewing => "reviewing",
                RoundStatusDto::Distributing => "distributing",
                RoundStatusDto::Paid { .. } => "paid",
                RoundStatusDto::Failed => "failed",
                RoundStatusDto::NoCandidates => "no candidates",
            }
            .into();
            obs.settled = matches!(
                r.status,
                RoundStatusDto::Paid { .. } | RoundStatusDto::Failed | RoundStatusDto::NoCandidates
            );
            if let Some(subs) = &r.submissions {
                obs.submitters = subs.iter().map(|s| s.node.clone()).collect();
                obs.voided = subs
                    .iter()
                    .filter(|s| s.voided)
                    .map(|s| s.node.clone())
                    .collect();
            }
            if let Some(audits) = &r.audits {
                obs.upheld = audits
                    .iter()
                    .filter(|a| matches!(a.outcome, Some(AuditOutcomeDto::Upheld { .. })))
                    .map(|a| a.candidate.clone())
                    .collect();
                obs.refuted_accusers = audits
                    .iter()
                    .filter(|a| matches!(a.outcome, Some(AuditOutcomeDto::Refuted { .. })))
                    .map(|a| a.accuser.clone())
                    .collect();
                obs.burned_roe = audits
                    .iter()
                    .map(|a| match a.outcome {
                        Some(AuditOutcomeDto::Upheld {
                            slashed,
                            accuser_reward,
                            voter_rewards,
                        }) => slashed - accuser_reward - voter_rewards,
                        Some(AuditOutcomeDto::Refuted {
                            slashed,
                            voter_rewards,
                        }) => slashed - voter_rewards,
                        _ => 0,
                    })
                    .sum();
            }
            if let Some(atts) = &r.attempts {
                // A rejected list's submitter is slashed when the round settles, unless a
                // later accepted list with the same digest vindicates it (SPEC §6).
                obs.rejected_lists = atts
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.outcome,
                            Some(AttemptOutcomeDto::FailedRejected {
                                slashed: Some(x),
                                ..
                            }) if x > 0
                        )
                    })
                    .map(|a| a.submitter.clone())
                    .collect();
                // A missed turn's slash is burned whole; a rejection's is split.
                for a in atts {
                    match a.outcome {
                        Some(AttemptOutcomeDto::FailedNotSubmitted { slashed }) => {
                            obs.burned_roe += slashed
                        }
                        Some(AttemptOutcomeDto::FailedRejected {
                            slashed: Some(x), ..
                        }) if x > 0 => obs.burn_unknown = true,
                        _ => {}
                    }
                }
                obs.missed_lists = atts
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.outcome,
                            Some(AttemptOutcomeDto::FailedNotSubmitted { slashed }) if slashed > 0
                        )
                    })
                    .map(|a| a.submitter.clone())
                    .collect();
            }
            if let RoundStatusDto::Paid { attempt, .. } = r.status {
                let info = self
                    .client
                    .get_task_distribution_info(&self.task, r.round)
                    .await
                    .map_err(|e| e.to_string())?;
                let entries = info
                    .attempts
                    .iter()
                    .find(|a| a.attempt == attempt)
                    .and_then(|a| a.entries.clone())
                    .unwrap_or_default();
                obs.paid = Some(entries.into_iter().map(|e| (e.node, e.reward)).collect());
            }
        }
        self.last = Some(t.clone());
        Ok(t)
    }

    /// Rounds observed settled.
    pub fn settled(&self) -> u64 {
        self.rounds.values().filter(|r| r.settled).count() as u64
    }

    /// Successful `SubmitProof` transactions per `(node, round)` over the whole chain.
    pub async fn proof_submissions(&self) -> Result<BTreeMap<(String, u64), u32>, String> {
        let clock = self.clock().ok_or("no task view yet")?;
        let head = self.client.get_slot().await.map_err(|e| e.to_string())?;
        let mut out = BTreeMap::new();
        let mut from = 0;
        while from <= head {
            let blocks = self
                .client
                .get_blocks(from, 100, true)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = blocks.last().map(|b| b.slot) else {
                break;
            };
            for b in &blocks {
                for tx in b.transactions.iter().flatten() {
                    if tx.instruction == "SubmitProof" && tx.err.is_none() {
                        let round = clock.round(b.slot).saturating_sub(1);
                        *out.entry((tx.signer.clone(), round)).or_default() += 1;
                    }
                }
            }
            from = last + 1;
        }
        Ok(out)
    }

    /// Judge the run so far.
    pub async fn summary(&mut self) -> Result<Summary, String> {
        let t = self.poll().await?;
        let clock = gradual_client::task_clock(&t);
        let stakes: BTreeMap<String, (u64, u64)> = t
            .stakes
            .iter()
            .flatten()
            .map(|s| (s.node.clone(), (s.amount, s.staked_slot)))
            .collect();
        let pending: BTreeMap<String, u64> = t
            .pending_rewards
            .iter()
            .flatten()
            .map(|r| (r.node.clone(), r.amount))
            .collect();
        let honest: BTreeSet<String> = self
            .nodes
            .iter()
            .filter(|n| n.adversary.is_none())
            .map(|n| n.pubkey().to_base58())
            .collect();
        let cheaters: BTreeSet<String> = self
            .nodes
            .iter()
            .filter(|n| n.adversary.is_some())
            .map(|n| n.pubkey().to_base58())
            .collect();
        let mut failures = Vec::new();
        let mut adversary_slashes = 0;
        for r in self.rounds.values().filter(|r| r.settled) {
            let start = clock.start(r.round);
            // Honest nodes that could submit for this round (staked before it started).
            let eligible: Vec<&String> = honest
                .iter()
                .filter(|n| stakes.get(*n).is_some_and(|(_, at)| *at < start))
                .collect();
            match &r.paid {
                Some(list) => {
                    for n in &eligible {
                        if !list.iter().any(|(p, x)| p == *n && *x > 0) {
                            failures.push(format!(
                                "round {}: honest node {} was not paid",
                                r.round,
                                short(n)
                            ));
                        }
                    }
                }
                None if !eligible.is_empty() => failures.push(format!(
                    "round {}: settled as {} with honest nodes eligible",
                    r.round, r.status
                )),
                None => {}
            }
            for c in &r.upheld {
                if honest.contains(c) {
                    failures.push(format!(
                        "round {}: honest node {} was wrongly slashed",
                        r.round,
                        short(c)
                    ));
                } else {
                    adversary_slashes += 1;
                }
            }
            for a in r
                .refuted_accusers
                .iter()
                .chain(&r.rejected_lists)
                .chain(&r.missed_lists)
            {
                if honest.contains(a) {
                    failures.push(format!(
                        "round {}: honest node {} was slashed",
                        r.round,
                        short(a)
                    ));
                } else {
                    adversary_slashes += 1;
                }
            }
        }
        for n in &honest {
            if let Some((amount, _)) = stakes.get(n) {
                if *amount < self.stake_roe {
                    failures.push(format!(
                        "honest node {} lost stake: {} left of {}",
                        short(n),
                        format_koii(*amount),
                        format_koii(self.stake_roe)
                    ));
                }
            }
        }
        if self.cfg.adversary.as_deref() == Some("garbage") {
            let cheated = self
                .rounds
                .values()
                .any(|r| r.settled && r.submitters.iter().any(|s| cheaters.contains(s)));
            if cheated && adversary_slashes == 0 {
                failures.push("the garbage node submitted proofs but was never slashed".into());
            }
            for r in self.rounds.values().filter(|r| r.settled) {
                if r.paid
                    .as_ref()
                    .is_some_and(|l| l.iter().any(|(p, x)| cheaters.contains(p) && *x > 0))
                {
                    failures.push(format!("round {}: the garbage node was paid", r.round));
                }
            }
        }
        // Supply: everything minted is in balances, stakes, the bounty or pending rewards.
        let mut accounts: Vec<Pubkey> = self.nodes.iter().map(|n| n.pubkey()).collect();
        accounts.push(self.manager.pubkey());
        accounts.push(self.faucet.pubkey());
        let mut balances = BTreeMap::new();
        let mut total = t.total_bounty;
        for a in &accounts {
            let b = self
                .client
                .get_balance(a)
                .await
                .map_err(|e| e.to_string())?;
            balances.insert(a.to_base58(), b);
            total += b;
        }
        total += stakes.values().map(|(a, _)| a).sum::<u64>() + pending.values().sum::<u64>();
        // Slash remainders are burned (SPEC §5 [v2]); fees are 0 on the devnet.
        let burned: u64 = self.rounds.values().map(|r| r.burned_roe).sum();
        let burn_known = self.rounds.values().all(|r| !r.burn_unknown);
        let supply_conserved = if burn_known {
            total + burned == self.minted_roe
        } else {
            total + burned <= self.minted_roe
        };
        if !supply_conserved {
            failures.push(format!(
                "supply not conserved: {} ROE accounted for and {} burned, {} minted",
                total, burned, self.minted_roe
            ));
        }
        let nodes = self
            .nodes
            .iter()
            .map(|n| {
                let k = n.pubkey().to_base58();
                let paid: Vec<u64> = self
                    .rounds
                    .values()
                    .filter_map(|r| {
                        r.paid
                            .as_ref()?
                            .iter()
                            .find(|(p, _)| *p == k)
                            .map(|(_, x)| *x)
                    })
                    .collect();
                NodeSummary {
                    index: n.index,
                    node: k.clone(),
                    role: n.role(),
                    stake_roe: stakes.get(&k).map(|s| s.0).unwrap_or(0),
                    balance_roe: balances.get(&k).copied().unwrap_or(0),
                    pending_roe: pending.get(&k).copied().unwrap_or(0),
                    rounds_paid: paid.len() as u64,
                    rewards_roe: paid.iter().sum(),
                    restarts: n.restarts,
                }
            })
            .collect();
        let settled_rounds = self.settled();
        if settled_rounds == 0 {
            failures.push("no round settled; run longer (--rounds) or check the node logs".into());
        }
        Ok(Summary {
            task: self.task.to_base58(),
            rounds: self.rounds.values().cloned().collect(),
            nodes,
            settled_rounds,
            ok: failures.is_empty(),
            failures,
            adversary_slashes,
            supply_conserved,
        })
    }

    /// A one-line node label for tables.
    pub fn label(&self, key: &str) -> String {
        self.nodes
            .iter()
            .find(|n| n.pubkey().to_base58() == key)
            .map(|n| format!("node{}", n.index))
            .unwrap_or_else(|| short(key))
    }
}

/// First 8 characters of a base58 key.
pub fn short(k: &str) -> String {
    k.chars().take(8).collect()
}

/// The summary as a plain-text table.
pub fn render_summary(net: &Devnet, s: &Summary) -> String {
    let mut out = String::new();
    out.push_str(&format!("task {}\n\n", s.task));
    out.push_str("round  status         proofs  voided  upheld  paid to\n");
    for r in &s.rounds {
        let paid = r
            .paid
            .as_ref()
            .map(|l| {
                l.iter()
                    .filter(|(_, x)| *x > 0)
                    .map(|(p, _)| net.label(p))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| "-".into());
        let upheld = r
            .upheld
            .iter()
            .map(|c| net.label(c))
            .collect::<Vec<_>>()
            .join(" ");
        out.push_str(&format!(
            "{:>5}  {:<13}  {:>6}  {:>6}  {:<6}  {}\n",
            r.round,
            r.status,
            r.submitters.len(),
            r.voided.len(),
            if upheld.is_empty() {
                "-".to_string()
            } else {
                upheld
            },
            paid
        ));
    }
    out.push_str("\nnode   role                    stake      balance     pending   rounds paid  rewards  restarts\n");
    for n in &s.nodes {
        out.push_str(&format!(
            "node{:<2} {:<22} {:>7} {:>12} {:>11} {:>12} {:>8} {:>9}\n",
            n.index,
            n.role,
            format_koii(n.stake_roe),
            format_koii(n.balance_roe),
            format_koii(n.pending_roe),
            n.rounds_paid,
            format_koii(n.rewards_roe),
            n.restarts
        ));
    }
    out.push('\n');
    if s.ok {
        out.push_str(&format!(
            "OK: {} settled round(s), every one paid the honest nodes; adversary slashed {} time(s); no honest node slashed; supply conserved\n",
            s.settled_rounds, s.adversary_slashes
        ));
    } else {
        out.push_str("FAILED:\n");
        for f in &s.failures {
            out.push_str(&format!("  - {f}\n"));
        }
    }
    out
}

/// One progress line: round, open windows, the latest round's proofs/audits, payouts.
pub fn progress_line(net: &Devnet, t: &TaskDto) -> String {
    let windows: Vec<String> = t
        .open_windows
        .iter()
        .map(|w| format!("{} r{}", w.window.replace('_', " "), w.round))
        .collect();
    let reviewing = net
        .rounds
        .values()
        .rev()
        .find(|r| !r.settled && !r.submitters.is_empty());
    let review = reviewing
        .map(|r| {
            format!(
                "r{}: {} proofs, {} upheld",
                r.round,
                r.submitters.len(),
                r.upheld.len()
            )
        })
        .unwrap_or_else(|| "no proofs yet".into());
    let paid = net.rounds.values().filter(|r| r.paid.is_some()).count();
    format!(
        "slot {} | round {} | {} | {} | {} round(s) paid, {} settled | bounty left {}",
        t.slot,
        t.current_round,
        if windows.is_empty() {
            "work".into()
        } else {
            windows.join(", ")
        },
        review,
        paid,
        net.settled(),
        format_koii(t.total_bounty)
    )
}

/// One line per node: role, stake, pending, rewards so far.
pub fn node_line(net: &Devnet, n: &DevNode, t: &TaskDto) -> String {
    let k = n.pubkey().to_base58();
    let stake = t
        .stakes
        .iter()
        .flatten()
        .find(|s| s.node == k)
        .map(|s| s.amount)
        .unwrap_or(0);
    let pending = t
        .pending_rewards
        .iter()
        .flatten()
        .find(|r| r.node == k)
        .map(|r| r.amount)
        .unwrap_or(0);
    let paid: u64 = net
        .rounds
        .values()
        .filter_map(|r| {
            r.paid
                .as_ref()?
                .iter()
                .find(|(p, _)| *p == k)
                .map(|(_, x)| *x)
        })
        .sum();
    let slashed = net
        .rounds
        .values()
        .filter(|r| r.upheld.contains(&k))
        .count();
    format!(
        "node{} {:<22} stake {:>5}  pending {:>11}  earned {:>11}  slashed {}x  {}",
        n.index,
        n.role(),
        format_koii(stake),
        format_koii(pending),
        format_koii(paid),
        slashed,
        short(&k)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devnet_nodes_may_reach_each_other_on_loopback() {
        let d = tempfile::tempdir().unwrap();
        write_keypair_file(
            &d.path().join("key.json"),
            &Keypair::from_seed([5; 32]),
            false,
        )
        .unwrap();
        let mut cfg = DevnetConfig::new(d.path().to_path_buf(), PathBuf::from("gradual"));
        cfg.task_env.push(("X".into(), "1".into()));
        let task = TaskId::from_base58("11111111111111111111111111111111").unwrap();
        let text = node_config_text(&cfg, "http://127.0.0.1:8899", 9000, &task, Some("garbage"));
        let c = crate::NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(c.outbound.check(ip("127.0.0.1")), Ok(()));
        assert_eq!(c.outbound.check(ip("::1")), Ok(()));
        // Only loopback: a devnet node still refuses private and metadata addresses.
        assert!(c.outbound.check(ip("10.0.0.1")).is_err());
        assert!(c.outbound.check(ip("169.254.169.254")).is_err());
        assert_eq!(c.tasks[0].env["X"], "1");
        assert_eq!(c.tasks[0].env["GRADUAL_ADVERSARY"], "garbage");
    }

    #[test]
    fn default_timing_fits_the_vote_window() {
        let mut c = DevnetConfig::new(PathBuf::from("x"), PathBuf::from("gradual"));
        assert_eq!(c.check(), Ok(()));
        assert_eq!(
            (c.round_time, c.submission_window, c.audit_window),
            (80, 10, 60)
        );
        assert_eq!(c.round_time * c.slot_ms, 8_000, "8 s rounds");
        // Faster slots need more of them: V = ⌈3000/slot_ms⌉, AW ≥ 2·V.
        for slot_ms in [10, 20, 40, 50, 100, 400, 1_000, 3_000] {
            let rt = min_round_time(slot_ms).expect("some round fits");
            c.set_timing(slot_ms, rt);
            assert_eq!(c.check(), Ok(()), "slot_ms {slot_ms}, round {rt}");
            assert!(c.audit_window >= min_audit_window(slot_ms));
            c.set_timing(slot_ms, rt - 1);
            let e = c.check().unwrap_err();
            assert!(e.contains(&format!("use --round-time {rt} or more")), "{e}");
        }
        c.set_timing(100, 30);
        let e = c.check().unwrap_err();
        assert!(
            e.contains("must not exceed round_time (30)") && e.contains("--round-time 68"),
            "{e}"
        );
    }
}
