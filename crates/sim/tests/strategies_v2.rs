//! The strategies of issue #8 (protocol v2) at a size CI affords: grinding committees, raising
//! late, flooding raises, blocking lists, a manager that changes the task mid-round, and the
//! auto-restake operator policy. Heavy runs are programs (`docs/bench/run-security-v2.sh`).

use gradual_sim::{run, Mix, Report, SimConfig, Strategy};

fn cfg(seed: u64, mix: &str) -> SimConfig {
    SimConfig {
        seed,
        nodes: 40,
        rounds: 10,
        liveness_rounds: 6,
        mix: Mix::parse(mix).unwrap(),
        assert_honest: true,
        ..SimConfig::default()
    }
}

fn class(r: &Report, s: Strategy) -> &gradual_sim::ClassStats {
    &r.classes[s.name()]
}

fn assert_honest_safe(r: &Report) {
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    assert_eq!(r.honest_slashed_roe, 0, "honest stake slashed");
    assert_eq!(r.good_proofs_voided, 0);
    assert!(r.supply_conserved);
}

/// z for a two-sided 99.9 % interval of a normal approximation.
const Z_999: f64 = 3.291;

#[test]
fn grinders_win_seats_in_proportion_to_stake_not_to_tries() {
    let r = run(cfg(0x8a, "grinder=25"));
    assert_honest_safe(&r);
    let g = &r.grind;
    // Every variant of a raise predicts the same committee: the seed takes no tx bytes.
    assert!(g.candidates >= 100, "{} candidates evaluated", g.candidates);
    assert_eq!(g.tries, g.candidates * 16, "16 variants per candidate");
    assert_eq!(
        g.distinct, g.candidates,
        "one distinct committee per candidate"
    );
    // It raised where its prediction looked good, and the prediction promised more seats
    // than its stake share ...
    assert!(g.raises_chosen > 0 && g.committees > 0);
    let promised = g.predicted_seats as f64 / g.raises_chosen as f64;
    let expected = g.expected_seats / g.committees as f64;
    assert!(
        promised > expected,
        "promised {promised:.2} vs {expected:.2}"
    );
    // ... but the seats it won follow its stake: within the binomial 99.9 % bound of the
    // stake share, over every proof-audit committee of the run.
    let c = class(&r, Strategy::Grinder);
    assert!(r.committees >= 200, "{} committees", r.committees);
    let sd = c.seats_var.sqrt();
    assert!(
        (c.seats as f64 - c.seats_expected).abs() <= Z_999 * sd,
        "grinder seats {} vs expected {:.1} ± {:.1} (99.9 %: ±{:.1})",
        c.seats,
        c.seats_expected,
        sd,
        Z_999 * sd
    );
    // Every committee is what its seed draws from the eligible stakes (a client reproduces
    // it), and the bloc's seat count per committee spreads like a binomial, not wider.
    assert_eq!(r.committees_not_reproduced, 0);
    let dispersion = r.bloc_seat_sq_dev / r.bloc_seat_binom_var;
    assert!(
        (0.6..1.5).contains(&dispersion),
        "bloc seat variance {dispersion:.3} × binomial"
    );
    // And on the committees of its own raises too.
    let k = f64::from(r.config.as_ref().unwrap().committee_size);
    let p = expected / k;
    let sd_own = (g.committees as f64 * k * p * (1.0 - p)).sqrt();
    assert!(
        (g.actual_seats as f64 - g.expected_seats).abs() <= Z_999 * sd_own,
        "own raises: {} seats vs {:.1} ± {:.1}",
        g.actual_seats,
        g.expected_seats,
        sd_own
    );
}

