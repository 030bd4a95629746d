//! `node.toml` (or `.yaml`): who the node is, where the validator is, and which tasks to run
//! with what stake and limits. Every problem in the file is reported at once, each saying
//! what was wrong and how to fix it.
//!
//! ```toml
//! keypair = "node.json"                 # the node's key (gradual keygen --outfile node.json)
//! rpc_url = "http://127.0.0.1:8899"
//! data_dir = "node-data"
//! listen = "127.0.0.1:8080"             # peers, tasks and /metrics
//! public_url = "http://my-host:8080"    # what peers use; registered when staking
//! low_balance_warn = "0.5"              # KOII
//! unpaid_rounds_warn = 5                # warn after 5 settled rounds in a row without pay
//! invalid_share_max_bps = 5000          # audit guard, every task (a task may override) ...
//! on_suspect_audits = "abstain"         # ... or "abstain-and-unstake"
//!
//! [limits]                              # defaults for every task
//! call_timeout_ms = 5000
//! memory_mb = 512
//!
//! [[task]]
//! id = "<task id>"
//! stake = "2"                           # KOII staked whenever below the task minimum ...
//! auto_stake = true                     # ... only with this consent
//! claim_at = "0.1"                      # claim pending rewards from this many KOII
//! restake_rewards = "10"                # stake what it claims, up to a stake of 10 KOII
//! unstake_on_worse_terms = true         # unstake when an update raises slashes/cooldown
//!
//! connect_ports = [443]                 # TCP ports the task may connect to besides the node
//!
//! [sandbox]                             # confinement of task processes (docs/security.md)
//! enabled = true
//! require = false                       # true: refuse to start tasks when a protection is missing
//! task_user = "auto"                    # "auto": own uid per task on a root node; "none"
//!
//! [outbound]                            # the node's calls to peers' and artifact URLs
//! allow_private = false                 # true: also RFC 1918, fc00::/7, 100.64.0.0/10
//! allow = ["10.0.0.0/8", "127.0.0.1"]   # addresses or CIDR networks allowed whatever they are
//! ```

mod raw;

use self::raw::{Amount, RawConfig, RawLimits};
use crate::outbound::{Net, OutboundPolicy};
use gradual_node_proto::{AuditGuard, SuspectPolicy};
use gradual_types::constants::BPS_DENOMINATOR;
use gradual_types::{parse_koii, Keypair, TaskId};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Supervision limits of a task process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Control calls (`/gradual/v1/*`) time out after this.
    pub call_timeout_ms: u64,
    /// How long a starting task may take to answer its health check.
    pub start_timeout_ms: u64,
    /// Health checks run this often; three failures in a row restart the task.
    pub health_interval_ms: u64,
    /// Resident memory the task's whole process tree may use; above it the node kills the
    /// tree. (No address-space cap: it breaks runtimes that reserve large virtual ranges.)
    pub memory_mb: u64,
    /// Processes (threads count) the task's user may have (RLIMIT_NPROC; enforced when the
    /// task runs as its own user).
    pub max_processes: u64,
    /// Open files per task process (RLIMIT_NOFILE).
    pub max_open_files: u64,
    /// CPU seconds a task process may use over its life (RLIMIT_CPU); then it is restarted.
    pub cpu_seconds: u64,
    /// First restart delay; doubles after each failure up to `restart_backoff_max_ms`.
    pub restart_backoff_ms: u64,
    pub restart_backoff_max_ms: u64,
    /// Task log file size before it is rotated, and rotated files kept.
    pub log_max_bytes: u64,
    pub log_files: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout_ms: 5_000,
            start_timeout_ms: 15_000,
            health_interval_ms: 1_000,
            memory_mb: 512,
            max_processes: 256,
            max_open_files: 1024,
            cpu_seconds: 24 * 3600,
            restart_backoff_ms: 1_000,
            restart_backoff_max_ms: 60_000,
            log_max_bytes: 10 * 1024 * 1024,
            log_files: 3,
        }
    }
}

