//! `gradual validator`: start a validator, log, and stop cleanly on SIGINT/SIGTERM.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use gradual_client::read_keypair_file;
use gradual_types::{parse_koii, Faucet, Genesis};
use gradual_validator::{parse_genesis_json, ValidatorConfig};
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidatorArgs {
    /// Directory for the ledger store, slot clock and artifacts.
    #[arg(long, default_value = "gradual-data")]
    pub data_dir: PathBuf,
    /// Address to serve JSON-RPC, artifacts and metrics on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8899")]
    pub rpc_bind: SocketAddr,
    /// Genesis file (JSON) for a new chain; overrides the chain flags below.
    #[arg(long)]
    pub genesis: Option<PathBuf>,
    /// Chain id of a new chain.
    #[arg(long, default_value = "gradual-devnet")]
    pub chain_id: String,
    /// Slot duration of a new chain, in milliseconds (10 to 60000).
    #[arg(long, default_value_t = 400)]
    pub slot_ms: u64,
    /// Flat fee per transaction of a new chain, in KOII (burned).
    #[arg(long, default_value = "0", value_parser = parse_koii)]
    pub fee: u64,
    /// Slots a transaction stays valid after its recent slot (new chain).
    #[arg(long, default_value_t = 600)]
    pub tx_max_age_slots: u64,
    /// Validator identity key file (the key that seals blocks; its VRF key is derived from
    /// it). Default: <data-dir>/validator-identity.json, generated when a new chain is
    /// created without a genesis file naming validators.
    #[arg(long)]
    pub identity: Option<PathBuf>,
    /// Devnet faucet key: makes it the genesis faucet authority of a new chain and enables
    /// requestAirdrop.
    #[arg(long)]
    pub faucet_keypair: Option<PathBuf>,
    /// Most one airdrop may mint, in KOII (new chain).
    #[arg(long, default_value = "10000", value_parser = parse_koii)]
    pub faucet_mint_max: u64,
    /// Most one recipient may receive per faucet window, in KOII (new chain; default: the
    /// --faucet-mint-max).
    #[arg(long, value_parser = parse_koii)]
    pub faucet_recipient_max: Option<u64>,
    /// Length of a recipient's faucet window, in slots (new chain).
    #[arg(long, default_value_t = Faucet::RECIPIENT_WINDOW_SLOTS_DEFAULT)]
    pub faucet_window_slots: u64,
    /// Most the faucet may ever create, in KOII (new chain).
    #[arg(long, default_value = "1000000000", value_parser = parse_koii)]
    pub faucet_cap: u64,
    /// Transactions waiting for a block, at most.
    #[arg(long, default_value_t = 20_000)]
    pub mempool_max: usize,
    /// Transactions per block, at most.
    #[arg(long, default_value_t = 5_000)]
    pub block_max_txs: usize,
    /// Largest artifact upload, in bytes.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub artifact_max_bytes: usize,
    /// Bytes of artifacts one uploader may keep on this validator.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub artifact_quota_bytes: u64,
    /// Bytes of artifacts this validator keeps, in all.
    #[arg(long, default_value_t = 4 * 1024 * 1024 * 1024)]
    pub artifact_total_bytes: u64,
    /// Least balance an artifact uploader must hold, in KOII (the chain fee if higher).
    #[arg(long, default_value = "0.001", value_parser = parse_koii)]
    pub artifact_min_balance: u64,
    /// Seconds an artifact no task names is kept before it is collected.
    #[arg(long, default_value_t = 3600)]
    pub artifact_gc_grace_secs: u64,
    /// Base URL peers use to reach this validator (for artifact links).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `gradual_validator=debug,info`.
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

fn init_logs(args: &ValidatorArgs) -> anyhow::Result<()> {
    use tracing_subscriber::prelude::*;
    let filter: tracing_subscriber::filter::Targets =
        args.log_level.parse().with_context(|| {
            format!(
                "--log-level '{}' is not a filter like 'info' or 'gradual_validator=debug,info'",
                args.log_level
            )
        })?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match args.log_format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    result.context("cannot install the logger")
}

pub async fn run(args: ValidatorArgs) -> anyhow::Result<()> {
    init_logs(&args)?;
    let faucet_keypair = match &args.faucet_keypair {
        Some(p) => Some(read_keypair_file(p)?),
        None => None,
    };
    let genesis = match &args.genesis {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read genesis file '{}'", p.display()))?;
            parse_genesis_json(&text).with_context(|| format!("genesis file '{}'", p.display()))?
        }
        None => Genesis {
            chain_id: args.chain_id.clone(),
            slot_ms: args.slot_ms,
            fee_roe: args.fee,
            tx_max_age_slots: args.tx_max_age_slots,
            faucet: faucet_keypair.as_ref().map(|k| Faucet {
                recipient_max_roe: args.faucet_recipient_max.unwrap_or(args.faucet_mint_max),
                recipient_window_slots: args.faucet_window_slots,
                cap_roe: args.faucet_cap,
                ..Faucet::new(k.pubkey(), args.faucet_mint_max)
            }),
            accounts: Vec::new(),
            // No validators named: the validator's own identity is the set.
            validators: Vec::new(),
            admin: None,
            ..Genesis::default()
        },
    };
    let identity = match &args.identity {
        Some(p) => Some(
            read_keypair_file(p)
                .with_context(|| format!("validator identity '{}'", p.display()))?,
        ),
        None => None,
    };
    if args.mempool_max == 0 || args.block_max_txs == 0 {
        bail!("--mempool-max and --block-max-txs must be at least 1");
    }
    let mut config = ValidatorConfig::new(args.data_dir.clone(), args.rpc_bind, genesis);
    config.faucet_keypair = faucet_keypair;
    config.identity = identity;
    config.mempool_max_txs = args.mempool_max;
    config.block_max_txs = args.block_max_txs;
    config.artifact_max_bytes = args.artifact_max_bytes;
    config.artifact_limits.uploader_quota_bytes = args.artifact_quota_bytes;
    config.artifact_limits.total_quota_bytes = args.artifact_total_bytes;
    config.artifact_limits.min_balance_roe = args.artifact_min_balance;
    config.artifact_limits.gc_grace = std::time::Duration::from_secs(args.artifact_gc_grace_secs);
    config.public_url = args.public_url.clone();
    let v = gradual_validator::start(config).await?;
    // First line on stdout: where to reach it (scripts and tests read this).
    println!("rpc listening on {}", v.url());

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = v.stopped() => tracing::error!("validator stopped on its own"),
    }
    v.shutdown().await?;
    Ok(())
}
