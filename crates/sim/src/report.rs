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
    /// Seats won on proof-audit committees, and what the class's share of each committee's
    /// eligible pool (stake at the round's start) makes it expect: mean and variance of the
    /// seat count (a sum of binomials).
    pub seats: u64,
    pub seats_expected: f64,
    pub seats_var: f64,
    /// Seats won on distribution-list committees, and expected from the pool share.
    pub list_seats: u64,
    pub list_seats_expected: f64,
    /// Audits this class raised that were resolved (it was the accuser).
    pub raises: u64,
    /// Raises the ledger refused: after the raise cutoff, and beyond `audit_sample` a round.
    pub raises_refused_late: u64,
    pub raises_refused_too_many: u64,
    /// Distribution: rounds in which it was ranked first, attempts it had, turns it missed
    /// (and the ROE slashed for them).
    pub first_ranked: u64,
    pub turns: u64,
    pub missed_turns: u64,
    pub missed_slashed_roe: u64,
    /// Largest stake a node of the class holds at the end of the run.
    pub max_stake_roe: u64,
    /// Rounds in which a node of the class found its own task's verdicts suspect (the audit
    /// guard: it raised nothing and abstained).
    pub suspect_rounds: u64,
}

impl ClassStats {
    /// Seats won in percent of all seats, and the stake share that predicts it.
    pub fn seat_share_pct(&self, seats_total: u64) -> (f64, f64) {
        if seats_total == 0 {
            return (0.0, 0.0);
        }
        let t = seats_total as f64;
        (
            self.seats as f64 * 100.0 / t,
            self.seats_expected * 100.0 / t,
        )
    }

    /// How far the seats won are from the expectation, in standard deviations.
    pub fn seat_z(&self) -> f64 {
        if self.seats_var <= 0.0 {
            return 0.0;
        }
        (self.seats as f64 - self.seats_expected) / self.seats_var.sqrt()
    }
}

/// What `grinder` nodes tried and won (SPEC §5 [v2]: committee seeds come from VRF
/// randomness of the block that holds the raise, which no sender knows or can vary).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GrindStats {
    /// Candidates a grinder evaluated, raise variants tried over them, and distinct
    /// predicted committees (one per candidate means the variants changed nothing).
    pub candidates: u64,
    pub tries: u64,
    pub distinct: u64,
    /// Candidates it raised on because the predicted committee favoured grinders, and the
    /// grinder seats those predictions promised.
    pub raises_chosen: u64,
    pub predicted_seats: u64,
    /// Committees of audits grinders raised: grinder seats won, and expected from stake.
    pub committees: u64,
    pub actual_seats: u64,
    pub expected_seats: f64,
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
    /// Unpaid rounds in which an honest node had a turn to send the list (the others ran out
    /// of attempts on bad candidates alone).
    pub rounds_unpaid_after_honest_turn: u64,
    /// What honest nodes would have received had every cheater been caught and every round
    /// paid (equal share among correct proofs), and what paid lists gave them.
    pub honest_fair_roe: u128,
    pub honest_paid_roe: u128,
    /// `honest_fair_roe` of the rounds that paid a list.
    pub honest_fair_roe_paid_rounds: u128,
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
    /// Convictions of innocents the binomial tail predicts: `Σ P(X > K/2)` over the audits on
    /// correct proofs, each at its committee's own pool share of the `Invalid`-voting bloc.
    pub false_upheld_expected: f64,
    /// On those committees: Σ (bloc seats − K·p)² and Σ K·p·(1 − p); their ratio is the
    /// dispersion of the bloc's seat count against a binomial (≈ 1 when seats are independent).
    pub bloc_seat_sq_dev: f64,
    pub bloc_seat_binom_var: f64,

    /// Distribution: lists the selected nodes made (and how many were not the fair list),
    /// attempts paid, rejected, not submitted; bad lists paid anyway.
    pub lists_made: u64,
    pub bad_lists_made: u64,
    pub attempts: u64,
    pub payouts: u64,
    pub lists_rejected: u64,
    pub bad_lists_rejected: u64,
    pub honest_lists_rejected: u64,
    /// Rejections of honest lists the binomial tail predicts: `Σ P(X > K/2)` over honest
    /// lists' committees at each pool's share of bad distributors and colluders.
    pub honest_lists_rejected_expected: f64,
    pub lists_missing: u64,
    /// Attempts whose committee could not be drawn in time (neither paid nor slashed).
    pub lists_no_committee: u64,
    pub bad_lists_paid: u64,
    /// Rejections later proved false (SPEC §6 [v2] vindication) and what their `Invalid`
    /// voters lost.
    pub vindications: u64,
    pub vindicated_slashed_roe: u64,

    /// Proof-audit committees with seats, and the seats drawn.
    pub committees: u64,
    pub seats: u64,
    /// Proof-audit committees a client could not reproduce from the seed and the eligible
    /// stakes at the round's start (should be 0).
    pub committees_not_reproduced: u64,
    /// Seats drawn on distribution-list committees.
    pub list_seats: u64,
    pub grind: GrindStats,
    /// `manager-updater`: round in whose middle the manager updated and deactivated the task,
    /// its transactions that landed, and the rounds up to it (started under the old terms)
    /// that settled, and how many of those paid.
    pub manager_round: Option<u64>,
    pub manager_txs_ok: u64,
    pub rounds_before_update: u64,
    pub rounds_before_update_paid: u64,

    pub supply_conserved: bool,
    /// ROE burned (slash remainders; no fees in the simulation).
    pub burned_roe: u64,
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

