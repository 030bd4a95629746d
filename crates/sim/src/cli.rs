//! Command line: `gradual-sim [run flags]`, `gradual-sim sweep`, `gradual-sim scale`.
//! The `gradual` CLI mounts [`SimArgs`] as `gradual sim`.

use crate::config::{parse_list, parse_seed, ConfigError, Mix, SimConfig, Strategy};
use crate::scenario::Scenario;
use crate::{scale, splitmix, sweep, Sim};
use anyhow::Context as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
    #[command(subcommand)]
    pub cmd: Option<SimCmd>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum SimCmd {
    /// Run a grid of adversary share × committee size; write a CSV and a PNG plot.
    Sweep(SweepArgs),
    /// Time full rounds of one task with 10,000 and 100,000 nodes (build with --release).
    Scale(ScaleArgs),
}

/// One simulation run (the default command).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// PRNG seed, decimal or 0x-hex; drawn at random (and printed) when absent.
    #[arg(long)]
    pub seed: Option<String>,
    /// Scenario file (TOML, see docs/simulation.md); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Derive the whole configuration from the seed (VOPR swarm) and check honest properties.
    #[arg(long)]
    pub swarm: bool,
    /// With --swarm: run this many seeds, derived from --seed one after another.
    #[arg(long, value_name = "N", requires = "swarm")]
    pub swarm_count: Option<u32>,
    /// Number of simulated nodes (default 200).
    #[arg(long)]
    pub nodes: Option<u32>,
    /// Work rounds with faults on (default 100).
    #[arg(long)]
    pub rounds: Option<u64>,
    /// Extra rounds with faults healed so every round settles (default 8).
    #[arg(long)]
    pub liveness_rounds: Option<u64>,
    /// Adversary shares in percent of stake, e.g. `garbage=10,colluder=5`; honest gets the
    /// rest. Strategies: garbage, copier, lazy, false-accuser, bad-distributor, flaky, colluder,
    /// grinder, late-accuser, raise-flood, list-blocker, manager-updater.
    #[arg(long)]
    pub mix: Option<String>,
    /// Committee size K (default 64, the SPEC v2 default).
    #[arg(long)]
    pub committee: Option<u16>,
    /// Peers each node samples per round (default 8, the SPEC v2 default).
    #[arg(long)]
    pub audit_sample: Option<u16>,
    /// Slots per round (default 12).
    #[arg(long)]
    pub round_time: Option<u64>,
    /// Submission window in slots (default 4).
    #[arg(long)]
    pub submission_window: Option<u64>,
    /// Audit window in slots (default 6).
    #[arg(long)]
    pub audit_window: Option<u64>,
    /// Retries of a failed distribution (default 3).
    #[arg(long)]
    pub allowed_failed: Option<u16>,
    /// Chance a flaky node is offline for a round, in bps (default 3000).
    #[arg(long)]
    pub flaky_rate_bps: Option<u64>,
    /// Chance a transaction is lost, in bps (default 0).
    #[arg(long)]
    pub loss_bps: Option<u64>,
    /// Chance a transaction is delayed, in bps (default 0).
    #[arg(long)]
    pub delay_bps: Option<u64>,
    /// Longest delay in slots (default 2).
    #[arg(long)]
    pub delay_slots_max: Option<u64>,
    /// Threads for signing and signature checks (default 2).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Adversaries do not stake again after a slash (default: they top up like honest nodes).
    #[arg(long)]
    pub no_adversary_restake: bool,
    /// Raise-transaction variants a `grinder` evaluates per candidate (default 16).
    #[arg(long)]
    pub grind_tries: Option<u32>,
    /// Extra raises a `raise-flood` node sends per round (default 32).
    #[arg(long)]
    pub flood_raises: Option<u32>,
    /// Replay the block log at the end and compare roots (default: only small runs).
    #[arg(long, overrides_with = "no_replay")]
    pub replay: bool,
    /// Never replay.
    #[arg(long)]
    pub no_replay: bool,
    /// Fail (exit 1) if an honest node is slashed or shortchanged or a round never settles.
    #[arg(long)]
    pub assert_honest: bool,
    /// Skip the O(state) supply check after every block (it still runs at the end).
    #[arg(long)]
    pub no_supply_check: bool,
    /// Also write the full report as JSON to this file (the table still goes to stdout).
    #[arg(long, value_name = "FILE")]
    pub json_out: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// Adversary strategy of the grid (default colluder).
    #[arg(long, value_enum, default_value_t = Strategy::Colluder)]
    pub strategy: Strategy,
    /// Adversary shares in percent.
    #[arg(long, default_value = "0,5,10,15,20,25,30,35,40,45")]
    pub shares: String,
    /// Committee sizes.
    #[arg(long, default_value = "8,16,32,64")]
    pub committees: String,
    #[arg(long, default_value_t = 200)]
    pub nodes: u32,
    #[arg(long, default_value_t = 200)]
    pub rounds: u64,
    #[arg(long, default_value_t = 8)]
    pub audit_sample: u16,
    /// Seed of the first grid point; each point derives its own.
    #[arg(long, default_value = "0x5eed")]
    pub seed: String,
    /// Runs in parallel (each signs on one thread).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Output files: `<out>.csv` and `<out>.png` (the default writes under `target/`, so a
    /// sweep run from the repository root never overwrites the committed `docs/sweep.*`).
    #[arg(long, default_value = "target/sweep")]
    pub out: PathBuf,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ScaleArgs {
    /// Node counts to compare, in one process.
    #[arg(long, default_value = "10000,100000")]
    pub nodes: String,
    /// Rounds of time to run per size (the first two fill the pipeline).
    #[arg(long, default_value_t = 5)]
    pub rounds: u64,
    /// Adversaries, so that triggered audits with committees happen every round.
    #[arg(long, default_value = "garbage=1,false-accuser=0.2")]
    pub mix: String,
    #[arg(long, default_value_t = 32)]
    pub committee: u16,
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    #[arg(long, default_value = "0x5ca1e")]
    pub seed: String,
}