/// One task the node runs.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    pub id: TaskId,
    /// ROE to keep at stake: topped up to this when below the task minimum (never past it);
    /// `None` never stakes.
    pub stake_roe: Option<u64>,
    /// Claim pending rewards once they reach this many ROE.
    pub claim_at_roe: Option<u64>,
    /// Compound (KIP #25): stake what the node claims, until its stake reaches this (ROE).
    pub restake_up_to_roe: Option<u64>,
    /// Unstake when the manager's pending update makes the terms worse for stakers.
    pub unstake_on_worse_terms: bool,
    /// Extra environment for the task process.
    pub env: BTreeMap<String, String>,
    pub limits: Limits,
    /// TCP ports the task may connect to besides its node's (`None`: any port, the operator's
    /// choice with `connect_any_port = true`).
    pub connect_ports: Option<Vec<u16>>,
    /// When the node distrusts the task's own audit verdicts, and what it does then.
    pub audit_guard: AuditGuard,
}

/// How task processes are confined (`[sandbox]`, docs/security.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    pub enabled: bool,
    /// Refuse to start tasks when the kernel cannot enforce a protection.
    pub require: bool,
    /// Run each task as its own unprivileged user when the node runs as root.
    pub separate_users: bool,
    /// First uid (and gid) of the task users.
    pub uid_base: u32,
    /// More paths every task may read (a runtime installed elsewhere).
    pub read_paths: Vec<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            enabled: true,
            require: false,
            separate_users: true,
            uid_base: 2_000_000_000,
            read_paths: Vec::new(),
        }
    }
}

/// A checked node configuration.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub keypair: Keypair,
    pub keypair_path: PathBuf,
    pub rpc_url: String,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub low_balance_warn_roe: u64,
    /// Warn after this many settled rounds in a row in which the node's proof earned
    /// nothing, and at every multiple (0: never). The node never leaves a task for it: an
    /// adversary must not be able to make honest nodes go.
    pub unpaid_rounds_warn: u64,
    pub log_level: String,
    pub tasks: Vec<TaskEntry>,
    /// Which addresses the node may call at URLs others chose (peers, artifact URLs).
    pub outbound: OutboundPolicy,
    pub sandbox: SandboxConfig,
}

/// The file's problems, all of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config file '{path}' has {} problem(s):\n  - {}", problems.len(), problems.join("\n  - "))]
pub struct ConfigError {
    pub path: String,
    pub problems: Vec<String>,
}

/// `unpaid_rounds_warn` when the file does not say.
pub const DEFAULT_UNPAID_ROUNDS_WARN: u64 = 5;

/// Adversary modes the example tasks understand (`GRADUAL_ADVERSARY`).
pub const ADVERSARIES: &[&str] = gradual_task_sdk::protocol::ADVERSARY_NAMES;

fn amount(field: &str, a: &Amount, problems: &mut Vec<String>) -> Option<u64> {
    let text = match a {
        Amount::Text(s) => s.clone(),
        Amount::Int(n) => n.to_string(),
        Amount::Float(f) => format!("{f}"),
    };
    match parse_koii(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!(
                "{field} = '{text}': {e}; write KOII with up to 9 decimals, e.g. \"2.5\""
            ));
            None
        }
    }
}

