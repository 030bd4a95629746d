//! SPEC §5: raising an audit, the committee, votes, verdicts at the K/2 boundary, slashing
//! and the split of slashed ROE.

use super::*;
use crate::block::LedgerEvent;
use crate::committee::{audit_seed, draw_committee};
use crate::error::RoundState;
use crate::state::{AuditOutcome, AuditRecord, Committee, RoundStatus};

fn audit_proofs(n: &Net, round: u64, votes: &[(usize, Verdict)]) -> Instruction {
    Instruction::AuditProofs {
        task: n.task,
        round,
        votes: votes.iter().map(|(c, v)| (n.pk(*c), *v)).collect(),
    }
}

fn outcome(n: &Net, round: u64, candidate: usize) -> Option<AuditOutcome> {
    n.c.ledger
        .audit(&n.task, round, &n.pk(candidate))
        .and_then(|a| a.outcome.clone())
}

#[test]
fn raising_an_audit_and_who_may_vote() {
    let mut n = Net::new(6);
    let task = n.task;
    // Key 7 ends up below the minimum; key 8 has no stake. SPEC §7 [v2]: a first stake must
    // reach the minimum, so key 7 stakes exactly the minimum and the manager raises the
    // minimum from round 1 on.
    let stake7 = |amount| Instruction::Stake {
        task,
        amount,
        url: String::new(),
        owner: None,
    };
    assert_eq!(
        n.run(7, stake7(MIN_STAKE - 50)),
        Err(TxError::StakeBelowMinimum {
            stake: MIN_STAKE - 50,
            minimum: MIN_STAKE
        })
    );
    assert_eq!(n.run(7, stake7(MIN_STAKE)), Ok(()));
    let raised = TaskParams {
        minimum_stake: MIN_STAKE + 50,
        ..params()
    };
    assert_eq!(
        n.run(
            0,
            Instruction::UpdateTask {
                task,
                params: raised
            }
        ),
        Ok(())
    );
    n.submit_all(1, &[1, 2, 3, 4, 5]);
    let txs = vec![
        n.tx(1, n.audit_ix(1, 1, Verdict::Invalid)),
        n.tx(1, n.audit_ix(1, 6, Verdict::Invalid)),
        n.tx(1, n.audit_ix(1, 2, Verdict::Valid)),
        n.tx(1, n.audit_ix(1, 2, Verdict::Abstain)),
        n.tx(8, n.audit_ix(1, 2, Verdict::Invalid)),
        n.tx(7, n.audit_ix(1, 2, Verdict::Invalid)),
        // The first Invalid vote raises the audit; node 1 is the accuser.
        n.tx(1, n.audit_ix(1, 2, Verdict::Invalid)),
        // Votes in the trigger block: the committee does not exist yet. (An Invalid one
        // would be a raise that lost the race, kept as a vote: a_duplicate_raise_counts_as_a_vote.)
        n.tx(3, n.audit_ix(1, 2, Verdict::Valid)),
        n.tx(4, n.audit_ix(1, 2, Verdict::Valid)),
    ];
    let out = n.block(24, txs);
    let not_drawn = Err(TxError::CommitteeNotDrawn { opens: 25 });
    assert_eq!(
        results(&out),
        vec![
            Err(TxError::SelfAudit),
            Err(TxError::NoSubmission {
                candidate: n.pk(6),
                round: 1
            }),
            Err(TxError::NoAuditRaised { candidate: n.pk(2) }),
            Err(TxError::NoAuditRaised { candidate: n.pk(2) }),
            Err(TxError::NotStaked { node: n.pk(8) }),
            Err(TxError::StakeBelowMinimum {
                stake: MIN_STAKE,
                minimum: MIN_STAKE + 50
            }),
            Ok(()),
            not_drawn.clone(),
            not_drawn,
        ]
    );
    // SPEC §5 [v2]: the seed comes from the randomness of the block holding the trigger.
    let trigger_randomness = n.c.ledger.head_randomness();
    let seed = audit_seed(&trigger_randomness, &task, 1, &n.pk(2));
    assert_eq!(
        n.c.ledger.audit(&task, 1, &n.pk(2)),
        Some(&AuditRecord {
            accuser: n.pk(1),
            trigger_slot: 24,
            seed,
            committee: None,
            votes: vec![],
            outcome: None,
        })
    );
    assert_eq!(n.c.ledger.audits(&task, 1).len(), 1);

    // Block 25 draws the committee: K seats, stake-weighted, from the eligible stakers
    // (stake ≥ minimum, not unstaking) without the candidate and the accuser, seeded by the
    // trigger block's randomness, weighted by stakes at the start of round 2 (the round of
    // the audit window). Any client reproduces it.
    n.c.next(vec![]);
    let committee = n.audit_committee(1, 2);
    let eligible = n.c.ledger.eligible_stakers(&task, 2, MIN_STAKE + 50);
    assert_eq!(
        eligible
            .iter()
            .map(|(p, _)| n.idx(p))
            .collect::<std::collections::BTreeSet<usize>>(),
        (1..=6).collect::<std::collections::BTreeSet<usize>>(),
        "key 7 is below the minimum"
    );
    assert_eq!(
        committee,
        Committee {
            seed,
            size: 8,
            seats: draw_committee(&seed, &eligible, &[n.pk(2), n.pk(1)], 8),
        }
    );
    assert_eq!(committee.seats_of(&n.pk(1)), 0);
    assert_eq!(committee.seats_of(&n.pk(2)), 0);
    assert_eq!(
        committee
            .seats
            .iter()
            .map(|(_, s)| u32::from(*s))
            .sum::<u32>(),
        8
    );
    assert!(
        committee.seats.windows(2).all(|w| w[0].0 < w[1].0),
        "sorted by node"
    );

    let holder = n.idx(&committee.seats[0].0);
    let txs = vec![
        n.tx(1, n.audit_ix(1, 2, Verdict::Invalid)),
        n.tx(2, n.audit_ix(1, 2, Verdict::Valid)),
        n.tx(7, n.audit_ix(1, 2, Verdict::Valid)),
        n.tx(8, n.audit_ix(1, 2, Verdict::Valid)),
        n.tx(holder, n.audit_ix(1, 2, Verdict::Abstain)),
        n.tx(holder, n.audit_ix(1, 2, Verdict::Invalid)),
    ];
    let holder_pk = n.pk(holder);
    assert_eq!(
        results(&n.c.next(txs)),
        vec![
            Err(TxError::NotOnCommittee { node: n.pk(1) }),
            Err(TxError::SelfAudit),
            Err(TxError::NotOnCommittee { node: n.pk(7) }),
            Err(TxError::NotOnCommittee { node: n.pk(8) }),
            Ok(()),
            Err(TxError::AlreadyVoted { node: holder_pk }),
        ]
    );
    assert_eq!(
        n.c.ledger.audit(&task, 1, &n.pk(2)).unwrap().votes,
        vec![(holder_pk, Verdict::Abstain)]
    );
    n.c.run_to(27);
    assert_eq!(outcome(&n, 1, 2), Some(AuditOutcome::Unresolved));
    n.finish();
}

