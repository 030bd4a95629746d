//! Fuzz what strangers can send: transaction bytes through decode, signature check and the
//! ledger (`tx`), and JSON-RPC bodies against a real validator on loopback (`rpc`). Prints
//! what it saw and exits 1 on any panic or failure. See `gradual_bench::fuzz` and
//! `gradual_bench::fuzz_rpc` for the case kinds.
//!
//! Usage: `cargo run --release -p gradual-bench --bin fuzz -- tx|rpc [CASES] [SEED]`
//! (defaults: 1,000,000 cases, seed 1).

use clap::{Parser, ValueEnum};
use gradual_bench::whole_number;
use std::time::Instant;

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    /// Transaction bytes through decode, signature check and the ledger
    Tx,
    /// JSON-RPC bodies against a validator on loopback
    Rpc,
}

/// Fuzz what strangers can send; exits 1 on any panic or failure.
#[derive(Parser)]
#[command(name = "fuzz")]
struct Args {
    target: Target,
    /// Cases to run
    #[arg(default_value = "1000000", value_parser = whole_number::<u64>)]
    cases: u64,
    /// Seed of the case generator
    #[arg(default_value = "1", value_parser = whole_number::<u64>)]
    seed: u64,
}

fn main() {
    let Args {
        target,
        cases,
        seed,
    } = Args::parse();
    let started = Instant::now();
    let failed = match target {
        Target::Tx => {
            let s = gradual_bench::fuzz::run_tx_cases(seed, cases);
            println!("fuzz tx: transaction bytes → decode → signature → ledger (seed {seed})");
            println!("cases              {:>12}", s.cases);
            println!("decoded            {:>12}", s.decoded);
            println!("applied / accepted {:>12} / {}", s.applied, s.accepted);
            println!("blocks / replays   {:>12} / {}", s.blocks, s.replays);
            println!("panics             {:>12}", s.panics);
            for p in &s.first_panics {
                println!("  {p}");
            }
            s.panics > 0
        }
        Target::Rpc => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
            let s = rt.block_on(gradual_bench::fuzz_rpc::run_rpc_cases(
                dir.path(),
                seed,
                cases,
            ));
            println!("fuzz rpc: JSON-RPC bodies → a validator on loopback (seed {seed})");
            println!("cases              {:>12}", s.cases);
            println!(
                "200 / 4xx / 503    {:>12} / {} / {}",
                s.ok_200, s.client_error_4xx, s.busy_503
            );
            println!("failures           {:>12}", s.failures);
            for p in &s.first_failures {
                println!("  {p}");
            }
            println!("slots advanced     {:>12}", s.slots_advanced);
            println!("healthy after      {:>12}", s.healthy_after);
            s.failures > 0 || !s.healthy_after || s.slots_advanced == 0
        }
    };
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wall time          {secs:>11.1} s ({:.0} cases/s)",
        cases as f64 / secs
    );
    if failed {
        std::process::exit(1);
    }
}
