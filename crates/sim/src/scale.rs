//! Scale benchmark: one task with 10,000 and 100,000 nodes through full rounds — proofs,
//! sampled audits, triggered audits with committees, a distribution list with one entry per
//! node uploaded in chunks, its committee audit, and the payout — timed per round and per
//! phase, with ledger state size and peak memory. Build with `--release`.

use crate::config::{Mix, SimConfig};
use crate::{cpu_ms, peak_rss_kib, reset_peak_rss, rss_kib, Sim};
use gradual_ledger::LedgerEvent;
use serde::Serialize;
use std::fmt::Write as _;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct ScaleSpec {
    pub nodes: Vec<u32>,
    pub rounds: u64,
    pub mix: Mix,
    pub committee: u16,
    pub threads: usize,
    pub seed: u64,
}

/// One round of time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundTiming {
    pub round: u64,
    pub wall_ms: u64,
    /// CPU time of the process (all threads) during the round; with other load on the
    /// machine, wall time exceeds what the work needs.
    pub cpu_ms: u64,
    /// By component: node schedulers + tasks, signing, signature checks, ledger.
    pub nodes_ms: u64,
    pub sign_ms: u64,
    pub verify_ms: u64,
    pub apply_ms: u64,
    /// By window: submission window, audit window, rest of the round (work period).
    pub submission_window_ms: u64,
    pub audit_window_ms: u64,
    pub rest_ms: u64,
    /// Ledger time of the block that paid a list (0 if none this round).
    pub payout_block_ms: u64,
    pub txs: u64,
    pub proofs_landed: u64,
    pub audits_resolved: u64,
    pub payout_entries: u64,
    /// Bytes of records the round's blocks wrote (key + value), and the whole state after it.
    pub write_bytes: u64,
    pub state_bytes: u64,
    pub state_records: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleRun {
    pub nodes: u32,
    pub setup_ms: u64,
    pub rounds: Vec<RoundTiming>,
    /// Mean over rounds that carry every phase (round ≥ 3).
    pub steady_round_ms: u64,
    pub steady_round_max_ms: u64,
    pub peak_rss_kib: Option<u64>,
    pub baseline_rss_kib: Option<u64>,
    pub state_root: String,
    pub catch_rate_pct: f64,
    pub honest_reward_pct: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleOut {
    pub runs: Vec<ScaleRun>,
    pub peak_reset_supported: bool,
}

pub fn config(spec: &ScaleSpec, nodes: u32) -> SimConfig {
    let mix = spec.mix.clone();
    SimConfig {
        seed: spec.seed,
        nodes,
        rounds: spec.rounds,
        liveness_rounds: 0,
        mix,
        committee_size: spec.committee,
        audit_sample: 5,
        // Settlement runs under a per-block budget (SPEC §1 [v2] *Bounded settlement*): a
        // 100,000-node round's verdicts, payout and pruning take some 60 blocks, so the
        // round must be longer than that or its work piles up from round to round.
        round_time: 80,
        submission_window: 10,
        audit_window: 20,
        flaky_rate_bps: 0,
        threads: spec.threads,
        replay: Some(false),
        check_supply_every_block: false,
        timing: true,
        ..SimConfig::default()
    }
}

pub fn run(spec: &ScaleSpec) -> anyhow::Result<ScaleOut> {
    let mut runs = Vec::new();
    let mut reset_ok = true;
    for &n in &spec.nodes {
        let cfg = config(spec, n);
        cfg.validate()?;
        reset_ok &= reset_peak_rss();
        let baseline = rss_kib();
        let mut peak = peak_rss_kib();
        let t = Instant::now();
        let mut sim = Sim::new(cfg);
        let setup_ms = t.elapsed().as_millis() as u64;
        eprintln!("scale {n}: setup {setup_ms} ms");
        let clock = sim.clock();
        let end = clock.start(spec.rounds + 2);
        let mut rounds: Vec<RoundTiming> = Vec::new();
        while sim.ledger.slot() < end {
            let at = sim.ledger.slot() + 1;
            let round = clock.round(at);
            let t = Instant::now();
            let cpu0 = cpu_ms().unwrap_or(0);
            sim.step();
            let wall = t.elapsed().as_millis() as u64;
            let cpu = cpu_ms().unwrap_or(0).saturating_sub(cpu0);
            let st = *sim.slot_stats.last().expect("timing on");
            if rounds.last().is_none_or(|r| r.round != round) {
                rounds.push(RoundTiming {
                    round,
                    ..RoundTiming::default()
                });
            }
            let rt = rounds.last_mut().expect("pushed");
            rt.wall_ms += wall;
            rt.cpu_ms += cpu;
            rt.nodes_ms += st.nodes_ns / 1_000_000;
            rt.sign_ms += st.sign_ns / 1_000_000;
            rt.verify_ms += st.verify_ns / 1_000_000;
            rt.apply_ms += st.apply_ns / 1_000_000;
            rt.txs += st.txs;
            rt.write_bytes += st.write_bytes;
            let off = at - clock.start(round);
            if off < clock.submission_window {
                rt.submission_window_ms += wall;
            } else if off < clock.submission_window + clock.audit_window {
                rt.audit_window_ms += wall;
            } else {
                rt.rest_ms += wall;
            }
            for ev in &sim.last_events {
                match ev {
                    LedgerEvent::PayoutSuccessful { entries, .. } => {
                        rt.payout_entries += u64::from(*entries);
                        rt.payout_block_ms += st.apply_ns / 1_000_000;
                    }
                    LedgerEvent::AuditResolved { .. } => rt.audits_resolved += 1,
                    LedgerEvent::CandidatesRanked { round, .. } => {
                        rt.proofs_landed += sim
                            .ledger
                            .round_record(&sim.task, *round)
                            .map_or(0, |r| r.submitters);
                    }
                    _ => {}
                }
            }
            // Round ends: measure the state (its temporary copy must not count as the peak).
            if at + 1 == clock.start(round + 1) || at == end {
                peak = peak.max(peak_rss_kib());
                let recs = sim.ledger.records();
                rt.state_records = recs.len() as u64;
                rt.state_bytes = recs
                    .iter()
                    .map(|w| (w.key.len() + w.value.as_ref().map_or(0, Vec::len)) as u64)
                    .sum();
                drop(recs);
                sim.ledger.assert_supply_conserved();
                reset_ok &= reset_peak_rss();
                eprintln!(
                    "scale {n}: round {round}: {} ms ({} txs)",
                    rt.wall_ms, rt.txs
                );
            }
        }
        peak = peak.max(peak_rss_kib());
        let steady: Vec<&RoundTiming> = rounds
            .iter()
            .filter(|r| r.round >= 3 && r.payout_entries > 0)
            .collect();
        let steady_round_ms = if steady.is_empty() {
            0
        } else {
            steady.iter().map(|r| r.wall_ms).sum::<u64>() / steady.len() as u64
        };
        let steady_round_max_ms = steady.iter().map(|r| r.wall_ms).max().unwrap_or(0);
        let report = sim.finish();
        runs.push(ScaleRun {
            nodes: n,
            setup_ms,
            rounds,
            steady_round_ms,
            steady_round_max_ms,
            peak_rss_kib: peak,
            baseline_rss_kib: baseline,
            state_root: report.state_root.clone(),
            catch_rate_pct: report.catch_rate_pct,
            honest_reward_pct: report.honest_reward_pct,
        });
    }
    Ok(ScaleOut {
        runs,
        peak_reset_supported: reset_ok,
    })
}

pub fn table(out: &ScaleOut) -> String {
    let mut s = String::new();
    for r in &out.runs {
        let _ = writeln!(
            s,
            "== {} nodes: setup (keys, genesis, task) {:.1} s; peak RSS {} MiB (baseline {} MiB)",
            r.nodes,
            r.setup_ms as f64 / 1e3,
            r.peak_rss_kib.unwrap_or(0) / 1024,
            r.baseline_rss_kib.unwrap_or(0) / 1024
        );
        let _ = writeln!(
            s,
            "{:>5} {:>8} {:>7} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8} {:>8} {:>8} | {:>7} {:>7} {:>6} {:>7} {:>9} {:>9}",
            "round", "wall s", "cpu s", "nodes s", "sign s", "verify s", "ledger s", "SW s", "AW s", "rest s", "payout s", "txs", "proofs", "audits", "paid", "writes MB", "state MB"
        );
        for t in &r.rounds {
            let _ = writeln!(
                s,
                "{:>5} {:>8.2} {:>7.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} | {:>8.2} {:>8.2} {:>8.2} {:>8.2} | {:>7} {:>7} {:>6} {:>7} {:>9.1} {:>9.1}",
                t.round,
                t.wall_ms as f64 / 1e3,
                t.cpu_ms as f64 / 1e3,
                t.nodes_ms as f64 / 1e3,
                t.sign_ms as f64 / 1e3,
                t.verify_ms as f64 / 1e3,
                t.apply_ms as f64 / 1e3,
                t.submission_window_ms as f64 / 1e3,
                t.audit_window_ms as f64 / 1e3,
                t.rest_ms as f64 / 1e3,
                t.payout_block_ms as f64 / 1e3,
                t.txs,
                t.proofs_landed,
                t.audits_resolved,
                t.payout_entries,
                t.write_bytes as f64 / 1_048_576.0,
                t.state_bytes as f64 / 1_048_576.0
            );
        }
        let _ = writeln!(s, "steady-state round (all phases): mean {:.2} s, max {:.2} s; catch rate {:.2} %; honest reward {:.3} %; root {}\n", r.steady_round_ms as f64 / 1e3, r.steady_round_max_ms as f64 / 1e3, r.catch_rate_pct, r.honest_reward_pct, r.state_root);
    }
    if out.runs.len() >= 2 {
        let (a, b) = (&out.runs[0], &out.runs[out.runs.len() - 1]);
        let ratio = |x: u64, y: u64| {
            if x == 0 {
                f64::NAN
            } else {
                y as f64 / x as f64
            }
        };
        let mem = |r: &ScaleRun| {
            r.peak_rss_kib
                .unwrap_or(0)
                .saturating_sub(r.baseline_rss_kib.unwrap_or(0))
        };
        let st = |r: &ScaleRun| r.rounds.last().map_or(0, |t| t.state_bytes);
        let _ = writeln!(
            s,
            "growth {} → {} nodes (×{:.0}): round time ×{:.2}, peak memory above baseline ×{:.2}, state bytes ×{:.2}, setup ×{:.2}",
            a.nodes,
            b.nodes,
            f64::from(b.nodes) / f64::from(a.nodes),
            ratio(a.steady_round_ms, b.steady_round_ms),
            ratio(mem(a), mem(b)),
            ratio(st(a), st(b)),
            ratio(a.setup_ms, b.setup_ms)
        );
    }
    if !out.peak_reset_supported {
        let _ = writeln!(s, "note: /proc/self/clear_refs not writable; peaks include the state-size measurement and earlier runs");
    }
    s
}