/// SPEC §1 [v2]: each vote of a batch succeeds or fails on its own (v2 made batches
/// all-or-nothing: one stale vote threw away a node's whole round of checks).
#[test]
fn batch_votes_succeed_one_by_one() {
    let mut n = Net::new(6);
    let task = n.task;
    n.submit_all(1, &[1, 2, 3, 4, 5, 6]);
    let txs = vec![
        n.tx(
            1,
            audit_proofs(&n, 1, &[(2, Verdict::Invalid), (2, Verdict::Invalid)]),
        ),
        // The first vote raises an audit and stands; the second fails alone.
        n.tx(
            1,
            audit_proofs(&n, 1, &[(5, Verdict::Invalid), (1, Verdict::Invalid)]),
        ),
        n.tx(1, audit_proofs(&n, 1, &[(4, Verdict::Valid)])),
        // Node 2 is already raised by this node (its own raise is no vote); node 3 is raised.
        n.tx(
            1,
            audit_proofs(&n, 1, &[(2, Verdict::Invalid), (3, Verdict::Invalid)]),
        ),
    ];
    let out = n.block(24, txs);
    assert_eq!(
        results(&out),
        vec![
            Err(TxError::VotesRefused {
                applied: 1,
                refused: vec![(1, TxError::DuplicateVote { candidate: n.pk(2) })]
            }),
            Err(TxError::VotesRefused {
                applied: 1,
                refused: vec![(1, TxError::SelfAudit)]
            }),
            Err(TxError::VotesRefused {
                applied: 0,
                refused: vec![(0, TxError::NoAuditRaised { candidate: n.pk(4) })]
            }),
            Err(TxError::VotesRefused {
                applied: 1,
                refused: vec![(0, TxError::CommitteeNotDrawn { opens: 25 })]
            }),
        ]
    );
    let raised: Vec<Pubkey> =
        n.c.ledger
            .audits(&task, 1)
            .into_iter()
            .map(|(p, a)| {
                assert_eq!(a.accuser, n.pk(1));
                p
            })
            .collect();
    let mut expected = vec![n.pk(2), n.pk(3), n.pk(5)];
    expected.sort();
    assert_eq!(raised, expected, "the votes that stood raised three audits");
    let draws = |n: &Net| {
        n.c.ledger
            .queued_work()
            .iter()
            .filter(|(_, _, w)| matches!(w, crate::state::Work::DrawAudit { .. }))
            .count()
    };
    assert_eq!(draws(&n), 3);
    n.c.next(vec![]);
    assert_eq!(draws(&n), 0);
    let (c2, c3) = (n.audit_committee(1, 2), n.audit_committee(1, 3));
    // A seat holder of both committees votes on one; in its batch whose second vote repeats
    // that vote, the first vote counts and the second alone is refused.
    let both = c2
        .seats
        .iter()
        .map(|(p, _)| *p)
        .find(|p| c3.seats_of(p) > 0)
        .expect("a node holds seats on both committees");
    let v = n.idx(&both);
    let txs = vec![
        n.tx(v, audit_proofs(&n, 1, &[(2, Verdict::Valid)])),
        n.tx(
            v,
            audit_proofs(&n, 1, &[(3, Verdict::Invalid), (2, Verdict::Invalid)]),
        ),
        n.tx(v, audit_proofs(&n, 1, &[(3, Verdict::Abstain)])),
    ];
    assert_eq!(
        results(&n.c.next(txs)),
        vec![
            Ok(()),
            Err(TxError::VotesRefused {
                applied: 1,
                refused: vec![(1, TxError::AlreadyVoted { node: both })]
            }),
            Err(TxError::VotesRefused {
                applied: 0,
                refused: vec![(0, TxError::AlreadyVoted { node: both })]
            }),
        ]
    );
    assert_eq!(
        n.c.ledger.audit(&task, 1, &n.pk(2)).unwrap().votes,
        vec![(both, Verdict::Valid)]
    );
    assert_eq!(
        n.c.ledger.audit(&task, 1, &n.pk(3)).unwrap().votes,
        vec![(both, Verdict::Invalid)]
    );
    n.finish();
}

