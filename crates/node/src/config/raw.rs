//! The config file as written (TOML or YAML), before checking: every field optional where
//! the node has a default, unknown fields refused.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Amount {
    Text(String),
    Int(u64),
    Float(f64),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) call_timeout_ms: Option<u64>,
    pub(super) start_timeout_ms: Option<u64>,
    pub(super) health_interval_ms: Option<u64>,
    pub(super) memory_mb: Option<u64>,
    pub(super) max_processes: Option<u64>,
    pub(super) max_open_files: Option<u64>,
    pub(super) cpu_seconds: Option<u64>,
    pub(super) restart_backoff_ms: Option<u64>,
    pub(super) restart_backoff_max_ms: Option<u64>,
    pub(super) log_max_bytes: Option<u64>,
    pub(super) log_files: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutbound {
    #[serde(default)]
    pub(super) allow_private: bool,
    #[serde(default)]
    pub(super) allow: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTask {
    pub(super) id: String,
    pub(super) stake: Option<Amount>,
    #[serde(default)]
    pub(super) auto_stake: bool,
    pub(super) claim_at: Option<Amount>,
    pub(super) restake_rewards: Option<Amount>,
    #[serde(default)]
    pub(super) unstake_on_worse_terms: bool,
    #[serde(default)]
    pub(super) env: BTreeMap<String, String>,
    pub(super) adversary: Option<String>,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default)]
    pub(super) connect_ports: Vec<u16>,
    #[serde(default)]
    pub(super) connect_any_port: bool,
    pub(super) invalid_share_max_bps: Option<u64>,
    pub(super) on_suspect_audits: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSandbox {
    #[serde(default = "yes")]
    pub(super) enabled: bool,
    #[serde(default)]
    pub(super) require: bool,
    #[serde(default = "default_task_user")]
    pub(super) task_user: String,
    pub(super) uid_base: Option<u32>,
    #[serde(default)]
    pub(super) read_paths: Vec<PathBuf>,
}

impl Default for RawSandbox {
    fn default() -> Self {
        RawSandbox {
            enabled: true,
            require: false,
            task_user: default_task_user(),
            uid_base: None,
            read_paths: Vec::new(),
        }
    }
}

pub(super) fn yes() -> bool {
    true
}
pub(super) fn default_task_user() -> String {
    "auto".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) keypair: PathBuf,
    #[serde(default = "default_rpc")]
    pub(super) rpc_url: String,
    #[serde(default = "default_data_dir")]
    pub(super) data_dir: PathBuf,
    #[serde(default = "default_listen")]
    pub(super) listen: String,
    pub(super) public_url: Option<String>,
    pub(super) low_balance_warn: Option<Amount>,
    pub(super) unpaid_rounds_warn: Option<u64>,
    #[serde(default = "default_log_level")]
    pub(super) log_level: String,
    #[serde(default)]
    pub(super) limits: RawLimits,
    #[serde(default, rename = "task")]
    pub(super) tasks: Vec<RawTask>,
    pub(super) invalid_share_max_bps: Option<u64>,
    pub(super) on_suspect_audits: Option<String>,
    #[serde(default)]
    pub(super) outbound: RawOutbound,
    #[serde(default)]
    pub(super) sandbox: RawSandbox,
}

pub(super) fn default_rpc() -> String {
    "http://127.0.0.1:8899".into()
}
pub(super) fn default_data_dir() -> PathBuf {
    "node-data".into()
}
pub(super) fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
pub(super) fn default_log_level() -> String {
    "info".into()
}
