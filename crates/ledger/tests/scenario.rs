//! One task through many rounds with honest nodes and three kinds of cheaters (issue #2):
//! a node submitting garbage, a false accuser, and a distributor that inflates its own reward.
//! Each simulated node reads only the ledger and acts through signed transactions.

use borsh::BorshDeserialize;
use gradual_ledger::block::FailReason;
use gradual_ledger::state::{tag, Meta};
use gradual_ledger::state::{AuditOutcome, RoundStatus};
use gradual_ledger::testkit::TestChain;
use gradual_ledger::{distribution_digest, Ledger, LedgerEvent, Window};
use gradual_types::{Hash, Instruction, Pubkey, TaskId, TaskParams, Transaction, Verdict};
use std::collections::{BTreeMap, BTreeSet};

const HONEST: [usize; 5] = [1, 2, 3, 4, 5];
const GARBAGE: usize = 6;
const ACCUSER: usize = 7;
const BAD_DIST: usize = 8;
const VICTIM: usize = 1;
const NODES: [usize; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const STAKE: u64 = 10_000;

fn valid_proof(node: &Pubkey, round: u64) -> Vec<u8> {
    Hash::domain("scenario/work", &[&node.0, &round.to_le_bytes()])
        .0
        .to_vec()
}

/// The default policy of SPEC §6: equal split among non-voided submitters, sorted by node.
fn fair_list(c: &TestChain, task: &TaskId, round: u64) -> Vec<(Pubkey, u64)> {
    let bpr = c.ledger.task(task).unwrap().params.bounty_per_round;
    let subs: Vec<Pubkey> = c
        .ledger
        .submissions(task, round)
        .into_iter()
        .filter(|(_, s)| !s.voided)
        .map(|(n, _)| n)
        .collect();
    let share = bpr / subs.len() as u64;
    subs.into_iter().map(|n| (n, share)).collect()
}

/// ROE burned so far, read from the ledger's meta record.
fn burned_roe(l: &Ledger) -> u128 {
    let w = l
        .records()
        .into_iter()
        .find(|w| w.table == tag::META)
        .expect("a meta record");
    let meta = Meta::try_from_slice(&w.value.expect("meta has a value")).expect("meta decodes");
    u128::from(meta.burned_roe)
}

fn node_txs(c: &TestChain, task: &TaskId, who: usize, slot: u64) -> Vec<Transaction> {
    let l = &c.ledger;
    let me = c.pk(who);
    let clock = l.clock(task).unwrap();
    let mut txs = Vec::new();
    let params = &l.task(task).unwrap().params;
    // Restake after being slashed below the minimum (the garbage node keeps trying).
    if let Some(s) = l.stake(task, &me) {
        if s.amount < params.minimum_stake && s.unstake_round.is_none() {
            txs.push(c.tx(
                who,
                Instruction::Stake {
                    task: *task,
                    amount: STAKE,
                    url: String::new(),
                    owner: None,
                },
            ));
        }
    }
    let now = clock.round(slot);
    if let Some(r) = now.checked_sub(1) {
        if clock.window(Window::ProofSubmission, r, 0).contains(slot)
            && l.submission(task, r, &me).is_none()
        {
            let staked = l.stake(task, &me).is_some_and(|s| {
                s.staked_slot < clock.start(r) && s.amount >= params.minimum_stake
            });
            if staked {
                let value = if who == GARBAGE {
                    b"garbage".to_vec()
                } else {
                    valid_proof(&me, r)
                };
                txs.push(c.tx(
                    who,
                    Instruction::SubmitProof {
                        task: *task,
                        round: r,
                        value,
                    },
                ));
            }
        }
        if clock.window(Window::ProofAudit, r, 0).contains(slot) {
            let mut votes = Vec::new();
            for (cand, sub) in l.submissions(task, r) {
                if cand == me {
                    continue;
                }
                let truthful = sub.value == valid_proof(&cand, r);
                match l.audit(task, r, &cand) {
                    None => {
                        let false_accusation = who == ACCUSER && cand == c.pk(VICTIM);
                        // One honest node raises each real audit; the others vote on it.
                        let first_honest =
                            HONEST.iter().copied().find(|h| c.pk(*h) != cand) == Some(who);
                        if false_accusation || (!truthful && first_honest) {
                            votes.push((cand, Verdict::Invalid));
                        }
                    }
                    Some(a) => {
                        let seated = a.committee.as_ref().is_some_and(|cm| cm.seats_of(&me) > 0);
                        if seated && !a.votes.iter().any(|(n, _)| *n == me) {
                            let verdict = if who == ACCUSER && cand == c.pk(VICTIM) {
                                Verdict::Invalid
                            } else if truthful {
                                Verdict::Valid
                            } else {
                                Verdict::Invalid
                            };
                            votes.push((cand, verdict));
                        }
                    }
                }
            }
            if !votes.is_empty() {
                txs.push(c.tx(
                    who,
                    Instruction::AuditProofs {
                        task: *task,
                        round: r,
                        votes,
                    },
                ));
            }
        }
    }
    // Distribution duties for every round under distribution.
    for r in 0..now {
        let Some(rec) = l.round_record(task, r) else {
            continue;
        };
        if rec.status != RoundStatus::Distributing {
            continue;
        }
        let i = rec.current_attempt;
        let att = l.attempt(task, r, i).unwrap();
        if clock
            .window(Window::DistributionSubmission, r, i)
            .contains(slot)
            && att.submitter == me
            && att.list.is_none()
        {
            let mut list = fair_list(c, task, r);
            if who == BAD_DIST {
                let bpr = params.bounty_per_round;
                let others = list.len() as u64 - 1;
                for e in list.iter_mut() {
                    e.1 = if e.0 == me { bpr - others } else { 1 };
                }
            }
            let digest = distribution_digest(&list);
            let count = list.len() as u32;
            txs.push(c.tx(
                who,
                Instruction::UploadDistributionChunk {
                    task: *task,
                    round: r,
                    attempt: i,
                    index: 0,
                    entries: list,
                },
            ));
            txs.push(c.tx(
                who,
                Instruction::SubmitDistribution {
                    task: *task,
                    round: r,
                    attempt: i,
                    digest,
                    count,
                },
            ));
        }
        if clock.window(Window::DistributionAudit, r, i).contains(slot) {
            let seated = att
                .committee
                .as_ref()
                .is_some_and(|cm| cm.seats_of(&me) > 0);
            if seated && !att.votes.iter().any(|(n, _)| *n == me) && att.list.is_some() {
                let ok = l.distribution_list(task, r, i) == fair_list(c, task, r);
                let verdict = if ok { Verdict::Valid } else { Verdict::Invalid };
                txs.push(c.tx(
                    who,
                    Instruction::AuditDistribution {
                        task: *task,
                        round: r,
                        attempt: i,
                        verdict,
                    },
                ));
            }
        }
    }
    txs
}

#[test]
fn honest_paid_cheaters_caught_every_roe_accounted() {
    let mut c = TestChain::new(9, 1_000_000);
    let genesis_total = c.ledger.total_held_roe();
    let params = TaskParams {
        name: "scenario".into(),
        round_time: 20,
        submission_window: 6,
        audit_window: 6,
        minimum_stake: 1_000,
        bounty_per_round: 100_000,
        committee_size: 16,
        ..TaskParams::default()
    };
    // Manager is key 0; bounty from the faucet so nodes keep their balances.
    c.run(
        0,
        Instruction::FaucetMint {
            to: c.pk(0),
            amount: 10_000_000,
        },
    )
    .unwrap();
    let task = c.create_task(0, 1, params, 10_000_000);
    let stakes: Vec<Transaction> = NODES
        .iter()
        .map(|&n| {
            c.tx(
                n,
                Instruction::Stake {
                    task,
                    amount: STAKE,
                    url: format!("http://node{n}"),
                    owner: None,
                },
            )
        })
        .collect();
    for r in c.next(stakes).receipts {
        r.result.unwrap();
    }

    let mut upheld_against: BTreeMap<Pubkey, u32> = BTreeMap::new();
    let mut refuted_by: BTreeMap<Pubkey, u32> = BTreeMap::new();
    let mut paid_rounds: BTreeMap<u64, u16> = BTreeMap::new();
    let mut rejected_rounds = BTreeSet::new();
    let mut rejected_lists = 0;
    let mut rejected_attempts = BTreeSet::new();
    let mut rejection_slashes = BTreeSet::new();
    let mut slashed_total = 0u64;
    let clock = c.ledger.clock(&task).unwrap();
    let last_slot = clock.start(18);
    for slot in c.ledger.slot() + 1..=last_slot {
        let mut txs = Vec::new();
        for &n in &NODES {
            txs.extend(node_txs(&c, &task, n, slot));
        }
        let out = c.block_at(slot, txs);
        for ev in &out.events {
            match ev {
                LedgerEvent::AuditResolved {
                    candidate,
                    outcome,
                    round,
                    ..
                } => match outcome {
                    AuditOutcome::Upheld { slashed, .. } => {
                        assert_eq!(
                            *candidate,
                            c.pk(GARBAGE),
                            "round {round}: only the garbage node may be convicted"
                        );
                        *upheld_against.entry(*candidate).or_default() += 1;
                        slashed_total += slashed;
                    }
                    AuditOutcome::Refuted { slashed, .. } => {
                        assert_eq!(*candidate, c.pk(VICTIM));
                        *refuted_by.entry(c.pk(ACCUSER)).or_default() += 1;
                        slashed_total += slashed;
                    }
                    AuditOutcome::Unresolved => {
                        panic!("round {round}: audit on {candidate:?} unresolved")
                    }
                },
                LedgerEvent::PayoutSuccessful { round, attempt, .. } => {
                    // Every honest node that submitted is in the paid list with a fair share.
                    let list = c.ledger.distribution_list(&task, *round, *attempt);
                    assert_eq!(
                        list,
                        fair_list(&c, &task, *round),
                        "round {round} paid an unfair list"
                    );
                    for h in HONEST {
                        assert!(
                            list.iter().any(|(n, r)| *n == c.pk(h) && *r > 0),
                            "honest node {h} unpaid in round {round}"
                        );
                    }
                    assert!(
                        list.iter().all(|(n, _)| *n != c.pk(GARBAGE)),
                        "garbage node paid in round {round}"
                    );
                    paid_rounds.insert(*round, *attempt);
                }
                LedgerEvent::PayoutFailed {
                    reason,
                    round,
                    attempt,
                    slashed,
                    ..
                } => {
                    assert_eq!(
                        *reason,
                        FailReason::Rejected,
                        "round {round} attempt {attempt}: the list was not rejected"
                    );
                    let sub = c.ledger.attempt(&task, *round, *attempt).unwrap().submitter;
                    assert_eq!(
                        sub,
                        c.pk(BAD_DIST),
                        "only the bad distributor's list may be rejected"
                    );
                    // SPEC §6 [v2]: a rejected list's slash waits for the round to settle.
                    assert_eq!(*slashed, 0, "the rejection slash is deferred");
                    rejected_lists += 1;
                    rejected_rounds.insert(*round);
                    rejected_attempts.insert((*round, *attempt));
                }
                LedgerEvent::RejectionSlashed {
                    round,
                    attempt,
                    submitter,
                    slashed,
                    ..
                } => {
                    assert_eq!(*submitter, c.pk(BAD_DIST), "round {round}");
                    assert!(*slashed > 0, "a rejected list's submitter is slashed");
                    rejection_slashes.insert((*round, *attempt));
                    slashed_total += slashed;
                }
                LedgerEvent::Vindicated { round, .. } => {
                    panic!("round {round}: the bad distributor's list was vindicated")
                }
                LedgerEvent::RoundSettledUnpaid { round, .. } => {
                    panic!("round {round} settled unpaid")
                }
                _ => {}
            }
        }
    }
    // Round 1 is the first a node staked at slot 2 may submit for; by round 18 rounds 1..=14
    // have had time to settle, retries included.
    for r in 1..=14 {
        assert!(
            paid_rounds.contains_key(&r),
            "round {r} not paid; paid: {paid_rounds:?}"
        );
    }
    assert!(
        upheld_against[&c.pk(GARBAGE)] >= 10,
        "garbage node convicted {upheld_against:?}"
    );
    assert!(
        refuted_by[&c.pk(ACCUSER)] >= 10,
        "false accuser refuted {refuted_by:?}"
    );
    assert!(
        rejected_lists >= 1,
        "the bad distributor was never selected; pick other keys"
    );
    for r in rejected_rounds.iter().filter(|r| **r <= 14) {
        assert!(
            paid_rounds[r] >= 1,
            "round {r}: the rejected list was retried and paid by the next candidate"
        );
    }
    // SPEC §6 [v2]: a rejected list's submitter is slashed when its round settles.
    let settled_rejections: BTreeSet<(u64, u16)> = rejected_attempts
        .iter()
        .copied()
        .filter(|(r, _)| *r <= 14)
        .collect();
    assert!(
        settled_rejections.is_subset(&rejection_slashes),
        "rejections {settled_rejections:?}, slashed {rejection_slashes:?}"
    );
    // Honest stakes were never touched; cheaters lost stake.
    for h in HONEST {
        assert_eq!(
            c.ledger.stake(&task, &c.pk(h)).unwrap().amount,
            STAKE,
            "honest node {h} slashed"
        );
    }
    assert!(c.ledger.stake(&task, &c.pk(ACCUSER)).unwrap().amount < STAKE);
    assert!(slashed_total > 0);
    // Every ROE accounted for: nothing created or destroyed beyond the faucet mint and the
    // burned remainders of slashes (SPEC §5 [v2]; fees are zero).
    let burned = burned_roe(&c.ledger);
    assert!(burned > 0, "slash remainders are burned");
    assert_eq!(
        c.ledger.total_held_roe() + burned,
        genesis_total + 10_000_000
    );
    c.ledger.assert_supply_conserved();
    assert_eq!(
        c.replay(),
        c.ledger.state_root(),
        "replay reproduces the state root"
    );
}