/// With `K` seats: `K/2` Invalid seats do not convict, `K/2 + 1` do; the same for Valid and
/// refuting. Silent and abstaining seats count for nothing.
fn verdict_boundary(k: u16) {
    let p = TaskParams {
        committee_size: k,
        ..params()
    };
    let mut n = Net::with(16, p, STAKE);
    let task = n.task;
    let all: Vec<usize> = (1..=16).collect();
    n.submit_all(1, &all);
    // Node 5 accuses nodes 1..=4.
    let ix = audit_proofs(
        &n,
        1,
        &[
            (1, Verdict::Invalid),
            (2, Verdict::Invalid),
            (3, Verdict::Invalid),
            (4, Verdict::Invalid),
        ],
    );
    assert_eq!(n.run_at(24, 5, ix), Ok(()));
    n.c.next(vec![]);
    let half = u32::from(k / 2);
    // (candidate, seats voting, their verdict, the other seats' verdict or silence)
    let plan = [
        (1, half, Verdict::Invalid, Some(Verdict::Abstain)),
        (2, half + 1, Verdict::Invalid, None),
        (3, half, Verdict::Valid, None),
        (4, half + 1, Verdict::Valid, Some(Verdict::Invalid)),
    ];
    let mut txs = Vec::new();
    let mut voters_of = Vec::new();
    for (cand, seats, verdict, rest) in plan {
        let c = n.audit_committee(1, cand);
        assert_eq!(c.size, k);
        let voters = seats_summing_to(&c, seats).unwrap_or_else(|| {
            panic!(
                "committee of {cand} has no {seats} seats to vote: {:?}",
                c.seats
            )
        });
        for v in &voters {
            txs.push(n.tx(n.idx(v), n.audit_ix(1, cand, verdict)));
        }
        if let Some(r) = rest {
            for (o, _) in c.seats.iter().filter(|(o, _)| !voters.contains(o)) {
                txs.push(n.tx(n.idx(o), n.audit_ix(1, cand, r)));
            }
        }
        assert_eq!(seats_of_all(&c, &voters), seats);
        voters_of.push(voters);
    }
    all_ok(&n.c.next(txs));
    n.c.run_to(27);
    // Stake 10,000: upheld slashes 7,000 (accuser 1,400; voters 2,100 split per seat);
    // refuted slashes the accuser 1,000 (voters 300 split per seat).
    let per_seat_up = 2_100 / u64::from(half + 1);
    let per_seat_ref = 300 / u64::from(half + 1);
    assert_eq!(outcome(&n, 1, 1), Some(AuditOutcome::Unresolved));
    assert_eq!(
        outcome(&n, 1, 2),
        Some(AuditOutcome::Upheld {
            slashed: 7_000,
            accuser_reward: 1_400,
            voter_rewards: per_seat_up * u64::from(half + 1)
        })
    );
    assert_eq!(outcome(&n, 1, 3), Some(AuditOutcome::Unresolved));
    assert_eq!(
        outcome(&n, 1, 4),
        Some(AuditOutcome::Refuted {
            slashed: 1_000,
            voter_rewards: per_seat_ref * u64::from(half + 1)
        })
    );
    let voided: Vec<bool> = (1..=4)
        .map(|i| n.c.ledger.submission(&task, 1, &n.pk(i)).unwrap().voided)
        .collect();
    assert_eq!(voided, vec![false, true, false, false]);
    assert_eq!(
        [1, 2, 3, 4, 5].map(|i| n.stake_of(i)),
        [STAKE, STAKE - 7_000, STAKE, STAKE, STAKE - 1_000]
    );
    n.finish();
}

