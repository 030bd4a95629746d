//! What a devnet is made of: the task it deploys, the node count and adversary, the slot
//! and round timing (checked against the ledger's own rules before anything starts), and
//! the `node.toml` each node is started with.

use gradual_task_sdk::protocol::ADVERSARY_NAMES as ADVERSARIES;
use gradual_types::constants::{ROE_PER_KOII, VOTE_WINDOW_MS_MIN};
use gradual_types::{TaskId, TaskParams};
use gradual_validator::config::{SLOT_MS_MAX, SLOT_MS_MIN};
use std::path::{Path, PathBuf};

/// Which task the devnet deploys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskChoice {
    /// `chain-indexer` if its binary sits next to `gradual`, else `builtin`.
    Auto,
    /// The `gradual-chain-indexer` example binary.
    ChainIndexer,
    /// The `gradual-rest-monitor` example binary.
    RestMonitor,
    /// The built-in Python task ([`crate::BUILTIN_TASK_PY`]).
    Builtin,
    /// Any executable, or a directory run from `entry`; the runtime comes from the (entry's)
    /// extension (.py, .js, .sh, else native).
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
    /// With a directory for `task`: the file inside it the nodes run (`task_entry`).
    pub entry: Option<String>,
    /// Working directory (validator, keys, node data, logs).
    pub dir: PathBuf,
    /// The `gradual` binary to run nodes with.
    pub gradual_bin: PathBuf,
    /// Extra environment for every node's task process.
    pub task_env: Vec<(String, String)>,
    /// Log filter of the nodes.
    pub node_log_level: String,
    /// Fixed ports: the validator listens on this one, node `i` (1-based) on `base_port + i`.
    /// `None`: any free ports.
    pub base_port: Option<u16>,
    /// [`crate::run`] removes `dir` at the end when the verdict passed (a failed run keeps
    /// it for its logs, and says where).
    pub cleanup: bool,
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
            entry: None,
            dir,
            gradual_bin,
            task_env: Vec::new(),
            node_log_level: "info".into(),
            base_port: None,
            cleanup: false,
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

    /// Where the validator listens: `base_port`, or any free port.
    pub fn validator_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.base_port.unwrap_or(0)))
    }

    /// The fixed port of node `index` (1-based): `base_port + index`; `None` without
    /// `base_port` (any free port) or past the last port.
    pub fn node_port(&self, index: usize) -> Option<u16> {
        let base = self.base_port?;
        u16::try_from(usize::from(base) + index).ok()
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
        if let Some(base) = self.base_port {
            if base == 0 || u32::from(base) + self.nodes as u32 > u32::from(u16::MAX) {
                p.push(format!(
                    "--base-port {base}: the validator takes that port and node i base+i; \
                     use a port from 1 to {}",
                    u32::from(u16::MAX).saturating_sub(self.nodes as u32)
                ));
            }
        }
        if !(SLOT_MS_MIN..=SLOT_MS_MAX).contains(&self.slot_ms) {
            p.push(format!(
                "--slot-ms {}: must be between {SLOT_MS_MIN} and {SLOT_MS_MAX}",
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

/// Each node's data directory, relative to its `node.toml` (the node keeps its artifact
/// cache in `<data>/artifacts`, where the devnet links the one shared copy).
pub(crate) const NODE_DATA_DIR: &str = "data";

/// Stake each node puts on the task, and its starting balance.
pub(crate) const NODE_STAKE_KOII: u64 = 2;
pub(crate) const NODE_AIRDROP_KOII: u64 = 10;

/// The `node.toml` of one devnet node.
pub(crate) fn node_config_text(
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
        "# written by gradual devnet\nkeypair = \"key.json\"\nrpc_url = \"{rpc_url}\"\ndata_dir = \"{NODE_DATA_DIR}\"\nlisten = \"127.0.0.1:{port}\"\nlow_balance_warn = \"1\"\nlog_level = \"{}\"\n\n[limits]\ncall_timeout_ms = 3000\nrestart_backoff_ms = 200\nrestart_backoff_max_ms = 5000\n\n# all nodes of this devnet are on loopback: let them reach each other\n[outbound]\nallow = [\"127.0.0.0/8\", \"::1\"]\n\n[[task]]\nid = \"{task}\"\nstake = \"{NODE_STAKE_KOII}\"\nauto_stake = true\nclaim_at = \"0.5\"\n{}[task.env]\n{env}",
        cfg.node_log_level,
        adversary
            .map(|a| format!("adversary = \"{a}\"\n"))
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_client::write_keypair_file;
    use gradual_types::Keypair;

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
        let c = gradual_node::NodeConfig::parse(&text, false, d.path(), "node.toml").unwrap();
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
    fn base_port_fixes_every_port() {
        let mut c = DevnetConfig::new(PathBuf::from("x"), PathBuf::from("gradual"));
        assert_eq!(c.validator_addr().port(), 0, "default: any free port");
        assert_eq!(c.node_port(1), None);
        c.base_port = Some(20_000);
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.validator_addr().to_string(), "127.0.0.1:20000");
        assert_eq!(c.node_port(1), Some(20_001));
        assert_eq!(c.node_port(5), Some(20_005));
        c.base_port = Some(65_533);
        let e = c.check().unwrap_err();
        assert!(
            e.contains("--base-port 65533") && e.contains("1 to 65530"),
            "{e}"
        );
        c.base_port = Some(0);
        assert!(c.check().unwrap_err().contains("--base-port 0"));
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
