//! `gradual-sim`: the simulator's command line (see `docs/simulation.md`).

use clap::Parser;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "gradual-sim",
    version,
    about = "Deterministic network simulator of Gradual Consensus"
)]
struct Cli {
    /// Print reports as JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(flatten)]
    args: gradual_sim::SimArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match gradual_sim::run_cli(cli.args, cli.json) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
