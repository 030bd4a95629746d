//! Sweep mode: a grid of adversary share × committee size, one run per point, in parallel
//! jobs. Each point has its own seed (derived from the sweep seed and the point's index), so
//! a point reproduces alone.

use crate::config::{Mix, SimConfig, Strategy, BPS};
use crate::{splitmix, Sim};
use serde::Serialize;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Clone)]
pub struct SweepSpec {
    pub strategy: Strategy,
    /// Adversary shares in percent.
    pub shares: Vec<f64>,
    pub committees: Vec<u16>,
    pub nodes: u32,
    pub rounds: u64,
    pub audit_sample: u16,
    pub seed: u64,
    pub jobs: usize,
}

/// One grid point.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub strategy: String,
    pub share_pct: f64,
    pub committee: u16,
    pub nodes: u32,
    pub rounds: u64,
    pub seed: String,
    pub honest_reward_pct: f64,
    pub honest_loss_pct: f64,
    pub honest_slash_pct_per_round: f64,
    pub honest_slash_events: u64,
    pub bad_proofs: u64,
    pub bad_voided: u64,
    pub catch_rate_pct: f64,
    /// Audits against bad proofs that were not upheld, measured and by the binomial tail
    /// `P(adversary seats ≥ K/2)` at the initial share.
    pub audit_escape_pct: f64,
    pub binom_escape_pct: f64,
    /// Bad proofs no honest sampler looked at, by `(1 − s/(N−1))^H`.
    pub unsampled_pct: f64,
    /// Catch rate predicted from the two: `(1 − unsampled)(1 − escape)`.
    pub predicted_catch_pct: f64,
    /// Innocents convicted, measured (per audit against a correct proof) and `P(X > K/2)`.
    pub false_accusations: u64,
    pub false_upheld: u64,
    pub binom_capture_pct: f64,
    pub bad_lists_paid: u64,
    pub honest_lists_rejected: u64,
    pub vindications: u64,
    /// Adversary seats on proof-audit committees in percent of all seats, and their share of
    /// the pools drawn from (stake at the round's start, after slashes and top-ups).
    pub adv_seat_pct: f64,
    pub adv_pool_pct: f64,
    pub raises_refused_late: u64,
    pub raises_refused_too_many: u64,
    pub missed_turns: u64,
    pub rounds_unpaid: u64,
    pub rounds_settled: u64,
    pub wall_ms: u64,
}

/// `P(X ≥ m)` for `X ~ Binomial(k, p)`.
pub fn binom_tail(k: u32, p: f64, m: u32) -> f64 {
    if m == 0 {
        return 1.0;
    }
    if m > k {
        return 0.0;
    }
    let q = 1.0 - p;
    // pmf(0) = q^k; pmf(i+1) = pmf(i) · (k−i)/(i+1) · p/q. Sum in log space when q is tiny.
    if q <= 0.0 {
        return 1.0;
    }
    let mut ln_pmf = f64::from(k) * q.ln();
    let mut sum = 0.0;
    for i in 0..=k {
        if i >= m {
            sum += ln_pmf.exp();
        }
        if i < k {
            ln_pmf += (f64::from(k - i) / f64::from(i + 1)).ln() + p.ln() - q.ln();
        }
    }
    sum.min(1.0)
}

fn config(spec: &SweepSpec, share_pct: f64, committee: u16, seed: u64) -> SimConfig {
    let bps = (share_pct * 100.0).round() as u64;
    let mut mix = Mix::default();
    if bps > 0 {
        mix.0.insert(spec.strategy, bps.min(BPS));
    }
    SimConfig {
        seed,
        nodes: spec.nodes,
        rounds: spec.rounds,
        mix,
        committee_size: committee,
        audit_sample: spec.audit_sample,
        threads: 1,
        replay: Some(false),
        ..SimConfig::default()
    }
}

