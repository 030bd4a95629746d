use super::*;
use crate::view::RoundSnap;
use gradual_ledger::state::{
    AttemptRecord, AuditRecord, RoundRecord, RoundTerms, SubmissionRecord, SubmittedList,
    UploadProgress,
};
use gradual_ledger::Clock;
use gradual_node_proto::TaskInfo;
use gradual_types::{Hash, TaskParams};
use std::collections::BTreeMap;

fn key(i: u8) -> Pubkey {
    Pubkey([i; 32])
}

const ME: Pubkey = Pubkey([1; 32]);

fn snap() -> TaskSnap {
    let params = TaskParams {
        round_time: 10,
        submission_window: 3,
        audit_window: 3,
        ..TaskParams::default()
    };
    TaskSnap {
        info: TaskInfo {
            clock: Clock::new(0, &params),
            params,
            is_active: true,
            closed: false,
            available_bounty: 0,
            terms_log: Vec::new(),
        },
        dto_slot: 0,
        current_round: 0,
        stakes: BTreeMap::new(),
        rewards: BTreeMap::new(),
        rounds: BTreeMap::new(),
        pending_params: None,
        lists: BTreeMap::new(),
    }
}

fn record(status: RoundStatus) -> Option<RoundRecord> {
    Some(RoundRecord {
        status,
        terms: RoundTerms::of(&TaskParams::default(), true),
        submitters: 1,
        seed: None,
        candidates: Vec::new(),
        current_attempt: 0,
    })
}

fn proof(voided: bool) -> SubmissionRecord {
    SubmissionRecord {
        value: vec![1],
        slot: 1,
        voided,
    }
}

fn audit(accuser: Pubkey, outcome: Option<AuditOutcome>) -> AuditRecord {
    AuditRecord {
        accuser,
        trigger_slot: 1,
        seed: Hash([0; 32]),
        committee: None,
        votes: vec![(key(9), Verdict::Invalid)],
        outcome,
    }
}

fn attempt(submitter: Pubkey, outcome: Option<AttemptOutcome>) -> AttemptRecord {
    AttemptRecord {
        submitter,
        upload: UploadProgress::default(),
        list: Some(SubmittedList {
            digest: Hash([0; 32]),
            count: 1,
            chunks: 1,
            total_roe: 5,
            slot: 1,
            seed: Hash([0; 32]),
        }),
        committee: None,
        votes: Vec::new(),
        outcome,
    }
}

fn lines(evs: &[RoundEvent]) -> Vec<String> {
    evs.iter().map(RoundEvent::line).collect()
}

#[test]
fn each_event_is_reported_once_and_the_past_not_at_all() {
    let mut t = Tracker::default();
    let mut s = snap();
    // The past, seen at start: totals only, no lines.
    s.rounds.insert(
        1,
        RoundSnap {
            record: record(RoundStatus::Paid {
                attempt: 0,
                total_roe: 5,
            }),
            submissions: [(ME, proof(false))].into(),
            ..RoundSnap::default()
        },
    );
    assert!(t.observe(&ME, &s, 5).is_empty());
    assert_eq!(t.last_proof_round, Some(1));
    assert_eq!(
        t.unpaid_rounds, 0,
        "an unknown past pay is not counted as none"
    );
    // Round 2: proof, a raise, a vote, a list.
    s.rounds.insert(
        2,
        RoundSnap {
            record: record(RoundStatus::Distributing),
            submissions: [(ME, proof(false))].into(),
            audits: [
                (key(3), audit(ME, None)),
                (
                    key(4),
                    AuditRecord {
                        votes: vec![(ME, Verdict::Valid)],
                        ..audit(key(5), None)
                    },
                ),
            ]
            .into(),
            attempts: [(0, attempt(ME, None))].into(),
        },
    );
    let got = lines(&t.observe(&ME, &s, 5));
    assert_eq!(
        got,
        vec![
            "proof submitted for round 2".to_string(),
            format!("audit raised against {}'s proof of round 2", key(3)),
            format!("audit voted valid on {}'s proof of round 2", key(4)),
            "distribution list submitted for round 2 (attempt 0)".to_string(),
        ]
    );
    assert!(t.observe(&ME, &s, 5).is_empty(), "nothing twice");
    // Paid: only once the list is known; then the node's share.
    s.rounds.get_mut(&2).unwrap().record = record(RoundStatus::Paid {
        attempt: 0,
        total_roe: 5,
    });
    assert_eq!(t.lists_needed(&ME, &s), vec![(2, 0)]);
    assert!(t.observe(&ME, &s, 5).is_empty());
    s.lists
        .insert((2, 0), vec![(ME, 1_500_000_000), (key(7), 1)]);
    assert!(t.lists_needed(&ME, &s).is_empty());
    assert_eq!(
        lines(&t.observe(&ME, &s, 5)),
        vec!["paid 1.5 KOII for round 2".to_string()]
    );
    assert_eq!(t.last_paid, Some((2, 1_500_000_000)));
    assert!(t.observe(&ME, &s, 5).is_empty());
}