/// Counts side by side as the report prints them: `a / b / c`.
fn counts<T: std::fmt::Display>(values: &[T]) -> String {
    let shown: Vec<String> = values.iter().map(T::to_string).collect();
    shown.join(" / ")
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
        self.attempts =
            self.payouts + self.lists_rejected + self.lists_missing + self.lists_no_committee;
        let den = u128::from(self.honest_stake_roe) * u128::from(self.rounds_settled.max(1));
        self.honest_slash_pct_per_round = if den == 0 {
            0.0
        } else {
            pct(self.honest_slashed_roe.into(), den)
        };
    }

    /// `(won, expected)` summed over every class but honest.
    fn adversary_sum(&self, of: impl Fn(&ClassStats) -> (u64, f64)) -> (u64, f64) {
        self.classes
            .iter()
            .filter(|(n, _)| n.as_str() != "honest")
            .fold((0, 0.0), |a, (_, c)| {
                let (won, exp) = of(c);
                (a.0 + won, a.1 + exp)
            })
    }

    /// Seats won by all adversary classes in percent of all proof-audit seats, and their
    /// share of the pools those seats were drawn from.
    pub fn adversary_seats(&self) -> (f64, f64) {
        let (won, exp) = self.adversary_sum(|c| (c.seats, c.seats_expected));
        if self.seats == 0 {
            return (0.0, 0.0);
        }
        (
            won as f64 * 100.0 / self.seats as f64,
            exp * 100.0 / self.seats as f64,
        )
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
            counts(&[self.bad_proofs_voided, self.bad_proofs]),
        );
        row("catch rate", format!("{:.3} %", self.catch_rate_pct));
        row(
            "audits upheld / refuted / unresolved (bad)",
            counts(&[self.true_upheld, self.true_refuted, self.true_unresolved]),
        );
        row("false accusations", self.false_accusations.to_string());
        row(
            "  refuted / unresolved / upheld",
            counts(&[self.false_refuted, self.false_unresolved, self.false_upheld]),
        );
        row(
            "  upheld predicted by Σ P(X > K/2)",
            format!("{:.3}", self.false_upheld_expected),
        );
        if self.bloc_seat_binom_var > 0.0 {
            row(
                "  bloc seats: variance / binomial variance",
                format!("{:.3}", self.bloc_seat_sq_dev / self.bloc_seat_binom_var),
            );
        }
        row("correct proofs voided", self.good_proofs_voided.to_string());
        row("distribution attempts", self.attempts.to_string());
        row(
            "  paid / rejected / not submitted",
            counts(&[self.payouts, self.lists_rejected, self.lists_missing]),
        );
        row(
            "  bad lists made / rejected / paid",
            counts(&[
                self.bad_lists_made,
                self.bad_lists_rejected,
                self.bad_lists_paid,
            ]),
        );
        row(
            "  honest lists rejected / vindicated",
            counts(&[self.honest_lists_rejected, self.vindications]),
        );
        row(
            "  honest rejections predicted by Σ P(X > K/2)",
            format!("{:.3}", self.honest_lists_rejected_expected),
        );
        row(
            "  no committee in time",
            self.lists_no_committee.to_string(),
        );
        let adv = self.adversary_seats();
        row(
            "adversary seats: won / stake share",
            format!("{:.3} % / {:.3} %", adv.0, adv.1),
        );
        let (won, exp) = self.adversary_sum(|c| (c.list_seats, c.list_seats_expected));
        let t = self.list_seats.max(1) as f64;
        row(
            "adversary list seats: won / stake share",
            format!("{:.3} % / {:.3} %", won as f64 * 100.0 / t, exp * 100.0 / t),
        );
        row(
            "committees not reproducible from seed",
            self.committees_not_reproduced.to_string(),
        );
        let refused = self.classes.values().fold((0, 0), |a, c| {
            (a.0 + c.raises_refused_late, a.1 + c.raises_refused_too_many)
        });
        row(
            "raises refused: too late / too many",
            counts(&[refused.0, refused.1]),
        );
        let missed = self.classes.values().fold((0, 0), |a, c| {
            (a.0 + c.missed_turns, a.1 + c.missed_slashed_roe)
        });
        row(
            "missed list turns (ROE slashed)",
            format!("{} ({})", missed.0, missed.1),
        );
        if self.grind.candidates > 0 {
            let g = &self.grind;
            row(
                "grinder: candidates / tries / distinct",
                counts(&[g.candidates, g.tries, g.distinct]),
            );
            row(
                "grinder raises: predicted / won / expected",
                format!(
                    "{:.2} / {:.2} / {:.2} seats",
                    g.predicted_seats as f64 / g.raises_chosen.max(1) as f64,
                    g.actual_seats as f64 / g.committees.max(1) as f64,
                    g.expected_seats / g.committees.max(1) as f64
                ),
            );
        }
        if let Some(m) = self.manager_round {
            row(
                "manager struck in round / txs landed",
                format!("{m} / {}", self.manager_txs_ok),
            );
            row(
                "rounds started before: paid / settled",
                counts(&[self.rounds_before_update_paid, self.rounds_before_update]),
            );
        }
        row(
            "rounds settled / paid nothing",
            counts(&[self.rounds_settled, self.rounds_unpaid]),
        );
        row(
            "unpaid although an honest node had a turn",
            self.rounds_unpaid_after_honest_turn.to_string(),
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
            "{:<16} {:>6} {:>14} {:>14} {:>14} {:>10} {:>10} {:>8} {:>8} {:>6} {:>8} {:>7} {:>6} {:>6} {:>7}",
            "strategy",
            "nodes",
            "net ROE/node",
            "rewards/node",
            "slashed",
            "bad proofs",
            "voided",
            "seats %",
            "stake %",
            "z",
            "raises",
            "refused",
            "first",
            "turns",
            "missed"
        );
        for (name, c) in &self.classes {
            let n = i128::from(c.nodes.max(1));
            let net = (i128::from(c.final_roe) - i128::from(c.initial_roe)) / n;
            let (won, exp) = c.seat_share_pct(self.seats);
            let _ = writeln!(
                w,
                "{:<16} {:>6} {:>14} {:>14} {:>14} {:>10} {:>10} {:>8.3} {:>8.3} {:>6.2} {:>8} {:>7} {:>6} {:>6} {:>7}",
                name,
                c.nodes,
                net,
                c.rewards_roe / c.nodes.max(1) as u64,
                c.slashed_roe,
                c.bad_proofs,
                c.bad_voided,
                won,
                exp,
                c.seat_z(),
                c.raises,
                c.raises_refused_late + c.raises_refused_too_many,
                c.first_ranked,
                c.turns,
                c.missed_turns
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
