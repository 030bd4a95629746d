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
pub struct NodeArgs {
    /// Node config file (TOML, or YAML with a .yaml/.yml extension); see docs/operator-guide.md.
    #[arg(long, short)]
    pub config: PathBuf,
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

pub async fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let config = NodeConfig::load(&args.config)?;
    init_logs(&config.log_level)?;
    let node = gradual_node::start(config).await?;
    println!(
        "node {} listening on http://{}",
        node.shared.me(),
        node.addr
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
    }
    node.shutdown().await;
    tracing::info!("node stopped");
    Ok(())
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
    /// Task to deploy: auto, chain-indexer, rest-monitor, builtin, or a path to an executable.
    #[arg(long, default_value = "auto")]
    pub task: TaskChoice,
    /// Working directory (default: a new directory under the system temp dir).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Give up when no round settles for this many seconds.
    #[arg(long, default_value_t = 120)]
    pub stall_secs: u64,
}

pub async fn run_devnet(args: DevnetArgs, json: bool) -> anyhow::Result<()> {
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
    gradual_devnet::run(cfg, args.rounds, args.stall_secs, json).await
}

#[cfg(test)]
mod tests {
    use crate::Cli;
    use clap::Parser;

    #[test]
    fn devnet_and_node_args_are_checked() {
        let e = Cli::try_parse_from(["gradual", "devnet", "--task", "nope"]).unwrap_err();
        assert!(e.to_string().contains("neither auto, chain-indexer"), "{e}");
        let ok = Cli::try_parse_from(["gradual", "devnet", "--rounds", "6", "--task", "builtin"])
            .unwrap();
        assert!(matches!(ok.command, crate::Command::Devnet(_)));
        let e = Cli::try_parse_from(["gradual", "node"]).unwrap_err();
        assert!(e.to_string().contains("--config"), "{e}");
    }
}
