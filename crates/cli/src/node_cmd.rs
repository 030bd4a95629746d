//! `gradual node` (run a task node from a config file) and `gradual devnet` (a local network
//! with a validator, a task and N nodes, with live progress and a verdict): their flags; the
//! work is in `gradual-node` and `gradual-devnet`.

use anyhow::{bail, Context};
use clap::Args;
use gradual_devnet::{DevnetConfig, TaskChoice};
use gradual_node::NodeConfig;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true, args_conflicts_with_subcommands = true)]
pub struct NodeArgs {
    /// Node config file (TOML, or YAML with a .yaml/.yml extension); see docs/operator-guide.md.
    /// Relative paths in it are relative to its directory.
    #[arg(long, short, required = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub action: Option<NodeAction>,
}

/// What to do with a node that runs (without one: run the node).
#[derive(Debug, clap::Subcommand)]
pub enum NodeAction {
    /// Show the running node's tasks: status and why, last proof, last pay, slashes.
    Status {
        /// The running node's config file (its `listen` address is asked).
        #[arg(long, short)]
        config: PathBuf,
        /// Print the node's `/info` as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Make the running node re-read its config file (as SIGHUP does): tasks added to it
    /// start, removed ones stop, without a restart.
    Reload {
        /// The running node's config file (checked first; the node's pid is in its data_dir).
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn init_logs(level: &str) -> anyhow::Result<()> {
    use tracing_subscriber::prelude::*;
    let filter: tracing_subscriber::filter::Targets = level.parse().with_context(|| {
        format!("log_level '{level}' is not a filter like 'info' or 'gradual_node=debug,info'")
    })?;
    tracing_subscriber::registry()
        .with(filter)
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr),
        )
        .try_init()
        .context("cannot install the logger")
}

/// `json`: `gradual --json node status` (the flag before the command).
pub async fn run_node(args: NodeArgs, json: bool) -> anyhow::Result<()> {
    let path = match (args.action, args.config) {
        (Some(NodeAction::Status { config, json: j }), _) => {
            return node_status(&config, json || j).await
        }
        (Some(NodeAction::Reload { config }), _) => return node_reload(&config),
        (None, Some(path)) => path,
        (None, None) => bail!("--config is required: gradual node --config node.toml"),
    };
    let config = NodeConfig::load(&path)?;
    init_logs(&config.log_level)?;
    let node = gradual_node::start(config).await?;
    println!(
        "node {} listening on http://{}",
        node.shared.me(),
        node.addr
    );
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT received"); break; }
            _ = term.recv() => { tracing::info!("SIGTERM received"); break; }
            _ = hup.recv() => {
                tracing::info!(config = %path.display(), "SIGHUP received: reloading the config");
                match NodeConfig::load(&path) {
                    Ok(c) => node.reload(c),
                    Err(e) => tracing::error!("config not reloaded, the node keeps the one it runs: {e}"),
                }
            }
        }
    }
    node.shutdown().await;
    tracing::info!("node stopped");
    Ok(())
}

/// The address to ask a node at that listens on `listen` (a wildcard means this machine).
fn local_url(listen: std::net::SocketAddr) -> String {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{ip}:{}", listen.port())
}

/// `GET url` (plain http, `http://host:port/path`) and its JSON body. HTTP/1.0 with the
/// connection closed at the end: the node's server answers it with a plain body.
async fn get_json(url: &str) -> anyhow::Result<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").context("not an http:// URL")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let io = async {
        let mut conn = tokio::net::TcpStream::connect(host).await?;
        conn.write_all(format!("GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await?;
        let mut raw = Vec::new();
        conn.take(64 * 1024 * 1024).read_to_end(&mut raw).await?;
        Ok::<_, std::io::Error>(raw)
    };
    let raw = tokio::time::timeout(std::time::Duration::from_secs(10), io)
        .await
        .context("no answer within 10 s")??;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").context("not an HTTP answer")?;
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        bail!(
            "answered HTTP {status}: {}",
            body.chars().take(200).collect::<String>()
        );
    }
    serde_json::from_str(body).context("the answer is not JSON")
}

/// `gradual node status`: the running node's `/info`, one block per task.
async fn node_status(path: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let config = NodeConfig::load(path)?;
    let url = format!("{}/info", local_url(config.listen));
    let info = get_json(&url).await.with_context(|| {
        format!(
            "no node answers at {url}; is `gradual node --config {}` running?",
            path.display()
        )
    })?;
    if json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print!("{}", format_status(&info));
    }
    Ok(())
}

