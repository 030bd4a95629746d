//! `ledger_bench`: how many signed `SubmitProof` transactions per second the ledger takes in,
//! end to end and durably, compared with bare signature checking on one core.
//!
//! ```text
//!  (a) pre-signed txs ──tx.verify()──▶ sigs/s (1 core)
//!  (b) bytes ─▶ decode ─▶ check_all(2) ─▶ apply_block ─▶ Store::commit (fsync) ─▶ tx/s
//!      (pipelined: block N+1 is decoded and verified while block N is applied and committed)
//!  prints a (measured before and after b, averaged), b, b/a and the time of each stage
//! ```
//! It is a program, not a test: it asserts nothing about speed.
//!
//! Run: `cargo run --release -p gradual-bench --bin ledger_bench -- [--txs N] [--block N]
//! [--nodes N] [--verify-sample N] [--threads N] [--checkpoint-every N] [--sequential]
//! [--dir PATH]`

use anyhow::{bail, Context};
use clap::Parser;
use gradual_bench::{run_blocks, setup, verify_one_core, whole_number, Config, Mode, Run};
use gradual_types::Transaction;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// How many signed `SubmitProof` transactions per second the ledger takes in, end to end and
/// durably, compared with bare signature checking on one core.
#[derive(Parser)]
#[command(name = "ledger_bench")]
struct Flags {
    /// SubmitProof transactions in the measured blocks
    #[arg(long, value_name = "N", default_value = "40000", value_parser = whole_number::<usize>)]
    txs: usize,
    /// Transactions per block
    #[arg(long, value_name = "N", default_value = "4000", value_parser = whole_number::<usize>)]
    block: usize,
    /// Distinct staked nodes (default: one per transaction)
    #[arg(long, value_name = "N", value_parser = whole_number::<usize>)]
    nodes: Option<usize>,
    /// Signatures checked for the one-core baseline
    #[arg(long, value_name = "N", default_value = "20000", value_parser = whole_number::<usize>)]
    verify_sample: usize,
    /// Signature-checking threads in the end-to-end run
    #[arg(long, value_name = "N", default_value = "2", value_parser = whole_number::<usize>)]
    threads: usize,
    /// The store folds its write-set log every N blocks
    #[arg(long, value_name = "N", default_value_t = gradual_store::CHECKPOINT_BLOCKS_DEFAULT,
          value_parser = whole_number::<u64>)]
    checkpoint_every: u64,
    /// Do not pipeline (decode, verify, apply, commit each block in turn)
    #[arg(long)]
    sequential: bool,
    /// Directory for the store file (default: a temporary directory)
    #[arg(long, value_name = "PATH")]
    dir: Option<PathBuf>,
    /// `cargo bench` style harness flag; not ours, ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

struct Args {
    config: Config,
    verify_sample: usize,
    sequential: bool,
    dir: Option<PathBuf>,
}

fn parse_args(f: Flags) -> anyhow::Result<Args> {
    if f.txs == 0 || f.block == 0 || f.threads == 0 {
        bail!("--txs, --block and --threads must be at least 1");
    }
    Ok(Args {
        config: Config {
            txs: f.txs,
            block_txs: f.block,
            nodes: f.nodes.unwrap_or(f.txs),
            verify_threads: f.threads,
            checkpoint_every: f.checkpoint_every,
        },
        verify_sample: f.verify_sample.clamp(1, f.txs),
        sequential: f.sequential,
        dir: f.dir,
    })
}

/// The 1-minute load average (Linux), to flag runs on a busy machine.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

