//! SPEC §2: per-round data older than `allowed_failed_distributions + 3` rounds may be
//! pruned. The ledger prunes a settled round `r` at `start(r + allowed_failed_distributions
//! + 4)` (docs/protocol.md §9): never earlier, and queries return nothing afterwards.

use super::*;
use crate::block::LedgerEvent;
use crate::query::TaskQuery;

/// Round 1 with submissions, an audit, a paid list; returns the net and the prune slot.
fn paid_round(afd: u16) -> (Net, Slot) {
    let p = TaskParams {
        allowed_failed_distributions: afd,
        ..params()
    };
    let mut n = Net::with(4, p, STAKE);
    n.submit_all(1, &[1, 2, 3, 4]);
    let ix = n.audit_ix(1, 1, Verdict::Invalid);
    assert_eq!(n.run_at(24, 2, ix), Ok(()));
    let list = n.fair_list(1);
    n.distribute(1, 0, &list);
    n.c.run_to(37);
    assert!(n
        .c
        .ledger
        .round_record(&n.task, 1)
        .unwrap()
        .status
        .is_settled());
    (n, start(1 + u64::from(afd) + 4))
}

fn round_data_present(n: &Net, round: u64) -> bool {
    let (l, t) = (&n.c.ledger, &n.task);
    let parts = [
        l.round_record(t, round).is_some(),
        l.round_view(t, round).is_some(),
        l.distribution_candidates(t, round).is_some(),
        !l.submissions(t, round).is_empty(),
        l.submission(t, round, &n.pk(1)).is_some(),
        l.audit(t, round, &n.pk(1)).is_some(),
        !l.audits(t, round).is_empty(),
        l.attempt(t, round, 0).is_some(),
        !l.distribution_list(t, round, 0).is_empty(),
    ];
    assert!(
        parts.iter().all(|p| *p) || parts.iter().all(|p| !*p),
        "round {round} partly pruned: {parts:?}"
    );
    parts[0]
}

fn pruned_on_time(afd: u16) {
    let (mut n, at) = paid_round(afd);
    let task = n.task;
    n.c.run_to(at - 1);
    assert!(round_data_present(&n, 1), "kept until slot {}", at - 1);
    let out = n.block(at, vec![]);
    assert_eq!(
        out.events,
        vec![LedgerEvent::RoundPruned { task, round: 1 }]
    );
    assert!(!round_data_present(&n, 1));
    let view = n.c.ledger.task_view(&task, TaskQuery::ALL).unwrap();
    assert_eq!(view.rounds, Some(vec![]));
    // Pending rewards are never pruned.
    assert_eq!(n.reward_of(3), 250);
    n.finish();
}

#[test]
fn pruned_after_allowed_failed_distributions_plus_three_rounds_default() {
    pruned_on_time(3);
}

#[test]
fn pruned_after_allowed_failed_distributions_plus_three_rounds_none_allowed() {
    pruned_on_time(0);
}

#[test]
fn failed_rounds_are_pruned_by_the_same_rule() {
    let p = TaskParams {
        allowed_failed_distributions: 1,
        ..params()
    };
    let mut n = Net::with(3, p, STAKE);
    let task = n.task;
    n.submit_all(1, &[1, 2, 3]);
    // Nobody distributes: attempts 0 and 1 fail, the round settles at 47.
    n.c.run_to(47);
    assert!(n
        .c
        .ledger
        .round_record(&task, 1)
        .unwrap()
        .status
        .is_settled());
    let at = start(1 + 1 + 4);
    n.c.run_to(at - 1);
    assert!(n.c.ledger.round_record(&task, 1).is_some());
    assert!(n.c.ledger.attempt(&task, 1, 1).is_some());
    let out = n.block(at, vec![]);
    assert_eq!(
        out.events,
        vec![LedgerEvent::RoundPruned { task, round: 1 }]
    );
    assert_eq!(n.c.ledger.round_record(&task, 1), None);
    assert_eq!(n.c.ledger.attempt(&task, 1, 0), None);
    assert_eq!(n.c.ledger.attempt(&task, 1, 1), None);
    assert!(n.c.ledger.submissions(&task, 1).is_empty());
    // Distribution instructions for a pruned round say so.
    let ix = n.chunk_ix(1, 0, 0, vec![(n.pk(1), 1)]);
    assert_eq!(
        n.run(1, ix),
        Err(TxError::NotDistributing {
            round: 1,
            status: crate::error::RoundState::Unknown
        })
    );
    n.finish();
}

#[test]
fn a_jump_closes_windows_before_bulk_work_then_runs_bulk_in_slot_order() {
    // With allowed_failed_distributions = 0, round 1 fails at 37 and is pruned at
    // start(5) = 51; round 3's only attempt closes at start(5) + 6 = 57. A block at 60 does
    // both: the window close first (`Lane::Window` leads `Lane::Bulk` within a task, so a
    // long prune or payout never holds back a deadline), then the bulk work in due order:
    // round 1's prune (due 51) before round 3's settlement (due 57).
    let p = TaskParams {
        allowed_failed_distributions: 0,
        ..params()
    };
    let mut n = Net::with(2, p, STAKE);
    let task = n.task;
    n.submit_all(1, &[1, 2]);
    n.submit_all(3, &[1, 2]);
    n.c.run_to(50);
    assert!(n.c.ledger.round_record(&task, 1).is_some());
    // SPEC §6 [v2]: round 3's selected node misses its turn and loses 1 % of its stake
    // (round 1's may have lost 1 % already).
    let selected_3 = n.c.ledger.distribution_candidates(&task, 3).unwrap()[0];
    let missed_3 = n.c.ledger.stake(&task, &selected_3).unwrap().amount / 100;
    let out = n.c.block_at(60, vec![]);
    assert_eq!(
        out.events,
        vec![
            LedgerEvent::PayoutFailed {
                task,
                round: 3,
                attempt: 0,
                reason: crate::block::FailReason::NotSubmitted,
                slashed: missed_3
            },
            LedgerEvent::RoundPruned { task, round: 1 },
            LedgerEvent::RoundSettledUnpaid { task, round: 3 },
        ]
    );
    n.finish();
}