#[test]
fn slashes_say_why_and_are_counted() {
    let mut t = Tracker::default();
    let mut s = snap();
    assert!(t.observe(&ME, &s, 5).is_empty());
    let upheld = AuditOutcome::Upheld {
        slashed: 100,
        accuser_reward: 10,
        voter_rewards: 5,
    };
    s.rounds.insert(
        3,
        RoundSnap {
            record: record(RoundStatus::Failed),
            submissions: [(ME, proof(true))].into(),
            audits: [
                (ME, audit(key(8), Some(upheld.clone()))),
                (
                    key(6),
                    audit(
                        ME,
                        Some(AuditOutcome::Refuted {
                            slashed: 7,
                            voter_rewards: 1,
                        }),
                    ),
                ),
            ]
            .into(),
            attempts: [(
                0,
                attempt(ME, Some(AttemptOutcome::FailedNotSubmitted { slashed: 3 })),
            )]
            .into(),
        },
    );
    let evs = t.observe(&ME, &s, 5);
    let slashes: Vec<&RoundEvent> = evs.iter().filter(|e| e.is_warning()).collect();
    assert_eq!(slashes.len(), 3, "{evs:?}");
    let all = lines(&evs).join("\n");
    for want in [
        format!("slashed 0.0000001 KOII in round 3: its proof was judged invalid: the audit raised by {} was upheld", key(8)),
        format!("slashed 0.000000007 KOII in round 3: false accusation: its audit of {}'s proof was refuted", key(6)),
        "slashed 0.000000003 KOII in round 3: it was selected to submit the distribution list (attempt 0) and submitted none".to_string(),
    ] {
        assert!(all.contains(&want), "missing {want:?} in:\n{all}");
    }
    assert_eq!((t.slashes, t.slashed_roe), (3, 110));
    assert!(t.last_slash.is_some());
    // A voided proof in a settled round earned nothing.
    assert_eq!(t.unpaid_rounds, 1);
}

#[test]
fn unpaid_rounds_only_warn_every_n() {
    let mut t = Tracker::default();
    let mut s = snap();
    assert!(t.observe(&ME, &s, 3).is_empty());
    let mut warned = Vec::new();
    for r in 1..=7 {
        s.rounds.insert(
            r,
            RoundSnap {
                record: record(RoundStatus::NoCandidates),
                submissions: [(ME, proof(false))].into(),
                ..RoundSnap::default()
            },
        );
        for e in t.observe(&ME, &s, 3) {
            if let RoundEvent::Unpaid { rounds, .. } = e {
                warned.push(rounds);
            }
        }
    }
    assert_eq!(warned, vec![3, 6]);
    // A paid round ends the run.
    s.rounds.insert(
        8,
        RoundSnap {
            record: record(RoundStatus::Paid {
                attempt: 1,
                total_roe: 1,
            }),
            submissions: [(ME, proof(false))].into(),
            ..RoundSnap::default()
        },
    );
    s.lists.insert((8, 1), vec![(ME, 1)]);
    let evs = t.observe(&ME, &s, 3);
    assert_eq!(
        evs,
        vec![
            RoundEvent::ProofSubmitted { round: 8 },
            RoundEvent::Paid {
                round: 8,
                amount: 1
            }
        ]
    );
    assert_eq!(t.unpaid_rounds, 0);
    // Rounds without a proof of this node are not its unpaid rounds.
    s.rounds.insert(
        9,
        RoundSnap {
            record: record(RoundStatus::NoCandidates),
            ..RoundSnap::default()
        },
    );
    assert!(t.observe(&ME, &s, 3).is_empty());
    assert_eq!(t.unpaid_rounds, 0);
}

/// A list paid without audit (its committee drew no seats) is a warning to every node with a
/// proof in the round, once; an audited one is not.
#[test]
fn a_list_paid_without_audit_is_a_warning() {
    use gradual_ledger::state::Committee;
    let mut t = Tracker::default();
    let mut s = snap();
    assert!(t.observe(&ME, &s, 5).is_empty());
    let committee = |size: u16| Committee {
        seed: Hash([0; 32]),
        size,
        seats: Vec::new(),
    };
    for (round, size) in [(2, 0), (3, 4)] {
        s.rounds.insert(
            round,
            RoundSnap {
                record: record(RoundStatus::Distributing),
                submissions: [(ME, proof(false))].into(),
                attempts: [(
                    0,
                    AttemptRecord {
                        committee: Some(committee(size)),
                        ..attempt(
                            key(2),
                            Some(AttemptOutcome::PayoutSuccessful { total_roe: 5 }),
                        )
                    },
                )]
                .into(),
                ..RoundSnap::default()
            },
        );
    }
    let evs = t.observe(&ME, &s, 5);
    let warned: Vec<_> = evs
        .iter()
        .filter(|e| matches!(e, RoundEvent::UnauditedList { .. }))
        .collect();
    assert_eq!(warned.len(), 1, "{evs:?}");
    assert!(warned[0].is_warning());
    assert!(warned[0].line().starts_with(
        "round 2 was paid by distribution list attempt 0, which no committee audited"
    ));
    assert!(t.observe(&ME, &s, 5).is_empty(), "once");
}
