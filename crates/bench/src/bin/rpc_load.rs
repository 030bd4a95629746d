//! RPC load: many client tasks send signed transfers over HTTP; prints accepted and committed
//! transactions per second, then measures the in-process ledger pipeline (decode → verify on
//! 2 threads → apply → durable commit, `gradual_bench::run_blocks`) on as many signed
//! transactions in the same run, and prints the ratio. A measurement, not a test.
//!
//! ```text
//! cargo run --release -p gradual-bench --bin rpc_load -- [--url URL]
//!     [--clients 16] [--txs 500] [--slot-ms 100]
//! ```
//! Without `--url` it starts its own validator in a temporary directory. A validator given
//! with `--url` must hold a faucet key (senders are funded by `requestAirdrop`).

use anyhow::bail;
use clap::Parser;
use gradual_bench::whole_number;
use gradual_client::Client;
use gradual_types::{Faucet, Genesis, Instruction, Keypair, Pubkey, Transaction};
use gradual_validator::ValidatorConfig;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Signed transfers from many clients over HTTP, next to the in-process ledger pipeline.
#[derive(Parser)]
#[command(name = "rpc_load")]
struct Args {
    /// A running validator holding a faucet key (default: start one in a temporary directory)
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Concurrent client tasks
    #[arg(long, value_name = "N", default_value = "16", value_parser = whole_number::<usize>)]
    clients: usize,
    /// Transfers each client sends
    #[arg(long, value_name = "N", default_value = "500", value_parser = whole_number::<u64>)]
    txs: u64,
    /// Slot length of the validator this program starts
    #[arg(long, value_name = "N", default_value = "100", value_parser = whole_number::<u64>)]
    slot_ms: u64,
}

fn args() -> anyhow::Result<Args> {
    let a = Args::parse();
    if a.clients == 0 || a.txs == 0 {
        bail!("--clients and --txs must be at least 1");
    }
    Ok(a)
}

fn sender(i: usize) -> Keypair {
    let mut seed = [0x77; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Keypair::from_seed(seed)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let dir = tempfile::tempdir()?;
    let (url, validator) = match &a.url {
        Some(u) => (u.clone(), None),
        None => {
            let faucet = Keypair::from_seed([0x42; 32]);
            let genesis = Genesis {
                chain_id: "rpc-load".into(),
                slot_ms: a.slot_ms,
                faucet: Some(Faucet::new(faucet.pubkey(), u64::MAX / 1024)),
                // No validators named: the validator generates its identity (in the
                // temporary data dir) and names it, as `gradual validator` does.
                validators: Vec::new(),
                ..Genesis::default()
            };
            let mut cfg =
                ValidatorConfig::new(dir.path().to_path_buf(), "127.0.0.1:0".parse()?, genesis);
            cfg.faucet_keypair = Some(faucet);
            cfg.mempool_max_txs = 200_000;
            cfg.block_max_txs = 20_000;
            let v = gradual_validator::start(cfg).await?;
            (v.url(), Some(v))
        }
    };
    let client = Arc::new(Client::new(&url));
    let g = client.get_genesis().await?;
    println!(
        "validator {url} chain {} slot_ms {}; {} clients x {} txs",
        g.chain_id, g.slot_ms, a.clients, a.txs
    );
    // Fund every sender: amounts 1..=txs ROE each.
    let need = a.txs * (a.txs + 1) / 2 + g.fee_roe * a.txs;
    let mut sigs = Vec::new();
    for i in 0..a.clients {
        sigs.push(client.request_airdrop(&sender(i).pubkey(), need).await?);
    }
    for s in &sigs {
        client.confirm(s).await?;
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.clients {
        let client = client.clone();
        let (chain, fee, txs) = (g.chain_id.clone(), g.fee_roe, a.txs);
        tasks.push(tokio::spawn(async move {
            let kp = sender(i);
            let to = Pubkey([i as u8; 32]);
            let mut recent = client.get_slot().await.unwrap_or(0);
            let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
            let mut last = None;
            for n in 1..=txs {
                if n % 100 == 0 {
                    recent = client.get_slot().await.unwrap_or(recent);
                }
                let tx = Transaction::new_signed(
                    &kp,
                    &chain,
                    recent,
                    fee,
                    Instruction::Transfer { to, amount: n },
                );
                match client.send_transaction(&tx).await {
                    Ok(sig) => {
                        *outcomes.entry("accepted".into()).or_default() += 1;
                        last = Some(sig);
                    }
                    Err(e) => {
                        let kind = e.tx_error_kind().unwrap_or_else(|| {
                            e.rpc_error()
                                .map(|r| r.code.to_string())
                                .unwrap_or_else(|| "transport".into())
                        });
                        *outcomes.entry(kind).or_default() += 1;
                    }
                }
            }
            (outcomes, last)
        }));
    }
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    let mut lasts = Vec::new();
    for t in tasks {
        let (o, last) = t.await?;
        for (k, v) in o {
            *totals.entry(k).or_default() += v;
        }
        lasts.extend(last);
    }
    let sent = started.elapsed();
    for s in &lasts {
        client.confirm(s).await?;
    }
    let committed = started.elapsed();
    let accepted = totals.get("accepted").copied().unwrap_or(0);
    println!("outcomes: {totals:?}");
    println!(
        "accepted {accepted} txs in {:.2} s: {:.0} tx/s accepted",
        sent.as_secs_f64(),
        accepted as f64 / sent.as_secs_f64()
    );
    println!(
        "all committed after {:.2} s: {:.0} tx/s end to end",
        committed.as_secs_f64(),
        accepted as f64 / committed.as_secs_f64()
    );
    if let Some(v) = validator {
        v.shutdown().await?;
    }
    // The in-process ledger on the same number of signed transactions, same machine, same run.
    let n = (accepted as usize).max(1);
    let bench_dir = tempfile::tempdir()?;
    let config = gradual_bench::Config {
        txs: n,
        block_txs: n.clamp(1, 2_000),
        nodes: n,
        verify_threads: 2,
        checkpoint_every: 64,
    };
    let inproc = tokio::task::spawn_blocking(move || -> anyhow::Result<gradual_bench::Run> {
        let path = bench_dir.path().join("ledger.redb");
        let (mut store, mut ledger, work) = gradual_bench::setup(&config, &path)?;
        gradual_bench::run_blocks(
            &mut store,
            &mut ledger,
            work.blocks,
            config.verify_threads,
            gradual_bench::Mode::Pipelined,
        )
    })
    .await??;
    let http_rate = accepted as f64 / sent.as_secs_f64();
    println!(
        "in-process ledger (SubmitProof, decode+verify+apply+commit): {:.0} tx/s over {} txs",
        inproc.tx_per_s(),
        inproc.txs
    );
    println!(
        "ratio HTTP accepted / in-process ledger = {:.2}",
        http_rate / inproc.tx_per_s()
    );
    Ok(())
}