fn run(flags: Flags) -> anyhow::Result<ExitCode> {
    let args = parse_args(flags)?;
    let c = &args.config;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::TempDir::new().context("creating a temporary directory")?;
            tmp.path().to_path_buf()
        }
    };
    let path = dir.join(format!("ledger_bench-{}.redb", std::process::id()));
    println!(
        "ledger_bench: {} SubmitProof txs from {} staked nodes, {} txs per block, {} cores, store {}",
        c.txs,
        c.nodes,
        c.block_txs,
        cores,
        path.display()
    );

    let load_before = load_average();
    let t = Instant::now();
    let (mut store, mut ledger, work) = setup(c, &path)?;
    println!(
        "setup: genesis, task, {} stakes, {} blocks of proofs signed in {:.2} s (not measured)",
        c.nodes,
        work.blocks.len(),
        secs(t.elapsed())
    );

    // (a) bare verify_strict on one core, over the same pre-signed transactions; measured
    // before and after (b) so that a change in machine load shows, and averaged.
    let sample: Vec<Transaction> = work
        .blocks
        .iter()
        .flat_map(|(_, b)| b.iter())
        .take(args.verify_sample)
        .map(|b| Transaction::decode(b))
        .collect::<Result<_, _>>()
        .context("decoding the sample")?;
    let verify_a = |when: &str| -> anyhow::Result<(f64, f64)> {
        let (took, cpu) = verify_one_core(&sample)?;
        let rate = sample.len() as f64 / secs(took);
        let cpu_per_sig = secs(cpu) * 1e6 / sample.len() as f64;
        println!(
            "(a) verify_strict, 1 core, {when}: {:>7} sigs in {:.3} s = {:>8.0} sigs/s  (cpu {:.1} µs/sig)",
            sample.len(),
            secs(took),
            rate,
            cpu_per_sig
        );
        Ok((rate, cpu_per_sig))
    };
    let (a_before, a_cpu_before) = verify_a("before (b)")?;

    // (b) end to end.
    let (mode, name) = if args.sequential {
        (Mode::Sequential, "sequential")
    } else {
        (Mode::Pipelined, "pipelined")
    };
    let r: Run = run_blocks(&mut store, &mut ledger, work.blocks, c.verify_threads, mode)?;
    let b = r.tx_per_s();
    println!(
        "(b) end to end, {name}, {} verify threads: {:>7} txs in {:.3} s = {:>8.0} tx/s  ({} blocks, durable commits)",
        c.verify_threads,
        r.txs,
        secs(r.wall),
        b,
        r.blocks
    );
    let p = r.phases;
    let per_tx_us = |d: std::time::Duration| secs(d) * 1e6 / r.txs as f64;
    println!(
        "    stage totals: decode {:.3} s, verify {:.3} s (wall, {} threads), apply {:.3} s, commit {:.3} s, apply thread waiting {:.3} s",
        secs(p.decode),
        secs(p.verify),
        c.verify_threads,
        secs(p.apply),
        secs(p.commit),
        secs(p.wait)
    );
    println!(
        "    per tx (µs):  decode {:.2}, verify {:.2} (wall), apply {:.2}, commit {:.2}; cpu: apply {:.2}, commit {:.2}",
        per_tx_us(p.decode),
        per_tx_us(p.verify),
        per_tx_us(p.apply),
        per_tx_us(p.commit),
        per_tx_us(p.apply_cpu),
        per_tx_us(p.commit_cpu)
    );
    println!(
        "    commit includes the final fold of the write-set log: {:.3} s wall, {:.2} µs/tx cpu",
        secs(p.checkpoint),
        per_tx_us(p.checkpoint_cpu)
    );
    let (a_after, a_cpu_after) = verify_a("after (b) ")?;
    let a = (a_before + a_after) / 2.0;
    // On a busy machine the wall-clock ratio mostly measures how much of the machine each
    // run got. CPU time is steadier: within (b), everything but the apply/commit thread's
    // stages and decoding is signature checking, so the same window gives both costs.
    let b_cpu_per_tx = secs(r.cpu) * 1e6 / r.txs as f64;
    let verify_cpu_per_tx =
        b_cpu_per_tx - per_tx_us(p.apply_cpu) - per_tx_us(p.commit_cpu) - per_tx_us(p.decode);
    println!(
        "cpu time: (a) {:.1} µs/sig; (b) {:.1} µs/tx over all threads, of which ~{:.1} checking \
         signatures",
        (a_cpu_before + a_cpu_after) / 2.0,
        b_cpu_per_tx,
        verify_cpu_per_tx
    );
    if r.cpu > std::time::Duration::ZERO && verify_cpu_per_tx > 0.0 {
        let cores = c.verify_threads.min(cores) as f64;
        println!(
            "    estimate for {cores} idle cores from (b)'s cpu times: b/a ~ {cores} x {:.1} / {:.1} \
             = {:.2} (an estimate, not a measurement)",
            verify_cpu_per_tx,
            b_cpu_per_tx,
            cores * verify_cpu_per_tx / b_cpu_per_tx
        );
    }
    let ratio = b / a;
    println!(
        "a = {a:.0} sigs/s (mean of both), b = {b:.0} tx/s, b/a = {ratio:.2} (target >= 1.5: {})",
        if ratio >= 1.5 { "met" } else { "NOT met" }
    );
    if let Some(load) = load_before {
        let note = if load > 0.5 {
            " (other work was running: wall-clock rates, b most, are lower than on an idle machine)"
        } else {
            ""
        };
        println!("load average when started: {load:.2} on {cores} cores{note}");
    }
    if store.head().state_root != ledger.state_root() {
        bail!("store head and ledger disagree after the run");
    }
    drop(store);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    gradual_bench::exit_code("ledger_bench", run(Flags::parse()))
}
