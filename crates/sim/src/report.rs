//! What one run measured, as a table for people and as JSON for scripts.

use crate::config::SimConfig;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Per strategy: how its nodes fared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassStats {
    pub nodes: u32,
    /// ROE the class started with (balances) and held at the end (balance + stake + pending).
    pub initial_roe: u64,
    pub final_roe: u64,
    /// Rewards from paid distribution lists.
    pub rewards_roe: u64,
    pub slashed_roe: u64,
    pub proofs_landed: u64,
    pub bad_proofs: u64,
    pub bad_voided: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub config: Option<SimConfig>,
    pub reproduce: String,
    pub state_root: String,
    pub final_slot: u64,
    pub blocks: u64,
    pub txs: u64,
    pub txs_lost: u64,
    pub txs_delayed: u64,
    /// Rejected transactions by error kind (adversaries' failures are expected).
    pub tx_errors: BTreeMap<String, u64>,
    pub honest_tx_errors: u64,

    /// Settled rounds of the safety phase, and those that paid nothing.
    pub rounds_settled: u64,
    pub rounds_unpaid: u64,
    /// What honest nodes would have received had every cheater been caught and every round
    /// paid (equal share among correct proofs), and what paid lists gave them.
    pub honest_fair_roe: u128,
    pub honest_paid_roe: u128,
    pub honest_reward_pct: f64,
    pub honest_stake_roe: u64,
    pub honest_slashed_roe: u64,
    pub honest_slash_events: u64,
    /// Honest stake slashed per settled round, in percent of honest stake.
    pub honest_slash_pct_per_round: f64,
    /// Honest nodes paid less than an equal share by an accepted list.
    pub honest_shortchanged: u64,

    /// Proofs that fail an exact check (garbage, copies) that landed, and how many were voided.
    pub bad_proofs: u64,
    pub bad_proofs_voided: u64,
    pub catch_rate_pct: f64,
    /// Correct proofs voided (a captured committee convicted an innocent).
    pub good_proofs_voided: u64,

    /// Audits resolved: against bad proofs (true) and against correct proofs (false).
    pub audits: u64,
    pub true_upheld: u64,
    pub true_refuted: u64,
    pub true_unresolved: u64,
    pub false_accusations: u64,
    pub false_refuted: u64,
    pub false_unresolved: u64,
    pub false_upheld: u64,

    /// Distribution: lists the selected nodes made (and how many were not the fair list),
    /// attempts paid, rejected, not submitted; bad lists paid anyway.
    pub lists_made: u64,
    pub bad_lists_made: u64,
    pub attempts: u64,
    pub payouts: u64,
    pub lists_rejected: u64,
    pub bad_lists_rejected: u64,
    pub honest_lists_rejected: u64,
    pub lists_missing: u64,
    pub bad_lists_paid: u64,

    pub supply_conserved: bool,
    pub replay_matches: Option<bool>,
    /// Honest-property violations (only collected with `assert_honest`).
    pub violations: Vec<String>,
    pub classes: BTreeMap<String, ClassStats>,
    pub wall_ms: u64,
    /// Where the wall time went: node schedulers + tasks, signing, signature checks, ledger,
    /// end-of-run replay (ms).
    pub time_nodes_ms: u64,
    pub time_sign_ms: u64,
    pub time_verify_ms: u64,
    pub time_apply_ms: u64,
    pub time_replay_ms: u64,
}

fn pct(num: u128, den: u128) -> f64 {
    if den == 0 {
        return 100.0;
    }
    num as f64 * 100.0 / den as f64
}

impl Report {
    pub fn new(cfg: &SimConfig) -> Report {
        Report {
            config: Some(cfg.clone()),
            reproduce: format!("cargo run -p gradual-sim --release -- {}", cfg.to_args()),
            ..Report::default()
        }
    }