/// Run the grid. Points run on `jobs` threads; results come back in grid order.
pub fn run(spec: &SweepSpec) -> anyhow::Result<Vec<Row>> {
    let mut points = Vec::new();
    for &c in &spec.committees {
        for &s in &spec.shares {
            let seed = splitmix(spec.seed ^ ((points.len() as u64) << 32));
            let cfg = config(spec, s, c, seed);
            cfg.validate()?;
            points.push((s, c, cfg));
        }
    }
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<Row>>> = Mutex::new(vec![None; points.len()]);
    std::thread::scope(|scope| {
        for _ in 0..spec.jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((share, committee, cfg)) = points.get(i) else {
                    break;
                };
                let r = Sim::new(cfg.clone()).run();
                let row = row_of(spec, *share, *committee, cfg, &r);
                eprintln!(
                    "sweep {}/{}: share {share} % K {committee}: honest {:.3} %, catch {:.2} %",
                    i + 1,
                    points.len(),
                    row.honest_reward_pct,
                    row.catch_rate_pct
                );
                rows.lock().expect("no poisoned lock")[i] = Some(row);
            });
        }
    });
    Ok(rows
        .into_inner()
        .expect("no poisoned lock")
        .into_iter()
        .map(|r| r.expect("every point ran"))
        .collect())
}

fn row_of(spec: &SweepSpec, share: f64, committee: u16, cfg: &SimConfig, r: &crate::Report) -> Row {
    let p = share / 100.0;
    let k = u32::from(committee);
    let escape = binom_tail(k, p, k.div_ceil(2));
    let capture = binom_tail(k, p, k / 2 + 1);
    let n = f64::from(spec.nodes);
    let honest = (n * (1.0 - p)).round();
    let unsampled = if n > 1.0 {
        (1.0 - f64::from(spec.audit_sample) / (n - 1.0))
            .max(0.0)
            .powf(honest)
    } else {
        1.0
    };
    let true_audits = r.true_upheld + r.true_refuted + r.true_unresolved;
    Row {
        strategy: spec.strategy.name().into(),
        share_pct: share,
        committee,
        nodes: spec.nodes,
        rounds: spec.rounds,
        seed: format!("{:#x}", cfg.seed),
        honest_reward_pct: r.honest_reward_pct,
        honest_loss_pct: (100.0 - r.honest_reward_pct).max(0.0),
        honest_slash_pct_per_round: r.honest_slash_pct_per_round,
        honest_slash_events: r.honest_slash_events,
        bad_proofs: r.bad_proofs,
        bad_voided: r.bad_proofs_voided,
        catch_rate_pct: r.catch_rate_pct,
        audit_escape_pct: if true_audits == 0 {
            0.0
        } else {
            (r.true_refuted + r.true_unresolved) as f64 * 100.0 / true_audits as f64
        },
        binom_escape_pct: escape * 100.0,
        unsampled_pct: unsampled * 100.0,
        predicted_catch_pct: (1.0 - unsampled) * (1.0 - escape) * 100.0,
        false_accusations: r.false_accusations,
        false_upheld: r.false_upheld,
        binom_capture_pct: capture * 100.0,
        bad_lists_paid: r.bad_lists_paid,
        honest_lists_rejected: r.honest_lists_rejected,
        vindications: r.vindications,
        adv_seat_pct: r.adversary_seats().0,
        adv_pool_pct: r.adversary_seats().1,
        raises_refused_late: r.classes.values().map(|c| c.raises_refused_late).sum(),
        raises_refused_too_many: r.classes.values().map(|c| c.raises_refused_too_many).sum(),
        missed_turns: r.classes.values().map(|c| c.missed_turns).sum(),
        rounds_unpaid: r.rounds_unpaid,
        rounds_settled: r.rounds_settled,
        wall_ms: r.wall_ms,
    }
}