/// The text `gradual node status` prints for a node's `/info`.
pub fn format_status(info: &serde_json::Value) -> String {
    use gradual_types::format_koii;
    use std::fmt::Write;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or("").to_string();
    let koii = |v: &serde_json::Value| format_koii(v.as_u64().unwrap_or(0));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "node {}  slot {}  balance {} KOII{}",
        s(&info["node"]),
        info["slot"],
        s(&info["balance"]),
        if info["low_balance"] == true {
            " (low)"
        } else {
            ""
        }
    );
    let tasks = info["tasks"].as_array().cloned().unwrap_or_default();
    if tasks.is_empty() {
        let _ = writeln!(out, "no tasks");
    }
    for t in &tasks {
        let name = s(&t["name"]);
        let _ = writeln!(
            out,
            "\ntask {}{}",
            s(&t["task"]),
            if name.is_empty() {
                String::new()
            } else {
                format!(" ({name})")
            }
        );
        let _ = writeln!(
            out,
            "  status      {}: {}",
            s(&t["status"]),
            s(&t["detail"])
        );
        let _ = writeln!(
            out,
            "  round       {}   stake {} KOII   pending rewards {} KOII",
            t["round"],
            koii(&t["stake_roe"]),
            koii(&t["pending_rewards_roe"])
        );
        let last_proof = t["last_proof_round"]
            .as_u64()
            .map_or("none seen yet".to_string(), |r| format!("round {r}"));
        let _ = writeln!(out, "  last proof  {last_proof}");
        let last_paid = match (t["last_paid_roe"].as_u64(), t["last_paid_round"].as_u64()) {
            (Some(a), Some(r)) => format!("{} KOII for round {r}", format_koii(a)),
            _ => "none seen yet".to_string(),
        };
        let unpaid = t["unpaid_rounds"].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "  last paid   {last_paid}{}",
            if unpaid > 0 {
                format!(" ({unpaid} settled round(s) unpaid since)")
            } else {
                String::new()
            }
        );
        let slashes = t["slashes"].as_u64().unwrap_or(0);
        let _ = writeln!(
            out,
            "  slashes     {slashes}{}",
            if slashes > 0 {
                format!(
                    ", {} KOII in all; last: {}",
                    koii(&t["slashed_roe"]),
                    s(&t["last_slash"])
                )
            } else {
                String::new()
            }
        );
        let restarts = t["restarts"].as_u64().unwrap_or(0);
        if restarts > 0 {
            let _ = writeln!(
                out,
                "  restarts    {restarts}; last error: {}",
                s(&t["last_error"])
            );
        }
        let _ = writeln!(out, "  log         {}", s(&t["log_file"]));
    }
    out
}

/// `gradual node reload`: check the config, then SIGHUP the node whose pid is in its data
/// directory.
fn node_reload(path: &std::path::Path) -> anyhow::Result<()> {
    let config = NodeConfig::load(path)?;
    let pid_file = config.data_dir.join(gradual_node::node::PID_FILE);
    let pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .with_context(|| {
            format!(
                "no node runs with data_dir '{}' ({} missing); start it with `gradual node --config {}`",
                config.data_dir.display(),
                pid_file.display(),
                path.display()
            )
        })?;
    // A pid file outlives a node killed with -9, and its pid may since belong to another
    // process (for which SIGHUP means "exit"): signal it only if it runs this very config.
    match running_config(pid) {
        Some(running) if same_file(&running, path) => {}
        Some(running) => bail!(
            "pid {pid} (from {}) runs `gradual node` with another config, '{}'; not signalling it",
            pid_file.display(),
            running.display()
        ),
        None => bail!(
            "the node that wrote {} (pid {pid}) is not running; start it with `gradual node --config {}`",
            pid_file.display(),
            path.display()
        ),
    }
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .context("cannot run kill")?;
    if !status.success() {
        bail!("cannot signal the node (pid {pid}): kill -HUP failed");
    }
    println!(
        "node (pid {pid}) reloads {}: see its log for the tasks started and stopped",
        path.display()
    );
    Ok(())
}

/// The config file process `pid` runs `gradual node` with (resolved against its working
/// directory), or `None` when `pid` is not a running node.
fn running_config(pid: u32) -> Option<PathBuf> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let node = args.iter().position(|a| a == "node")?;
    let rest = &args[node + 1..];
    let config = rest.iter().enumerate().find_map(|(i, a)| {
        if a == "--config" || a == "-c" {
            rest.get(i + 1).cloned()
        } else {
            a.strip_prefix("--config=").map(str::to_string)
        }
    })?;
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
    Some(cwd.join(config))
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    matches!(
        (std::fs::canonicalize(a), std::fs::canonicalize(b)),
        (Ok(x), Ok(y)) if x == y
    )
}

