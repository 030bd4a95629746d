//! What the simulator learns from the ledger's events (seats, votes, turns, slashes), and
//! the final checks that make the report.

use super::{RoundFact, Sim, MIN_STAKE_ROE, STAKE_ROE};
use crate::config::{Strategy, BPS};
use crate::report::{ClassStats, Report};
use crate::strategy::honest_proof;
use gradual_ledger::block::FailReason;
use gradual_ledger::state::AuditOutcome;
use gradual_ledger::{Ledger, LedgerEvent, Window};
use gradual_types::{Pubkey, Verdict};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

impl Sim {
    fn is_honest(&self, node: &Pubkey) -> bool {
        self.index
            .get(node)
            .is_some_and(|i| self.strategy[*i as usize] == Strategy::Honest)
    }

    pub(super) fn class(&mut self, node: &Pubkey) -> Option<&mut ClassStats> {
        let s = self.strategy[*self.index.get(node)? as usize];
        self.report.classes.get_mut(s.name())
    }

    fn violation(&mut self, what: String) {
        if self.cfg.assert_honest && self.report.violations.len() < 50 {
            self.report.violations.push(what);
        }
    }

    /// Seats of one proof-audit committee, per class, against what each class's share of the
    /// eligible pool (weights at the start of the audit window's round, without the
    /// candidate and the accuser) makes it expect.
    fn count_seats(
        &mut self,
        round: u64,
        candidate: &Pubkey,
        audit: &gradual_ledger::state::AuditRecord,
        correct: bool,
    ) {
        let Some(committee) = audit.committee.as_ref() else {
            return;
        };
        if committee.size == 0 {
            return;
        }
        let minimum = self
            .ledger
            .round_record(&self.task, round)
            .map_or(MIN_STAKE_ROE, |r| r.terms.minimum_stake);
        let pool = self.ledger.eligible_stakers(&self.task, round + 1, minimum);
        // The committee must be exactly what its seed draws from this pool (SPEC §5: anyone
        // holding the stakes reproduces it); a mismatch means the draw used other weights.
        let redraw = gradual_ledger::draw_committee(
            &audit.seed,
            &pool,
            &[*candidate, audit.accuser],
            committee.size,
        );
        if redraw != committee.seats {
            self.report.committees_not_reproduced += 1;
        }
        let mut by_class: BTreeMap<Strategy, u128> = BTreeMap::new();
        let mut total: u128 = 0;
        for (n, w) in &pool {
            if n == candidate || *n == audit.accuser {
                continue;
            }
            let Some(i) = self.index.get(n) else { continue };
            *by_class.entry(self.strategy[*i as usize]).or_default() += u128::from(*w);
            total += u128::from(*w);
        }
        if total == 0 {
            return;
        }
        let k = f64::from(committee.size);
        // An innocent is convicted iff the bloc that votes `Invalid` on every honest proof
        // holds more than K/2 seats: P(X > K/2) at this committee's own pool share.
        if correct {
            let bloc: u128 = by_class
                .iter()
                .filter(|(s, _)| s.votes_invalid_on_honest())
                .map(|(_, w)| *w)
                .sum();
            let p = bloc as f64 / total as f64;
            let kk = u32::from(committee.size);
            self.report.false_upheld_expected += crate::sweep::binom_tail(kk, p, kk / 2 + 1);
            // Dispersion of the bloc's seat count against Binomial(K, p): seats drawn
            // independently give a ratio near 1; correlated seats would fatten the tails.
            let x: u64 = committee
                .seats
                .iter()
                .filter(|(n, _)| {
                    self.strategy_of(n)
                        .is_some_and(Strategy::votes_invalid_on_honest)
                })
                .map(|(_, k)| u64::from(*k))
                .sum();
            let mean = k * p;
            self.report.bloc_seat_sq_dev += (x as f64 - mean).powi(2);
            self.report.bloc_seat_binom_var += mean * (1.0 - p);
        }
        self.report.committees += 1;
        self.report.seats += u64::from(committee.size);
        let grinder_accused = self.strategy_of(&audit.accuser) == Some(Strategy::Grinder);
        for (n, seats) in &committee.seats {
            let s = self.strategy_of(n);
            if let Some(c) = self.class(n) {
                c.seats += u64::from(*seats);
            }
            if grinder_accused && s == Some(Strategy::Grinder) {
                self.report.grind.actual_seats += u64::from(*seats);
            }
        }
        if grinder_accused {
            self.report.grind.committees += 1;
        }
        for (s, w) in by_class {
            let p = w as f64 / total as f64;
            if let Some(c) = self.report.classes.get_mut(s.name()) {
                c.seats_expected += k * p;
                c.seats_var += k * p * (1.0 - p);
            }
            if grinder_accused && s == Strategy::Grinder {
                self.report.grind.expected_seats += k * p;
            }
        }
    }