#[test]
fn verdict_boundary_even_committee() {
    verdict_boundary(8);
}

#[test]
fn verdict_boundary_odd_committee() {
    verdict_boundary(7);
}

/// Stake 12,345 and K = 7, so every division leaves a remainder.
fn odd_net() -> Net {
    let p = TaskParams {
        committee_size: 7,
        ..params()
    };
    let mut n = Net::with(6, p, 12_345);
    n.submit_all(1, &[1, 2, 3, 4, 5, 6]);
    n
}

#[test]
fn upheld_slash_and_split_by_hand() {
    let mut n = odd_net();
    let task = n.task;
    let committee = n.audit_all_vote(1, 1, 2, Verdict::Invalid);
    let out = n.block(27, vec![]);
    // slashed = 12,345 · 70 % = 8,641.5 → 8,641; accuser 8,641 · 20 % = 1,728.2 → 1,728;
    // voters 8,641 · 30 % = 2,592.3 → 2,592 over 7 seats = 370.28 → 370 a seat, 2,590 paid;
    // burned (SPEC §5 [v2]) 8,641 − 1,728 − 2,590 = 4,323 (2 ROE of it rounding dust).
    let upheld = AuditOutcome::Upheld {
        slashed: 8_641,
        accuser_reward: 1_728,
        voter_rewards: 2_590,
    };
    assert_eq!(
        out.events[0],
        LedgerEvent::AuditResolved {
            task,
            round: 1,
            candidate: n.pk(1),
            outcome: upheld.clone()
        }
    );
    assert_eq!(outcome(&n, 1, 1), Some(upheld));
    assert_eq!(n.stake_of(1), 12_345 - 8_641);
    assert_eq!(n.reward_of(2), 1_728);
    for (v, seats) in &committee.seats {
        assert_eq!(n.c.ledger.pending_reward(&task, v), 370 * u64::from(*seats));
    }
    assert_eq!(n.task_rec().total_bounty, BOUNTY);
    assert_eq!(n.c.ledger.meta().burned_roe, 4_323);
    // The proof is void: no candidate for the distribution.
    assert!(n.c.ledger.submission(&task, 1, &n.pk(1)).unwrap().voided);
    let cands = n.c.ledger.distribution_candidates(&task, 1).unwrap();
    assert!(!cands.contains(&n.pk(1)));
    assert_eq!(cands.len(), 4, "5 valid submitters, 4 attempts");
    n.finish();
}

