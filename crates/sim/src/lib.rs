//! Deterministic network simulator of Gradual Consensus (VOPR style).
//!
//! One process, virtual slots, one seeded PRNG. Thousands of nodes run the **real** node
//! scheduler ([`gradual_node_proto::NodeCore`]) against the **real** ledger state machine
//! ([`gradual_ledger::Ledger`]); only the task implementations (what a node answers when its
//! scheduler asks for a proof, a check or a reward list) and the network are simulated. That
//! is where the adversary strategies live ([`Strategy`]). Transactions are really signed
//! (ed25519) and really verified.
//!
//! ```text
//!   --seed ──▶ ChaCha8 PRNG ─┬─▶ who plays which strategy, flaky downtime, tx loss/delay
//!                            │
//!   slot s:  Ledger ──CachedView──▶ NodeCore × N ──actions──▶ strategy (in-memory task)
//!              ▲                        │ Send(ix)                 │ proof / verdict / list
//!              │                        ▼                          ▼
//!              └── apply_block ◀── mempool ◀── fault model ◀── sign (2 threads)
//!                     │
//!                     ├─▶ events ──▶ metrics (Report) + honest-property checkers
//!                     └─▶ supply check every block; replayed root = live root at the end
//! ```
//!
//! It does **not**: reimplement any ledger or scheduler rule (a fix belongs in those
//! crates), open sockets, spawn tokio, read clocks for decisions (wall time is only
//! measured), run real task code, or model validator faults (one honest validator makes
//! every block). Same config and seed ⇒ byte-identical run and final state root.
//!
//! Entry points: [`Sim`] (one run), [`sweep`] (adversary share × committee size grid, CSV +
//! PNG), [`scale`] (100,000-node benchmark), [`run_cli`] (the `gradual-sim` binary and
//! `gradual sim`).

mod cli;
pub mod config;
pub mod plot;
pub mod report;
pub mod scale;
pub mod scenario;
pub mod sim;
pub mod strategy;
pub mod sweep;

pub use cli::{run_cli, RunArgs, ScaleArgs, SimArgs, SimCmd, SweepArgs};
pub use config::{ConfigError, Mix, SimConfig, Strategy};
pub use report::{ClassStats, Report};
pub use scenario::Scenario;
pub use sim::{Sim, STAKE_ROE};

/// Run one simulation and return its report.
pub fn run(cfg: SimConfig) -> Report {
    Sim::new(cfg).run()
}

/// Peak resident memory of this process in KiB (`VmHWM`), if the OS reports it.
pub fn peak_rss_kib() -> Option<u64> {
    proc_status_kib("VmHWM:")
}

/// Current resident memory in KiB (`VmRSS`).
pub fn rss_kib() -> Option<u64> {
    proc_status_kib("VmRSS:")
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// CPU time this process used so far (user + system, all threads) in ms, from
/// `/proc/self/stat` (clock ticks, assumed 100 per second as on every Linux we run on).
pub fn cpu_ms() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 10)
}

/// Reset the peak-memory mark to the current RSS (Linux `clear_refs` value 5), so that a
/// measurement's own temporary allocations do not count as the run's peak.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// SplitMix64: derive a sequence of independent seeds from one.
pub fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
