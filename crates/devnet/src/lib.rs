//! `gradual devnet`: a validator (in this process, fast slots), one task deployed through the
//! client (artifact upload + `CreateTask`), and N `gradual node` child processes (each with
//! its own keypair, data directory and port; the last one adversarial). It watches the
//! ledger, shows progress, and judges the outcome: every settled round paid the honest
//! nodes, the cheater was caught and slashed, no honest node was slashed, supply conserved.
//! The final tables account for every node's stake (slashes, auto-stake top-ups) and balance
//! (round rewards, accuser and voter shares), and for the bounty, with a legend.
//!
//! The nodes share one copy of the task executable (hard links in their artifact caches),
//! may listen on fixed ports (`base_port`), and `gradual devnet` removes its temporary
//! directory after a passing run unless told to keep it.
//!
//! ```text
//!   Devnet::start ──▶ validator (in-process) ◀──RPC── node 1..N (child processes)
//!        │                 ▲                             │ task child processes
//!        └─ poll() ────────┘ observations per round ─▶ summary() ─▶ table + verdict
//! ```
//!
//! One module per job: [`config`] (what to run), [`orchestrate`] (start, kill, stop),
//! [`observe`] (what happened to each round), [`judge`] (the verdict), [`render`] (text),
//! [`watch`] (the live loop `gradual devnet` runs).

pub mod config;
pub mod judge;
pub mod observe;
pub mod orchestrate;
pub mod render;
pub mod watch;

pub use config::{min_audit_window, min_round_time, DevnetConfig, TaskChoice};
pub use judge::{NodeSummary, Summary};
pub use observe::{RoundObs, ShareObs, SlashObs};
pub use orchestrate::{DevNode, Devnet, BUILTIN_TASK_PY};
pub use render::{node_line, progress_line, render_summary, LEGEND};
pub use watch::run;

/// First 8 characters of a base58 key.
pub fn short(k: &str) -> String {
    k.chars().take(8).collect()
}