    /// Seats per strategy and verdict of an audit, for violation messages.
    fn vote_summary(&self, audit: &gradual_ledger::state::AuditRecord) -> String {
        let Some(c) = audit.committee.as_ref() else {
            return "no committee".into();
        };
        let mut by: BTreeMap<(String, String), u32> = BTreeMap::new();
        for (n, v) in &audit.votes {
            let s = self.strategy_of(n).map_or("?", |s| s.name()).to_string();
            *by.entry((s, format!("{v:?}"))).or_default() += u32::from(c.seats_of(n));
        }
        let parts: Vec<String> = by
            .iter()
            .map(|((s, v), k)| format!("{s} {v} {k}"))
            .collect();
        format!(
            "K {}, accuser {}, trigger slot {}, seats voted: {}",
            c.size,
            self.strategy_of(&audit.accuser).map_or("?", |s| s.name()),
            audit.trigger_slot,
            parts.join(", ")
        )
    }

    /// The submitter of a finished distribution attempt took a turn; its committee's seats
    /// per class against each class's share of the pool it was drawn from (stake at the start
    /// of the round of the attempt's audit window, without the submitter).
    fn count_turn(&mut self, round: u64, attempt: u16) {
        let Some(att) = self.ledger.attempt(&self.task, round, attempt).cloned() else {
            return;
        };
        if let Some(c) = self.class(&att.submitter) {
            c.turns += 1;
        }
        let Some(committee) = att.committee.as_ref().filter(|c| c.size > 0) else {
            return;
        };
        let clock = self.clock();
        let weight_round = clock.round(
            clock
                .window(Window::DistributionAudit, round, attempt)
                .opens,
        );
        let minimum = self
            .ledger
            .round_record(&self.task, round)
            .map_or(MIN_STAKE_ROE, |r| r.terms.minimum_stake);
        let pool = self
            .ledger
            .eligible_stakers(&self.task, weight_round, minimum);
        let mut by_class: BTreeMap<Strategy, u128> = BTreeMap::new();
        let mut total: u128 = 0;
        for (n, w) in &pool {
            if *n == att.submitter {
                continue;
            }
            let Some(i) = self.index.get(n) else { continue };
            *by_class.entry(self.strategy[*i as usize]).or_default() += u128::from(*w);
            total += u128::from(*w);
        }
        if total == 0 {
            return;
        }
        self.report.list_seats += u64::from(committee.size);
        for (n, seats) in &committee.seats {
            if let Some(c) = self.class(n) {
                c.list_seats += u64::from(*seats);
            }
        }
        let k = f64::from(committee.size);
        // An honest list is rejected iff the seats that vote `Invalid` on every honest list
        // (bad distributors, colluders) exceed K/2: P(X > K/2) at this pool's share.
        let honest_list = self.lists.get(&(round, attempt)).is_some_and(|f| f.honest);
        if honest_list && att.list.is_some() {
            let bloc: u128 = by_class
                .iter()
                .filter(|(s, _)| matches!(s, Strategy::BadDistributor | Strategy::Colluder))
                .map(|(_, w)| *w)
                .sum();
            let kk = u32::from(committee.size);
            self.report.honest_lists_rejected_expected +=
                crate::sweep::binom_tail(kk, bloc as f64 / total as f64, kk / 2 + 1);
        }
        for (s, w) in by_class {
            if let Some(c) = self.report.classes.get_mut(s.name()) {
                c.list_seats_expected += k * w as f64 / total as f64;
            }
        }
    }

    fn strategy_of(&self, node: &Pubkey) -> Option<Strategy> {
        self.index.get(node).map(|i| self.strategy[*i as usize])
    }