/// The CSV columns: each header next to how a row prints under it, so the two cannot drift.
type Column = (&'static str, fn(&Row) -> String);
const CSV_COLUMNS: &[Column] = &[
    ("strategy", |r| r.strategy.clone()),
    ("share_pct", |r| r.share_pct.to_string()),
    ("committee", |r| r.committee.to_string()),
    ("nodes", |r| r.nodes.to_string()),
    ("rounds", |r| r.rounds.to_string()),
    ("seed", |r| r.seed.clone()),
    ("honest_reward_pct", |r| {
        format!("{:.4}", r.honest_reward_pct)
    }),
    ("honest_loss_pct", |r| format!("{:.4}", r.honest_loss_pct)),
    ("honest_slash_pct_per_round", |r| {
        format!("{:.6}", r.honest_slash_pct_per_round)
    }),
    ("honest_slash_events", |r| r.honest_slash_events.to_string()),
    ("bad_proofs", |r| r.bad_proofs.to_string()),
    ("bad_voided", |r| r.bad_voided.to_string()),
    ("catch_rate_pct", |r| format!("{:.3}", r.catch_rate_pct)),
    ("audit_escape_pct", |r| format!("{:.3}", r.audit_escape_pct)),
    ("binom_escape_pct", |r| format!("{:.4}", r.binom_escape_pct)),
    ("unsampled_pct", |r| format!("{:.4}", r.unsampled_pct)),
    ("predicted_catch_pct", |r| {
        format!("{:.3}", r.predicted_catch_pct)
    }),
    ("false_accusations", |r| r.false_accusations.to_string()),
    ("false_upheld", |r| r.false_upheld.to_string()),
    ("binom_capture_pct", |r| {
        format!("{:.6}", r.binom_capture_pct)
    }),
    ("bad_lists_paid", |r| r.bad_lists_paid.to_string()),
    ("honest_lists_rejected", |r| {
        r.honest_lists_rejected.to_string()
    }),
    ("vindications", |r| r.vindications.to_string()),
    ("adv_seat_pct", |r| format!("{:.3}", r.adv_seat_pct)),
    ("adv_pool_pct", |r| format!("{:.3}", r.adv_pool_pct)),
    ("raises_refused_late", |r| r.raises_refused_late.to_string()),
    ("raises_refused_too_many", |r| {
        r.raises_refused_too_many.to_string()
    }),
    ("missed_turns", |r| r.missed_turns.to_string()),
    ("rounds_unpaid", |r| r.rounds_unpaid.to_string()),
    ("rounds_settled", |r| r.rounds_settled.to_string()),
    ("wall_ms", |r| r.wall_ms.to_string()),
];

pub fn csv(rows: &[Row]) -> String {
    let line = |cell: &dyn Fn(&Column) -> String| {
        let cells: Vec<String> = CSV_COLUMNS.iter().map(cell).collect();
        cells.join(",") + "\n"
    };
    let mut s = line(&|(name, _)| name.to_string());
    for r in rows {
        s += &line(&|(_, value)| value(r));
    }
    s
}

pub fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>6} {:>4} {:>10} {:>9} {:>11} {:>8} {:>9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "adv %",
        "K",
        "honest %",
        "catch %",
        "pred catch%",
        "escape%",
        "binom esc",
        "slash %/r",
        "innocent",
        "bad pd",
        "unpaid",
        "hon rej",
        "vindic",
        "seats %",
        "pool %"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:>6} {:>4} {:>10.4} {:>9.2} {:>11.2} {:>8.2} {:>9.3} {:>9.5} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8.3} {:>7.3}",
            r.share_pct,
            r.committee,
            r.honest_reward_pct,
            r.catch_rate_pct,
            r.predicted_catch_pct,
            r.audit_escape_pct,
            r.binom_escape_pct,
            r.honest_slash_pct_per_round,
            r.false_upheld,
            r.bad_lists_paid,
            r.rounds_unpaid,
            r.honest_lists_rejected,
            r.vindications,
            r.adv_seat_pct,
            r.adv_pool_pct
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_known_values() {
        assert!((binom_tail(1, 0.3, 1) - 0.3).abs() < 1e-12);
        assert!((binom_tail(2, 0.5, 1) - 0.75).abs() < 1e-12);
        // P(X ≥ 4 | 8, 0.25) = 0.113815...
        assert!((binom_tail(8, 0.25, 4) - 0.113_815_307).abs() < 1e-6);
        assert_eq!(binom_tail(8, 0.0, 1), 0.0);
        assert_eq!(binom_tail(8, 0.3, 0), 1.0);
    }
}