#[test]
fn refuted_slashes_the_accuser_by_hand() {
    let mut n = odd_net();
    let task = n.task;
    let committee = n.audit_all_vote(1, 1, 2, Verdict::Valid);
    n.c.run_to(27);
    // slashed = 12,345 · 10 % = 1,234.5 → 1,234; voters 1,234 · 30 % = 370.2 → 370 over 7
    // seats = 52.86 → 52 a seat, 364 paid; burned (SPEC §5 [v2]) 1,234 − 364 = 870.
    assert_eq!(
        outcome(&n, 1, 1),
        Some(AuditOutcome::Refuted {
            slashed: 1_234,
            voter_rewards: 364
        })
    );
    assert_eq!(n.stake_of(2), 12_345 - 1_234);
    assert_eq!(n.stake_of(1), 12_345);
    assert_eq!(n.reward_of(2), 0);
    assert_eq!(n.reward_of(1), 0);
    for (v, seats) in &committee.seats {
        assert_eq!(n.c.ledger.pending_reward(&task, v), 52 * u64::from(*seats));
    }
    assert_eq!(n.task_rec().total_bounty, BOUNTY);
    assert_eq!(n.c.ledger.meta().burned_roe, 870);
    assert!(!n.c.ledger.submission(&task, 1, &n.pk(1)).unwrap().voided);
    assert!(n
        .c
        .ledger
        .distribution_candidates(&task, 1)
        .unwrap()
        .contains(&n.pk(1)));
    n.finish();
}

#[test]
fn only_the_seats_voting_with_the_verdict_share() {
    let mut n = odd_net();
    let task = n.task;
    let ix = n.audit_ix(1, 1, Verdict::Invalid);
    assert_eq!(n.run_at(24, 2, ix), Ok(()));
    n.c.next(vec![]);
    let committee = n.audit_committee(1, 1);
    // Four to six of seven seats vote Invalid (upheld), the others Valid. (The committee
    // comes from the block's VRF randomness, so which counts are reachable depends on it.)
    let (guilty, g) = (4..=6)
        .find_map(|g| seats_summing_to(&committee, g).map(|v| (v, u64::from(g))))
        .expect("4 to 6 seats out of 7");
    let txs = committee
        .seats
        .iter()
        .map(|(p, _)| {
            let v = if guilty.contains(p) {
                Verdict::Invalid
            } else {
                Verdict::Valid
            };
            n.tx(n.idx(p), n.audit_ix(1, 1, v))
        })
        .collect();
    all_ok(&n.c.next(txs));
    n.c.run_to(27);
    // Voter share 2,592 over the g Invalid seats only (e.g. 4 seats: 648 a seat, no dust);
    // burned (SPEC §5 [v2]) 8,641 − 1,728 − what the voters got.
    let per_seat = 2_592 / g;
    assert_eq!(
        outcome(&n, 1, 1),
        Some(AuditOutcome::Upheld {
            slashed: 8_641,
            accuser_reward: 1_728,
            voter_rewards: per_seat * g
        })
    );
    for (p, seats) in &committee.seats {
        let expected = if guilty.contains(p) {
            per_seat * u64::from(*seats)
        } else {
            0
        };
        assert_eq!(n.c.ledger.pending_reward(&task, p), expected);
    }
    assert!(
        committee.seats.iter().any(|(p, _)| !guilty.contains(p)),
        "some seats voted Valid"
    );
    assert_eq!(n.task_rec().total_bounty, BOUNTY);
    assert_eq!(n.c.ledger.meta().burned_roe, 8_641 - 1_728 - per_seat * g);
    n.finish();
}