#[test]
fn late_raises_are_refused_and_late_accusations_still_refuted() {
    let r = run(cfg(0x8b, "late-accuser=25"));
    assert_honest_safe(&r);
    let c = class(&r, Strategy::LateAccuser);
    assert!(c.raises > 0, "the late accuser raised at the cutoff");
    assert!(c.raises_refused_late > 0, "raises after the cutoff refused");
    // Raised at the last allowed slot, the committee still had V slots: no escape.
    assert_eq!(r.false_upheld, 0);
    assert_eq!(
        r.false_unresolved, 0,
        "a late accusation escaped refutation"
    );
    assert_eq!(r.false_refuted, r.false_accusations);
    assert!(class(&r, Strategy::LateAccuser).slashed_roe > 0);
}

#[test]
fn a_raise_flood_is_capped_at_audit_sample_per_round() {
    let c = cfg(0x8c, "raise-flood=25");
    let sample = u64::from(c.audit_sample);
    let rounds = c.rounds + c.liveness_rounds;
    let r = run(c);
    assert_honest_safe(&r);
    let f = class(&r, Strategy::RaiseFlood);
    assert!(f.raises_refused_too_many > 0, "extra raises refused");
    assert!(
        f.raises <= u64::from(f.nodes) * sample * rounds,
        "{} raises by {} nodes",
        f.raises,
        f.nodes
    );
    assert_eq!(r.false_upheld, 0);
}

#[test]
fn list_blockers_pay_for_each_missed_turn_and_rounds_still_pay() {
    let r = run(cfg(0x8d, "list-blocker=33"));
    assert_honest_safe(&r);
    let b = class(&r, Strategy::ListBlocker);
    assert!(b.missed_turns > 0, "no blocker won a turn");
    assert!(b.missed_slashed_roe > 0);
    assert_eq!(b.missed_turns, r.lists_missing);
    assert_eq!(r.rounds_settled, 10);
    assert!(r.honest_reward_pct >= 99.0, "{:.3} %", r.honest_reward_pct);
}

#[test]
fn bad_distributors_vote_invalid_on_honest_lists_and_restake() {
    let r = run(cfg(0x8e, "bad-distributor=33"));
    assert!(r.violations.is_empty(), "{:#?}", r.violations);
    assert_eq!(r.bad_lists_paid, 0);
    // Rejections of honest lists can happen (a committee the bloc won), but are vindicated.
    assert!(r.vindications >= r.honest_lists_rejected.saturating_sub(1));
}

#[test]
fn without_auto_restake_a_slashed_adversary_stops_submitting() {
    let on = run(SimConfig {
        nodes: 24,
        rounds: 8,
        assert_honest: false,
        ..cfg(0x8f, "garbage=25")
    });
    let off = run(SimConfig {
        nodes: 24,
        rounds: 8,
        assert_honest: false,
        adversary_restake: false,
        ..cfg(0x8f, "garbage=25")
    });
    let (a, b) = (
        class(&on, Strategy::Garbage).bad_proofs,
        class(&off, Strategy::Garbage).bad_proofs,
    );
    assert!(b < a, "garbage proofs with restake {a}, without {b}");
    // Each garbage node is slashed below the minimum once, then never stakes again.
    assert!(b <= u64::from(class(&off, Strategy::Garbage).nodes) * 2);
}

/// The manager updates the task (bounty 0, a minimum stake nobody holds) and deactivates it
/// mid-round: every round that had started must still be paid under its own terms, and no
/// node's auto-stake spends its balance chasing the new minimum (it keeps `stake_roe`, never
/// more).
#[test]
fn a_manager_update_mid_round_does_not_touch_started_rounds() {
    let r = run(cfg(0x90, "manager-updater=25"));
    assert_eq!(r.manager_txs_ok, 2, "update and deactivation landed");
    assert!(r.manager_round.is_some());
    assert_eq!(r.rounds_before_update_paid, r.rounds_before_update);
    assert_honest_safe(&r);
    assert_eq!(
        r.honest_shortchanged, 0,
        "a list paid an honest node less than its share"
    );
    let honest = class(&r, Strategy::Honest);
    assert_eq!(
        honest.max_stake_roe,
        gradual_sim::STAKE_ROE,
        "auto-stake went past stake_roe"
    );
}