impl RunArgs {
    /// Defaults, then the scenario file, then flags.
    pub fn config(&self) -> Result<SimConfig, ConfigError> {
        let mut cfg = SimConfig::default();
        if let Some(p) = &self.scenario {
            Scenario::load(p)?.apply(&mut cfg)?;
        }
        if let Some(s) = &self.seed {
            cfg.seed = parse_seed(s)?;
        } else if self.scenario.is_none() {
            cfg.seed = rand::random();
        }
        if self.swarm {
            let mut c = SimConfig::swarm(cfg.seed);
            c.threads = self.threads.unwrap_or(c.threads);
            c.validate()?;
            return Ok(c);
        }
        macro_rules! flag {
            ($f:ident, $field:ident) => {
                if let Some(v) = self.$f {
                    cfg.$field = v;
                }
            };
        }
        flag!(nodes, nodes);
        flag!(rounds, rounds);
        flag!(liveness_rounds, liveness_rounds);
        flag!(committee, committee_size);
        flag!(audit_sample, audit_sample);
        flag!(round_time, round_time);
        flag!(submission_window, submission_window);
        flag!(audit_window, audit_window);
        flag!(allowed_failed, allowed_failed_distributions);
        flag!(flaky_rate_bps, flaky_rate_bps);
        flag!(loss_bps, loss_bps);
        flag!(delay_bps, delay_bps);
        flag!(delay_slots_max, delay_slots_max);
        flag!(threads, threads);
        flag!(grind_tries, grind_tries);
        flag!(flood_raises, flood_raises);
        if self.no_adversary_restake {
            cfg.adversary_restake = false;
        }
        if let Some(m) = &self.mix {
            cfg.mix = Mix::parse(m)?;
        }
        if self.replay {
            cfg.replay = Some(true);
        }
        if self.no_replay {
            cfg.replay = Some(false);
        }
        if self.assert_honest {
            cfg.assert_honest = true;
        }
        if self.no_supply_check {
            cfg.check_supply_every_block = false;
        }
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Run one configuration; a panic (a broken invariant) is reported with its reproduce line.
fn run_one(cfg: SimConfig, json: bool, json_out: Option<&std::path::Path>) -> ExitCode {
    let args = cfg.to_args();
    eprintln!("seed {:#x}", cfg.seed);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Sim::new(cfg).run()));
    match result {
        Ok(report) => {
            if let Some(p) = json_out {
                let text = serde_json::to_string_pretty(&report).expect("report serializes");
                if let Err(e) = std::fs::write(p, text + "\n") {
                    eprintln!("error: writing {}: {e}", p.display());
                    return ExitCode::from(2);
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                );
            } else {
                print!("{}", report.table());
            }
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                eprintln!("reproduce: cargo run -p gradual-sim --release -- {args}");
                ExitCode::from(1)
            }
        }
        Err(_) => {
            eprintln!("invariant broken (see the panic above)");
            eprintln!("reproduce: cargo run -p gradual-sim --release -- {args}");
            ExitCode::from(101)
        }
    }
}