#[test]
fn unresolved_audit_presumes_validity_and_the_candidate_is_paid() {
    let mut n = Net::new(4);
    let task = n.task;
    n.submit_all(1, &[1, 2, 3]);
    // Node 2 accuses node 1; the seat holders stay silent.
    let ix = n.audit_ix(1, 1, Verdict::Invalid);
    assert_eq!(n.run_at(24, 2, ix), Ok(()));
    n.c.run_to(27);
    assert_eq!(outcome(&n, 1, 1), Some(AuditOutcome::Unresolved));
    assert_eq!(n.stake_of(1), STAKE);
    assert_eq!(n.stake_of(2), STAKE);
    assert!(!n.c.ledger.submission(&task, 1, &n.pk(1)).unwrap().voided);
    let list = n.fair_list(1);
    assert!(list.contains(&(n.pk(1), 333)));
    n.distribute(1, 0, &list);
    n.c.run_to(37);
    assert_eq!(n.reward_of(1), 333);
    n.finish();
}

#[test]
fn no_eligible_seat_holder_means_unresolved() {
    let mut n = Net::new(3);
    let task = n.task;
    // Node 3, the only possible seat holder, unstakes in round 1: not eligible for
    // committees whose weights are taken at the start of round 2 (SPEC §5 [v2]).
    assert_eq!(n.run_at(start(1), 3, Instruction::Unstake { task }), Ok(()));
    n.submit_all(1, &[1, 2]);
    let ix = n.audit_ix(1, 1, Verdict::Invalid);
    assert_eq!(n.run_at(24, 2, ix), Ok(()));
    n.c.next(vec![]);
    let c = n.audit_committee(1, 1);
    assert_eq!((c.size, c.seats.clone()), (0, vec![]));
    let txs = vec![
        n.tx(3, n.audit_ix(1, 1, Verdict::Invalid)),
        n.tx(4, n.audit_ix(1, 1, Verdict::Invalid)),
    ];
    // SPEC §1 [v2]: a raise on a raised candidate is a vote by a seat holder and never an
    // error; without a seat it changes nothing.
    assert_eq!(results(&n.c.next(txs)), vec![Ok(()), Ok(())]);
    assert!(n
        .c
        .ledger
        .audit(&task, 1, &n.pk(1))
        .unwrap()
        .votes
        .is_empty());
    n.c.run_to(27);
    assert_eq!(outcome(&n, 1, 1), Some(AuditOutcome::Unresolved));
    assert_eq!(n.stake_of(1), STAKE);
    assert!(n
        .c
        .ledger
        .distribution_candidates(&task, 1)
        .unwrap()
        .contains(&n.pk(1)));
    n.finish();
}

#[test]
fn voiding_every_submitter_leaves_no_candidate() {
    let mut n = Net::new(4);
    let task = n.task;
    n.submit_all(1, &[1]);
    n.audit_all_vote(1, 1, 2, Verdict::Invalid);
    let out = n.block(27, vec![]);
    assert_eq!(
        out.events[1..],
        [
            LedgerEvent::CandidatesRanked {
                task,
                round: 1,
                candidates: vec![]
            },
            LedgerEvent::RoundSettledUnpaid { task, round: 1 },
        ]
    );
    assert_eq!(
        n.c.ledger.round_record(&task, 1).unwrap().status,
        RoundStatus::NoCandidates
    );
    assert_eq!(n.task_rec().open_rounds, 0);
    let ix = n.chunk_ix(1, 0, 0, vec![(n.pk(2), 1)]);
    assert_eq!(
        n.run_at(31, 2, ix),
        Err(TxError::NotDistributing {
            round: 1,
            status: RoundState::NoCandidates
        })
    );
    n.finish();
}
