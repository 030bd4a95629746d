//! `ledger_bench`: how many signed `SubmitProof` transactions per second the ledger takes in,
//! end to end and durably, compared with bare signature checking on one core.
//!
//! ```text
//!  (a) pre-signed txs ──tx.verify()──▶ sigs/s (1 core)
//!  (b) bytes ─▶ decode ─▶ check_all(2) ─▶ apply_block ─▶ Store::commit (fsync) ─▶ tx/s
//!      (pipelined: block N+1 is decoded and verified while block N is applied and committed)
//!  prints a, b, b/a and the time of each stage
//! ```
//! It is a program, not a test: it asserts nothing about speed.
//!
//! Run: `cargo run --release -p gradual-bench --bin ledger_bench -- [--txs N] [--block N]
//! [--nodes N] [--verify-sample N] [--threads N] [--sequential] [--dir PATH]`

use anyhow::{bail, Context};
use gradual_bench::{run_pipelined, run_sequential, setup, verify_one_core, Config, Run};
use gradual_types::Transaction;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: ledger_bench [--txs N] [--block N] [--nodes N] [--verify-sample N] \
                     [--threads N] [--sequential] [--dir PATH]
  --txs N            SubmitProof transactions in the measured blocks (default 40000)
  --block N          transactions per block (default 4000)
  --nodes N          distinct staked nodes (default: one per transaction)
  --verify-sample N  signatures checked for the one-core baseline (default 20000)
  --threads N        signature-checking threads in the end-to-end run (default 2)
  --sequential       do not pipeline (each block decoded, verified, applied, committed in turn)
  --dir PATH         directory for the store file (default: a temporary directory)";

struct Args {
    config: Config,
    verify_sample: usize,
    sequential: bool,
    dir: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut txs = 40_000;
    let mut block = 4_000;
    let mut nodes = None;
    let mut verify_sample = 20_000;
    let mut threads = 2;
    let mut sequential = false;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| -> anyhow::Result<String> {
            args.next()
                .with_context(|| format!("{name} needs a value"))
        };
        let number = |name: &str, v: String| -> anyhow::Result<usize> {
            v.replace('_', "")
                .parse()
                .with_context(|| format!("{name} takes a whole number, got '{v}'"))
        };
        match flag.as_str() {
            "--txs" => txs = number("--txs", value("--txs")?)?,
            "--block" => block = number("--block", value("--block")?)?,
            "--nodes" => nodes = Some(number("--nodes", value("--nodes")?)?),
            "--verify-sample" => {
                verify_sample = number("--verify-sample", value("--verify-sample")?)?
            }
            "--threads" => threads = number("--threads", value("--threads")?)?,
            "--sequential" => sequential = true,
            "--dir" => dir = Some(PathBuf::from(value("--dir")?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            // `cargo bench` style harness flags are not ours.
            "--bench" => {}
            other => bail!("unknown argument '{other}'\n{USAGE}"),
        }
    }
    if txs == 0 || block == 0 || threads == 0 {
        bail!("--txs, --block and --threads must be at least 1");
    }
    Ok(Some(Args {
        config: Config {
            txs,
            block_txs: block,
            nodes: nodes.unwrap_or(txs),
            verify_threads: threads,
        },
        verify_sample: verify_sample.clamp(1, txs),
        sequential,
        dir,
    }))
}

fn secs(d: std::time::Duration) -> f64 {
    d.as_secs_f64()
}

fn run() -> anyhow::Result<ExitCode> {
    let Some(args) = parse_args()? else {
        return Ok(ExitCode::SUCCESS);
    };
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

    let t = Instant::now();
    let (mut store, mut ledger, work) = setup(c, &path)?;
    println!(
        "setup: genesis, task, {} stakes, {} blocks of proofs signed in {:.2} s (not measured)",
        c.nodes,
        work.blocks.len(),
        secs(t.elapsed())
    );

    // (a) bare verify_strict on one core, over the same pre-signed transactions.
    let sample: Vec<Transaction> = work
        .blocks
        .iter()
        .flat_map(|(_, b)| b.iter())
        .take(args.verify_sample)
        .map(|b| Transaction::decode(b))
        .collect::<Result<_, _>>()
        .context("decoding the sample")?;
    let (took, cpu) = verify_one_core(&sample)?;
    let a = sample.len() as f64 / secs(took);
    println!(
        "(a) verify_strict, 1 core:           {:>7} sigs in {:.3} s = {:>8.0} sigs/s  (cpu {:.2} µs/sig)",
        sample.len(),
        secs(took),
        a,
        secs(cpu) * 1e6 / sample.len() as f64
    );
    drop(sample);

    // (b) end to end.
    let mode = if args.sequential {
        "sequential"
    } else {
        "pipelined"
    };
    let blocks = work.blocks;
    let r: Run = if args.sequential {
        run_sequential(&mut store, &mut ledger, blocks, c.verify_threads)?
    } else {
        run_pipelined(&mut store, &mut ledger, blocks, c.verify_threads)?
    };
    let b = r.tx_per_s();
    println!(
        "(b) end to end, {mode}, {} verify threads: {:>7} txs in {:.3} s = {:>8.0} tx/s  ({} blocks, durable commits)",
        c.verify_threads,
        r.txs,
        secs(r.wall),
        b,
        r.blocks
    );
    let p = r.phases;
    let per_ktx = |d: std::time::Duration| secs(d) * 1e6 / r.txs as f64;
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
        per_ktx(p.decode),
        per_ktx(p.verify),
        per_ktx(p.apply),
        per_ktx(p.commit),
        per_ktx(p.apply_cpu),
        per_ktx(p.commit_cpu)
    );
    let ratio = b / a;
    println!(
        "b/a = {ratio:.2} (target >= 1.5: {})",
        if ratio >= 1.5 { "met" } else { "NOT met" }
    );
    if store.head().state_root != ledger.state_root() {
        bail!("store head and ledger disagree after the run");
    }
    drop(store);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ledger_bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
