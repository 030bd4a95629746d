//! Fuzz what strangers can send: transaction bytes through decode, signature check and the
//! ledger (`tx`), and JSON-RPC bodies against a real validator on loopback (`rpc`). Prints
//! what it saw and exits 1 on any panic or failure. See `gradual_bench::fuzz` and
//! `gradual_bench::fuzz_rpc` for the case kinds.
//!
//! Usage: `cargo run --release -p gradual-bench --bin fuzz -- tx|rpc [CASES] [SEED]`
//! (defaults: 1,000,000 cases, seed 1).

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let target = args.next().unwrap_or_default();
    let parse = |a: Option<String>, default: u64, what: &str| -> u64 {
        match a {
            None => default,
            Some(s) => s.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("error: {what} must be a whole number, got {s:?}");
                std::process::exit(2);
            }),
        }
    };
    let cases = parse(args.next(), 1_000_000, "CASES");
    let seed = parse(args.next(), 1, "SEED");
    let started = Instant::now();
    let failed = match target.as_str() {
        "tx" => {
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
        "rpc" => {
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
        other => {
            eprintln!(
                "error: target must be tx or rpc, got {other:?}\nusage: fuzz tx|rpc [CASES] [SEED]"
            );
            std::process::exit(2);
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