/// Entry point of `gradual-sim` and `gradual sim`.
/// Run the simulator's command line. `json` is the caller's global `--json` flag (the
/// `gradual` CLI and the `gradual-sim` binary both define it once, at the top level).
pub fn run_cli(args: SimArgs, json: bool) -> anyhow::Result<ExitCode> {
    match args.cmd {
        Some(SimCmd::Sweep(s)) => {
            let shares: Vec<f64> = parse_list(&s.shares)?;
            let committees: Vec<u16> = parse_list(&s.committees)?;
            let seed = parse_seed(&s.seed)?;
            let spec = sweep::SweepSpec {
                strategy: s.strategy,
                shares,
                committees,
                nodes: s.nodes,
                rounds: s.rounds,
                audit_sample: s.audit_sample,
                seed,
                jobs: s.jobs,
            };
            let rows = sweep::run(&spec)?;
            let csv = s.out.with_extension("csv");
            let png = s.out.with_extension("png");
            if let Some(dir) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            std::fs::write(&csv, sweep::csv(&rows))
                .with_context(|| format!("writing {}", csv.display()))?;
            crate::plot::sweep_png(&png, &spec, &rows)?;
            print!("{}", sweep::table(&rows));
            println!("wrote {} and {}", csv.display(), png.display());
            Ok(ExitCode::SUCCESS)
        }
        Some(SimCmd::Scale(s)) => {
            let nodes: Vec<u32> = parse_list(&s.nodes)?;
            let mix = Mix::parse(&s.mix)?;
            let seed = parse_seed(&s.seed)?;
            let out = scale::run(&scale::ScaleSpec {
                nodes,
                rounds: s.rounds,
                mix,
                committee: s.committee,
                threads: s.threads,
                seed,
            })?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&out).expect("serializes")
                );
            } else {
                print!("{}", scale::table(&out));
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let a = args.run;
            let cfg = a.config()?;
            let Some(count) = a.swarm_count else {
                return Ok(run_one(cfg, json, a.json_out.as_deref()));
            };
            let mut seed = cfg.seed;
            for i in 0..count {
                let c = SimConfig {
                    threads: cfg.threads,
                    ..SimConfig::swarm(seed)
                };
                eprintln!("swarm run {}/{count}: {}", i + 1, c.to_args());
                let code = run_one(c, json, None);
                if code != ExitCode::SUCCESS {
                    return Ok(code);
                }
                seed = splitmix(seed);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimArgs,
    }

    #[test]
    fn a_default_sweep_does_not_write_into_docs() {
        let cli = Cli::try_parse_from(["gradual-sim", "sweep"]).unwrap();
        let Some(SimCmd::Sweep(s)) = cli.args.cmd else {
            panic!("sweep parsed as {:?}", cli.args.cmd);
        };
        assert_eq!(s.out, PathBuf::from("target/sweep"));
        assert!(!s.out.starts_with("docs"), "would overwrite docs/sweep.*");
        let cli = Cli::try_parse_from(["gradual-sim", "sweep", "--out", "docs/sweep"]).unwrap();
        let Some(SimCmd::Sweep(s)) = cli.args.cmd else {
            panic!("sweep parsed as {:?}", cli.args.cmd);
        };
        assert_eq!(s.out.with_extension("csv"), PathBuf::from("docs/sweep.csv"));
    }
}