fn limits(base: &Limits, raw: &RawLimits, at: &str, problems: &mut Vec<String>) -> Limits {
    let mut l = base.clone();
    let mut set = |name: &str, v: Option<u64>, min: u64, max: u64, slot: &mut u64| {
        if let Some(v) = v {
            if v < min || v > max {
                problems.push(format!("{at}{name} = {v}: must be between {min} and {max}"));
            } else {
                *slot = v;
            }
        }
    };
    set(
        "call_timeout_ms",
        raw.call_timeout_ms,
        50,
        600_000,
        &mut l.call_timeout_ms,
    );
    set(
        "start_timeout_ms",
        raw.start_timeout_ms,
        100,
        600_000,
        &mut l.start_timeout_ms,
    );
    set(
        "health_interval_ms",
        raw.health_interval_ms,
        50,
        600_000,
        &mut l.health_interval_ms,
    );
    set("memory_mb", raw.memory_mb, 16, 1 << 20, &mut l.memory_mb);
    set(
        "max_processes",
        raw.max_processes,
        8,
        1 << 20,
        &mut l.max_processes,
    );
    set(
        "max_open_files",
        raw.max_open_files,
        32,
        1 << 20,
        &mut l.max_open_files,
    );
    set(
        "cpu_seconds",
        raw.cpu_seconds,
        1,
        1 << 32,
        &mut l.cpu_seconds,
    );
    set(
        "restart_backoff_ms",
        raw.restart_backoff_ms,
        10,
        3_600_000,
        &mut l.restart_backoff_ms,
    );
    set(
        "restart_backoff_max_ms",
        raw.restart_backoff_max_ms,
        10,
        3_600_000,
        &mut l.restart_backoff_max_ms,
    );
    set(
        "log_max_bytes",
        raw.log_max_bytes,
        4096,
        1 << 40,
        &mut l.log_max_bytes,
    );
    if let Some(n) = raw.log_files {
        if !(1..=100).contains(&n) {
            problems.push(format!("{at}log_files = {n}: must be between 1 and 100"));
        } else {
            l.log_files = n;
        }
    }
    if l.restart_backoff_max_ms < l.restart_backoff_ms {
        problems.push(format!(
            "{at}restart_backoff_max_ms ({}) is below restart_backoff_ms ({}); raise it",
            l.restart_backoff_max_ms, l.restart_backoff_ms
        ));
    }
    l
}

/// `base` with the audit guard keys given at `at` (the top level or one task) applied.
fn audit_guard(
    base: AuditGuard,
    share: Option<u64>,
    policy: Option<&str>,
    at: &str,
    problems: &mut Vec<String>,
) -> AuditGuard {
    let mut g = base;
    if let Some(bps) = share {
        match u16::try_from(bps) {
            Ok(v) if (1..=BPS_DENOMINATOR).contains(&u64::from(v)) => g.invalid_share_max_bps = v,
            _ => problems.push(format!(
                "{at}invalid_share_max_bps = {bps}: must be between 1 and 10000 (basis points \
                 of a round's sampled checks; 5000 = more than half; 10000 turns the guard off)"
            )),
        }
    }
    if let Some(p) = policy {
        match p.parse::<SuspectPolicy>() {
            Ok(p) => g.on_suspect = p,
            Err(e) => problems.push(format!("{at}on_suspect_audits = {e}")),
        }
    }
    g
}