#[derive(Debug, Args)]
pub struct DevnetArgs {
    /// Number of node processes (the last one is the adversary unless --adversary none).
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Misbehaviour of the last node: garbage, false-accuser, bad-distribution, offline, none.
    #[arg(long, default_value = "garbage")]
    pub adversary: String,
    /// Stop after this many rounds have settled (default: run until Ctrl-C).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Slot duration in milliseconds (10 to 60000).
    #[arg(long, default_value_t = 100)]
    pub slot_ms: u64,
    /// Slots per round. An eighth of it takes proofs; the audit window is at least 6 s of
    /// slots (the vote window: committees get at least 3 s to vote).
    #[arg(long, default_value_t = 80)]
    pub round_time: u64,
    /// Task to deploy: auto, chain-indexer, rest-monitor, builtin, or a path to an executable
    /// or to a task directory (with --entry).
    #[arg(long, default_value = "auto")]
    pub task: TaskChoice,
    /// With --task <directory>: the file inside it the nodes run, e.g. main.py.
    #[arg(long, value_name = "PATH")]
    pub entry: Option<String>,
    /// Working directory, kept after the run (default: a new directory under the system temp
    /// dir, removed after a passing run unless --keep).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the working directory after a passing run (its path is printed); a failed run
    /// always keeps it for its logs.
    #[arg(long)]
    pub keep: bool,
    /// Fixed ports: the validator listens on PORT, node i on PORT+i (default: any free ports).
    #[arg(long, value_name = "PORT")]
    pub base_port: Option<u16>,
    /// Give up when no round settles for this many seconds.
    #[arg(long, default_value_t = 120)]
    pub stall_secs: u64,
}

pub async fn run_devnet(args: DevnetArgs, json: bool) -> anyhow::Result<()> {
    let cleanup = args.dir.is_none() && !args.keep;
    let dir = match args.dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(&d)
                    .map(|mut r| r.next().is_some())
                    .unwrap_or(false)
            {
                bail!(
                    "--dir '{}' is not empty; give a new or empty directory",
                    d.display()
                );
            }
            d
        }
        None => std::env::temp_dir().join(format!("gradual-devnet-{}", std::process::id())),
    };
    let bin =
        std::env::current_exe().context("cannot find the gradual binary to run nodes with")?;
    let mut cfg = DevnetConfig::new(dir, bin);
    cfg.nodes = args.nodes;
    cfg.adversary = (args.adversary != "none").then(|| args.adversary.clone());
    cfg.set_timing(args.slot_ms, args.round_time);
    cfg.task = args.task;
    cfg.entry = args.entry;
    cfg.base_port = args.base_port;
    cfg.cleanup = cleanup;
    gradual_devnet::run(cfg, args.rounds, args.stall_secs, json).await
}

#[cfg(test)]
mod tests {
    use crate::Cli;
    use clap::Parser;

    /// `gradual node reload` signals only a process that runs `gradual node` with this very
    /// config: a stale pid file's pid, reused by another process, is left alone.
    #[test]
    fn reload_signals_only_the_node_running_this_config() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert_eq!(super::running_config(other.id()), None);
        // A stand-in whose command line reads like a node's (`; :` keeps sh from exec'ing sleep).
        std::fs::write(dir.path().join("node.toml"), "").unwrap();
        let mut node = std::process::Command::new("sh")
            .args(["-c", "sleep 30; :", "node", "--config", "node.toml"])
            .current_dir(dir.path())
            .spawn()
            .unwrap();
        // Right after spawn the child may not have exec'd yet (empty command line).
        let mut running = None;
        for _ in 0..100 {
            running = super::running_config(node.id());
            if running.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let running = running.expect("reads like a node");
        assert!(super::same_file(&running, &dir.path().join("node.toml")));
        assert!(!super::same_file(&running, &dir.path().join("other.toml")));
        for c in [&mut other, &mut node] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    #[test]
    fn devnet_and_node_args_are_checked() {
        let e = Cli::try_parse_from(["gradual", "devnet", "--task", "nope"]).unwrap_err();
        assert!(e.to_string().contains("neither auto, chain-indexer"), "{e}");
        let ok = Cli::try_parse_from(["gradual", "devnet", "--rounds", "6", "--task", "builtin"])
            .unwrap();
        assert!(matches!(ok.command, crate::Command::Devnet(_)));
        let ok =
            Cli::try_parse_from(["gradual", "devnet", "--base-port", "20000", "--keep"]).unwrap();
        let crate::Command::Devnet(d) = ok.command else {
            panic!("not devnet");
        };
        assert_eq!((d.base_port, d.keep), (Some(20_000), true));
        let e = Cli::try_parse_from(["gradual", "devnet", "--base-port", "70000"]).unwrap_err();
        assert!(e.to_string().contains("70000"), "{e}");
        let e = Cli::try_parse_from(["gradual", "node"]).unwrap_err();
        assert!(e.to_string().contains("--config"), "{e}");
        for sub in ["status", "reload"] {
            let ok = Cli::try_parse_from(["gradual", "node", sub, "--config", "n.toml"]).unwrap();
            let crate::Command::Node(n) = ok.command else {
                panic!("not node")
            };
            assert!(n.action.is_some() && n.config.is_none());
            let e = Cli::try_parse_from(["gradual", "node", sub]).unwrap_err();
            assert!(e.to_string().contains("--config"), "{e}");
        }
        let ok = Cli::try_parse_from(["gradual", "node", "--config", "n.toml"]).unwrap();
        let crate::Command::Node(n) = ok.command else {
            panic!("not node")
        };
        assert!(n.action.is_none() && n.config.is_some());
    }
}