    /// Derived figures, once the counters are final.
    pub fn finalize(&mut self) {
        self.honest_reward_pct = pct(self.honest_paid_roe, self.honest_fair_roe);
        self.catch_rate_pct = pct(self.bad_proofs_voided.into(), self.bad_proofs.into());
        self.attempts = self.payouts + self.lists_rejected + self.lists_missing;
        let den = u128::from(self.honest_stake_roe) * u128::from(self.rounds_settled.max(1));
        self.honest_slash_pct_per_round = if den == 0 {
            0.0
        } else {
            pct(self.honest_slashed_roe.into(), den)
        };
    }

    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The report as a table for a terminal.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let cfg = self.config.as_ref().expect("report of a run");
        let w = &mut s;
        let _ = writeln!(
            w,
            "run     seed {:#x}  nodes {}  rounds {} (+{} liveness)  K {}  sample {}  mix {}",
            cfg.seed,
            cfg.nodes,
            cfg.rounds,
            cfg.liveness_rounds,
            cfg.committee_size,
            cfg.audit_sample,
            cfg.mix
        );
        let _ = writeln!(
            w,
            "faults  flaky {} bps  loss {} bps  delay {} bps (≤{} slots)",
            cfg.flaky_rate_bps, cfg.loss_bps, cfg.delay_bps, cfg.delay_slots_max
        );
        let _ = writeln!(w, "{:<44} {:>20}", "metric", "value");
        let _ = writeln!(w, "{}", "-".repeat(65));
        let mut row = |k: &str, v: String| {
            let _ = writeln!(w, "{k:<44} {v:>20}");
        };
        row(
            "honest reward / fair share",
            format!("{:.4} %", self.honest_reward_pct),
        );
        row(
            "honest stake wrongly slashed (per round)",
            format!("{:.6} %", self.honest_slash_pct_per_round),
        );
        row("honest slash events", self.honest_slash_events.to_string());
        row(
            "bad proofs voided / landed",
            format!("{} / {}", self.bad_proofs_voided, self.bad_proofs),
        );
        row("catch rate", format!("{:.3} %", self.catch_rate_pct));
        row(
            "audits upheld / refuted / unresolved (bad)",
            format!(
                "{} / {} / {}",
                self.true_upheld, self.true_refuted, self.true_unresolved
            ),
        );
        row("false accusations", self.false_accusations.to_string());
        row(
            "  refuted / unresolved / upheld",
            format!(
                "{} / {} / {}",
                self.false_refuted, self.false_unresolved, self.false_upheld
            ),
        );
        row("correct proofs voided", self.good_proofs_voided.to_string());
        row("distribution attempts", self.attempts.to_string());
        row(
            "  paid / rejected / not submitted",
            format!(
                "{} / {} / {}",
                self.payouts, self.lists_rejected, self.lists_missing
            ),
        );
        row(
            "  bad lists made / rejected / paid",
            format!(
                "{} / {} / {}",
                self.bad_lists_made, self.bad_lists_rejected, self.bad_lists_paid
            ),
        );
        row(
            "  honest lists rejected",
            self.honest_lists_rejected.to_string(),
        );
        row(
            "rounds settled / paid nothing",
            format!("{} / {}", self.rounds_settled, self.rounds_unpaid),
        );
        row(
            "ROE conserved (every block)",
            if self.supply_conserved {
                "ok".into()
            } else {
                "FAILED".into()
            },
        );
        row(
            "replayed root = live root",
            match self.replay_matches {
                Some(true) => "ok".into(),
                Some(false) => "FAILED".into(),
                None => "skipped (large run)".into(),
            },
        );
        row(
            "blocks / txs (lost, delayed)",
            format!(
                "{} / {} ({}, {})",
                self.blocks, self.txs, self.txs_lost, self.txs_delayed
            ),
        );
        row(
            "wall time",
            format!("{:.1} s", self.wall_ms as f64 / 1000.0),
        );
        row(
            "  nodes / sign / verify / ledger / replay",
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} / {:.1} s",
                self.time_nodes_ms as f64 / 1e3,
                self.time_sign_ms as f64 / 1e3,
                self.time_verify_ms as f64 / 1e3,
                self.time_apply_ms as f64 / 1e3,
                self.time_replay_ms as f64 / 1e3
            ),
        );
        let _ = writeln!(w);
        let _ = writeln!(
            w,
            "{:<16} {:>6} {:>14} {:>14} {:>12} {:>10} {:>10}",
            "strategy", "nodes", "net ROE/node", "rewards/node", "slashed", "bad proofs", "voided"
        );
        for (name, c) in &self.classes {
            let n = i128::from(c.nodes.max(1));
            let net = (i128::from(c.final_roe) - i128::from(c.initial_roe)) / n;
            let _ = writeln!(
                w,
                "{:<16} {:>6} {:>14} {:>14} {:>12} {:>10} {:>10}",
                name,
                c.nodes,
                net,
                c.rewards_roe / c.nodes.max(1) as u64,
                c.slashed_roe,
                c.bad_proofs,
                c.bad_voided
            );
        }
        if !self.tx_errors.is_empty() {
            let errs: Vec<String> = self
                .tx_errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(
                w,
                "\nrejected txs: {} (honest signers: {})",
                errs.join(", "),
                self.honest_tx_errors
            );
        }
        let _ = writeln!(w, "\nstate root {}", self.state_root);
        for v in &self.violations {
            let _ = writeln!(w, "VIOLATION: {v}");
        }
        s
    }
}