/// `dir` as an absolute path (the working directory for an empty one); as given when the
/// working directory cannot be read.
pub fn absolute_dir(dir: &Path) -> PathBuf {
    if dir.as_os_str().is_empty() {
        return std::env::current_dir().unwrap_or_default();
    }
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

impl NodeConfig {
    /// Read and check a config file; relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: display.clone(),
            problems: vec![format!(
                "cannot read it: {e}; pass an existing file with --config"
            )],
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml") | Some("yml")
        );
        NodeConfig::parse(&text, yaml, &base, &display)
    }

    /// Parse config text (TOML, or YAML when `yaml`).
    pub fn parse(
        text: &str,
        yaml: bool,
        base: &Path,
        display: &str,
    ) -> Result<NodeConfig, ConfigError> {
        let fail = |problems: Vec<String>| ConfigError {
            path: display.to_string(),
            problems,
        };
        let raw: RawConfig = if yaml {
            serde_yaml::from_str(text)
                .map_err(|e| fail(vec![format!("not a valid node config: {e}")]))?
        } else {
            toml::from_str(text).map_err(|e| {
                fail(vec![format!(
                    "not a valid node config: {}",
                    e.to_string().trim()
                )])
            })?
        };
        let mut problems = Vec::new();
        // Relative paths in the file are relative to the file's directory, made absolute
        // now: the node and its task processes run in other working directories.
        let base = absolute_dir(base);
        let base = base.as_path();
        let keypair_path = if raw.keypair.is_absolute() {
            raw.keypair.clone()
        } else {
            base.join(&raw.keypair)
        };
        let keypair = match gradual_client::read_keypair_file(&keypair_path) {
            Ok(k) => Some(k),
            Err(e) => {
                problems.push(format!(
                    "keypair = '{}': {e}; create one with `gradual keygen --outfile {}`",
                    raw.keypair.display(),
                    raw.keypair.display()
                ));
                None
            }
        };
        if !(raw.rpc_url.starts_with("http://") || raw.rpc_url.starts_with("https://")) {
            problems.push(format!(
                "rpc_url = '{}': must start with http:// or https://",
                raw.rpc_url
            ));
        }
        let listen = match raw.listen.parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(e) => {
                problems.push(format!(
                    "listen = '{}': {e}; write an address like \"127.0.0.1:8080\"",
                    raw.listen
                ));
                None
            }
        };
        if let Some(u) = &raw.public_url {
            // The ledger's own URL rule (SPEC §7 [v2]): a URL it refuses would never stake.
            if let Err(e) = gradual_types::validate_node_url(u) {
                problems.push(format!(
                    "public_url = '{u}': {e}; write e.g. \"http://203.0.113.7:8080\""
                ));
            }
        }
        if raw
            .log_level
            .parse::<tracing::level_filters::LevelFilter>()
            .is_err()
            && !raw.log_level.contains('=')
        {
            problems.push(format!(
                "log_level = '{}': use error, warn, info, debug or trace",
                raw.log_level
            ));
        }
        let low = raw
            .low_balance_warn
            .as_ref()
            .and_then(|a| amount("low_balance_warn", a, &mut problems))
            .unwrap_or(0);
        let base_limits = limits(&Limits::default(), &raw.limits, "limits.", &mut problems);
        let base_guard = audit_guard(
            AuditGuard::default(),
            raw.invalid_share_max_bps,
            raw.on_suspect_audits.as_deref(),
            "",
            &mut problems,
        );
        let mut allow = Vec::new();
        for (i, entry) in raw.outbound.allow.iter().enumerate() {
            match entry.parse::<Net>() {
                Ok(n) => allow.push(n),
                Err(e) => problems.push(format!(
                    "outbound.allow[{i}] = '{entry}': {e}; write an address like \"10.0.0.5\" or a network like \"10.0.0.0/8\""
                )),
            }
        }
        let outbound = OutboundPolicy {
            allow_private: raw.outbound.allow_private,
            allow,
        };
        if raw.tasks.is_empty() {
            problems.push("no [[task]] entries: add one per task to run, with its id from `gradual task list`".into());
        }
        let mut tasks = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in raw.tasks.iter().enumerate() {
            let at = format!("task[{i}].");
            let id = match TaskId::from_base58(&t.id) {
                Ok(id) => Some(id),
                Err(e) => {
                    problems.push(format!(
                        "{at}id = '{}': {e}; copy the id from `gradual task list`",
                        t.id
                    ));
                    None
                }
            };
            if let Some(id) = id {
                if !seen.insert(id) {
                    problems.push(format!(
                        "{at}id = '{}' is listed twice; keep one entry per task",
                        t.id
                    ));
                }
            }
            let stake = t
                .stake
                .as_ref()
                .and_then(|a| amount(&format!("{at}stake"), a, &mut problems));
            if stake == Some(0) {
                problems.push(format!(
                    "{at}stake is 0; give the KOII to stake, or leave it out"
                ));
            }
            if t.auto_stake && t.stake.is_none() {
                problems.push(format!(
                    "{at}auto_stake = true needs stake = \"<KOII>\" (how much to stake)"
                ));
            }
            let claim = t
                .claim_at
                .as_ref()
                .and_then(|a| amount(&format!("{at}claim_at"), a, &mut problems));
            let restake = t
                .restake_rewards
                .as_ref()
                .and_then(|a| amount(&format!("{at}restake_rewards"), a, &mut problems));
            if restake.is_some() && t.claim_at.is_none() {
                problems.push(format!(
                    "{at}restake_rewards needs claim_at = \"<KOII>\" (the node stakes what it \
                     claims)"
                ));
            }
            let mut env = t.env.clone();
            for k in env.keys() {
                if k.starts_with("GRADUAL_") {
                    problems.push(format!(
                        "{at}env.{k}: GRADUAL_* variables are set by the node; pick another name"
                    ));
                }
            }
            if let Some(a) = &t.adversary {
                if !ADVERSARIES.contains(&a.as_str()) {
                    problems.push(format!(
                        "{at}adversary = '{a}': expected one of {}",
                        ADVERSARIES.join(", ")
                    ));
                }
                env.insert(gradual_task_sdk::protocol::env::ADVERSARY.into(), a.clone());
            }
            let limits = limits(
                &base_limits,
                &t.limits,
                &format!("{at}limits."),
                &mut problems,
            );
            if t.connect_any_port && !t.connect_ports.is_empty() {
                problems.push(format!(
                    "{at}connect_any_port = true with connect_ports: keep one (any port, or \
                     the listed ones)"
                ));
            }
            if t.connect_ports.contains(&0) {
                problems.push(format!("{at}connect_ports: 0 is not a port"));
            }
            let guard = audit_guard(
                base_guard,
                t.invalid_share_max_bps,
                t.on_suspect_audits.as_deref(),
                &at,
                &mut problems,
            );
            if let Some(id) = id {
                tasks.push(TaskEntry {
                    id,
                    stake_roe: if t.auto_stake { stake } else { None },
                    claim_at_roe: claim,
                    restake_up_to_roe: restake,
                    unstake_on_worse_terms: t.unstake_on_worse_terms,
                    env,
                    limits,
                    connect_ports: (!t.connect_any_port).then(|| t.connect_ports.clone()),
                    audit_guard: guard,
                });
            }
        }
        let separate_users = match raw.sandbox.task_user.as_str() {
            "auto" => true,
            "none" => false,
            other => {
                problems.push(format!(
                    "sandbox.task_user = '{other}': write \"auto\" (each task its own user \
                     when the node runs as root) or \"none\""
                ));
                true
            }
        };
        let sandbox = SandboxConfig {
            enabled: raw.sandbox.enabled,
            require: raw.sandbox.require,
            separate_users,
            uid_base: raw
                .sandbox
                .uid_base
                .unwrap_or(SandboxConfig::default().uid_base),
            read_paths: raw
                .sandbox
                .read_paths
                .iter()
                .map(|p| {
                    if p.is_absolute() {
                        p.clone()
                    } else {
                        base.join(p)
                    }
                })
                .collect(),
        };
        if sandbox.uid_base < 100_000 || sandbox.uid_base > u32::MAX - 1_000_001 {
            problems.push(format!(
                "sandbox.uid_base = {}: must be between 100000 and {} (a million task users \
                 follow it, above the range of people and services)",
                sandbox.uid_base,
                u32::MAX - 1_000_001
            ));
        }
        match (problems.is_empty(), keypair, listen) {
            (true, Some(keypair), Some(listen)) => {
                let data_dir = if raw.data_dir.is_absolute() {
                    raw.data_dir
                } else {
                    base.join(raw.data_dir)
                };
                Ok(NodeConfig {
                    keypair,
                    keypair_path,
                    rpc_url: raw.rpc_url.trim_end_matches('/').to_string(),
                    data_dir,
                    listen,
                    public_url: raw.public_url.map(|u| u.trim_end_matches('/').to_string()),
                    low_balance_warn_roe: low,
                    unpaid_rounds_warn: raw
                        .unpaid_rounds_warn
                        .unwrap_or(DEFAULT_UNPAID_ROUNDS_WARN),
                    log_level: raw.log_level,
                    tasks,
                    outbound,
                    sandbox,
                })
            }
            _ => Err(fail(problems)),
        }
    }
}

#[cfg(test)]
mod tests;