    fn honest_slashed(&mut self, node: &Pubkey, amount: u64, why: &str, round: u64) {
        if amount == 0 {
            return;
        }
        if let Some(c) = self.class(node) {
            c.slashed_roe += amount;
        }
        if self.is_honest(node) {
            self.report.honest_slashed_roe += amount;
            self.report.honest_slash_events += 1;
            self.violation(format!(
                "honest node {node} slashed {amount} ROE ({why}, round {round})"
            ));
        }
    }

    pub(super) fn on_event(&mut self, ev: &LedgerEvent) {
        let task = self.task;

        match ev {
            LedgerEvent::CandidatesRanked {
                round, candidates, ..
            } => {
                if let Some(c) = candidates.first().and_then(|n| self.class(n)) {
                    c.first_ranked += 1;
                }
                let mut f = RoundFact::default();
                let subs = self.ledger.submissions(&task, *round);
                let unvoided = subs.iter().filter(|(_, s)| !s.voided).count() as u64;
                for (node, sub) in &subs {
                    let correct = sub.value == honest_proof(&task, node, *round);
                    let honest = self.is_honest(node);
                    if let Some(c) = self.class(node) {
                        c.proofs_landed += 1;
                        if !correct {
                            c.bad_proofs += 1;
                            if sub.voided {
                                c.bad_voided += 1;
                            }
                        }
                    }
                    if correct {
                        f.correct += 1;
                        if sub.voided {
                            self.report.good_proofs_voided += 1;
                        }
                        if honest {
                            f.honest_correct += 1;
                            if !sub.voided {
                                f.honest_unvoided.push(*node);
                            }
                        }
                    } else {
                        self.report.bad_proofs += 1;
                        if sub.voided {
                            self.report.bad_proofs_voided += 1;
                        }
                    }
                }
                f.honest_fair_roe =
                    f.honest_correct * self.bounty_per_round.checked_div(f.correct).unwrap_or(0);
                f.honest_list_share = self.bounty_per_round.checked_div(unvoided).unwrap_or(0);
                self.facts.insert(*round, f);
            }
            LedgerEvent::AuditResolved {
                round,
                candidate,
                outcome,
                ..
            } => {
                let Some(audit) = self.ledger.audit(&task, *round, candidate).cloned() else {
                    return;
                };
                let correct = self
                    .ledger
                    .submission(&task, *round, candidate)
                    .is_some_and(|s| s.value == honest_proof(&task, candidate, *round));
                self.count_seats(*round, candidate, &audit, correct);
                if let Some(c) = self.class(&audit.accuser) {
                    c.raises += 1;
                }
                let r = &mut self.report;
                r.audits += 1;
                if correct {
                    r.false_accusations += 1;
                    match outcome {
                        AuditOutcome::Refuted { .. } => r.false_refuted += 1,
                        AuditOutcome::Unresolved => r.false_unresolved += 1,
                        AuditOutcome::Upheld { .. } => r.false_upheld += 1,
                    }
                } else {
                    match outcome {
                        AuditOutcome::Upheld { .. } => r.true_upheld += 1,
                        AuditOutcome::Refuted { .. } => r.true_refuted += 1,
                        AuditOutcome::Unresolved => r.true_unresolved += 1,
                    }
                }
                match outcome {
                    AuditOutcome::Upheld { slashed, .. } => {
                        let why = format!("audit upheld: {}", self.vote_summary(&audit));
                        self.honest_slashed(candidate, *slashed, &why, *round)
                    }
                    AuditOutcome::Refuted { slashed, .. } => {
                        self.honest_slashed(&audit.accuser, *slashed, "accusation refuted", *round)
                    }
                    AuditOutcome::Unresolved => {}
                }
            }
            LedgerEvent::PayoutSuccessful { round, attempt, .. } => {
                self.count_turn(*round, *attempt);
                let list = self.ledger.distribution_list(&task, *round, *attempt);
                let fact = self.lists.get(&(*round, *attempt)).cloned();
                self.report.payouts += 1;
                let honest_list = fact.as_ref().is_none_or(|f| f.honest);
                if !honest_list {
                    self.report.bad_lists_paid += 1;
                }
                let mut paid: HashMap<Pubkey, u64> = HashMap::with_capacity(list.len());
                let mut honest_paid = 0;
                for (node, reward) in &list {
                    paid.insert(*node, *reward);
                    if self.is_honest(node) {
                        honest_paid += reward;
                    }
                    if let Some(c) = self.class(node) {
                        c.rewards_roe += reward;
                    }
                }
                let mut shortchanged = 0u64;
                if let Some(f) = self.facts.get_mut(round) {
                    f.honest_paid_roe = honest_paid;
                    f.settled = Some(true);
                    shortchanged = f
                        .honest_unvoided
                        .iter()
                        .filter(|n| paid.get(*n).copied().unwrap_or(0) < f.honest_list_share)
                        .count() as u64;
                }
                if shortchanged > 0 {
                    self.report.honest_shortchanged += shortchanged;
                    self.violation(format!("round {round} attempt {attempt}: {shortchanged} honest nodes paid less than an equal share"));
                }
            }
            LedgerEvent::PayoutFailed {
                round,
                attempt,
                reason,
                slashed,
                ..
            } => {
                self.count_turn(*round, *attempt);
                let fact = self.lists.get(&(*round, *attempt)).cloned();
                let submitter = self
                    .ledger
                    .attempt(&task, *round, *attempt)
                    .map(|a| a.submitter);
                match reason {
                    FailReason::Rejected => {
                        self.report.lists_rejected += 1;
                        match &fact {
                            Some(f) if !f.honest => self.report.bad_lists_rejected += 1,
                            _ => self.report.honest_lists_rejected += 1,
                        }
                    }
                    FailReason::NotSubmitted => {
                        self.report.lists_missing += 1;
                        if let Some(c) = submitter.and_then(|n| self.class(&n)) {
                            c.missed_turns += 1;
                            c.missed_slashed_roe += *slashed;
                        }
                    }
                    FailReason::NoCommittee => self.report.lists_no_committee += 1,
                }
                if let Some(n) = submitter {
                    self.honest_slashed(&n, *slashed, "missed list turn", *round);
                }
            }
            LedgerEvent::RejectionSlashed {
                round,
                submitter,
                slashed,
                ..
            } => {
                self.honest_slashed(submitter, *slashed, "list rejected", *round);
            }
            LedgerEvent::Vindicated {
                round,
                attempt,
                voters_slashed,
                ..
            } => {
                self.report.vindications += 1;
                self.report.vindicated_slashed_roe += *voters_slashed;
                // The `Invalid` voters of the vindicated attempt were each slashed
                // `false_accusation_bps` of their stake: attribute it (from what is left).
                let bps = self
                    .ledger
                    .round_record(&task, *round)
                    .map_or(0, |r| u64::from(r.terms.false_accusation_bps));
                let voters: Vec<Pubkey> = self
                    .ledger
                    .attempt(&task, *round, *attempt)
                    .map(|a| {
                        a.votes
                            .iter()
                            .filter(|(_, v)| *v == Verdict::Invalid)
                            .map(|(n, _)| *n)
                            .collect()
                    })
                    .unwrap_or_default();
                for n in voters {
                    let left = self.ledger.stake(&task, &n).map_or(0, |s| s.amount);
                    let cut = (u128::from(left) * u128::from(bps)
                        / u128::from(BPS.saturating_sub(bps).max(1)))
                        as u64;
                    self.honest_slashed(&n, cut, "voted against a vindicated list", *round);
                }
            }
            LedgerEvent::RoundSettledUnpaid { round, task } => {
                // Did an honest node get a turn to send the list? Then the round should
                // have paid: only a run of bad candidates may leave it unpaid (SPEC §6).
                let attempts = self
                    .ledger
                    .round_record(task, *round)
                    .map_or(0, |r| r.current_attempt.saturating_add(1));
                let honest_turn = (0..attempts).any(|i| {
                    self.ledger
                        .attempt(task, *round, i)
                        .is_some_and(|a| self.is_honest(&a.submitter))
                });
                if let Some(f) = self.facts.get_mut(round) {
                    f.settled = Some(false);
                    f.unpaid_after_honest_turn = honest_turn;
                }
            }
            LedgerEvent::RoundPruned { .. } => {}
        }
    }

    /// Final checks and the report.
    pub fn finish(mut self) -> Report {
        self.ledger.assert_supply_conserved();
        self.report.supply_conserved = true;
        let held = self.ledger.total_held_roe();
        let minted: u128 = self
            .ledger
            .genesis()
            .accounts
            .iter()
            .map(|(_, b)| u128::from(*b))
            .sum();
        // No fees and no faucet in the simulation: what is gone was burned (the remainder of
        // slashes, SPEC §5 [v2]); the ledger's own `burned_roe` accounting was checked above.
        assert!(held <= minted, "ROE appeared from nowhere");
        self.report.burned_roe = (minted - held) as u64;
        let replay_started = Instant::now();
        if self.cfg.replay_enabled() {
            let mut fresh = Ledger::new(self.ledger.genesis().clone());
            fresh.paranoid = false;
            for b in &self.blocks {
                if let Err(e) = fresh.replay_block(b.clone(), None, self.cfg.threads) {
                    panic!("replay diverged at slot {}: {e}", b.header.slot);
                }
            }
            assert_eq!(
                fresh.state_root(),
                self.ledger.state_root(),
                "replayed root differs from the live root"
            );
            self.report.replay_matches = Some(true);
        }
        self.report.time_replay_ms = replay_started.elapsed().as_millis() as u64;
        // Accumulated in microseconds while running.
        for t in [
            &mut self.report.time_nodes_ms,
            &mut self.report.time_sign_ms,
            &mut self.report.time_verify_ms,
            &mut self.report.time_apply_ms,
        ] {
            *t /= 1_000;
        }
        // Rounds of the safety phase, and which settled.
        let settle_by = u64::from(self.cfg.allowed_failed_distributions) + 1;
        let check_settled = self.cfg.liveness_rounds >= settle_by;
        let facts: Vec<(u64, RoundFact)> = self
            .facts
            .iter()
            .filter(|(r, _)| (1..=self.cfg.rounds).contains(*r))
            .map(|(r, f)| (*r, f.clone()))
            .collect();
        // Rounds whose work period started before the manager struck (1..=m, round 0 has
        // no stake yet): each must be paid under its own terms (SPEC §2 *Round terms*).
        if let Some(m) = self.manager_round {
            for r in 1..=m.min(self.cfg.rounds) {
                self.report.rounds_before_update += 1;
                let paid = self.facts.get(&r).is_some_and(|f| f.settled == Some(true));
                if paid {
                    self.report.rounds_before_update_paid += 1;
                } else {
                    self.violation(format!(
                        "round {r} started before the manager's update (round {m}) but was not paid"
                    ));
                }
            }
        }
        for (r, f) in facts {
            match f.settled {
                Some(paid) => {
                    self.report.rounds_settled += 1;
                    if !paid {
                        self.report.rounds_unpaid += 1;
                        if f.unpaid_after_honest_turn {
                            self.report.rounds_unpaid_after_honest_turn += 1;
                        }
                    }
                    self.report.honest_fair_roe += u128::from(f.honest_fair_roe);
                    if paid {
                        self.report.honest_fair_roe_paid_rounds += u128::from(f.honest_fair_roe);
                    }
                    self.report.honest_paid_roe += u128::from(f.honest_paid_roe);
                }
                None if check_settled => self.violation(format!("round {r} never settled")),
                None => {}
            }
        }
        // Net ROE per class: balance + stake + pending rewards, minus what it started with.
        for (i, pk) in self.pubkeys.iter().enumerate() {
            let held = self.ledger.balance(pk)
                + self.ledger.stake(&self.task, pk).map_or(0, |s| s.amount)
                + self.ledger.pending_reward(&self.task, pk);
            let staked = self.ledger.stake(&self.task, pk).map_or(0, |s| s.amount);
            let c = self
                .report
                .classes
                .get_mut(self.strategy[i].name())
                .expect("class");
            c.final_roe += held;
            c.max_stake_roe = c.max_stake_roe.max(staked);
            c.suspect_rounds += self.cores[i].stats().suspect_rounds;
        }
        let honest_nodes = self
            .report
            .classes
            .get(Strategy::Honest.name())
            .map_or(0, |c| c.nodes);
        self.report.honest_stake_roe = u64::from(honest_nodes) * STAKE_ROE;
        self.report.state_root = self.ledger.state_root().to_string();
        self.report.final_slot = self.ledger.slot();
        self.report.wall_ms = self.started.elapsed().as_millis() as u64;
        self.report.lists_made = self.lists.len() as u64;
        self.report.bad_lists_made = self.lists.values().filter(|f| !f.honest).count() as u64;
        self.report.finalize();
        self.report
    }
}
