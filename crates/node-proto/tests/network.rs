//! Nodes driven only by `NodeCore` against the real ledger: honest nodes are paid every
//! round, a garbage submitter is caught by sampling and slashed, and a node restarted with a
//! fresh core (as after `kill -9`) neither double-submits nor misses its pay.

use gradual_ledger::state::AuditOutcome;
use gradual_ledger::testkit::TestChain;
use gradual_ledger::{CheckedTx, LedgerEvent};
use gradual_ledger::{Ledger, Window};
use gradual_node_proto::{
    equal_split, Action, CachedView, LedgerView, ListPurpose, NodeCore, TaskConfig,
};
use gradual_types::constants::raise_last_slot;
use gradual_types::{Genesis, Hash, Instruction, Pubkey, TaskId, TaskParams, Transaction, Verdict};
use std::collections::BTreeMap;

fn good_proof(node: &Pubkey, round: u64) -> Vec<u8> {
    Hash::domain("net/work", &[&node.0, &round.to_le_bytes()])
        .0
        .to_vec()
}

struct Net {
    c: TestChain,
    task: TaskId,
    cores: Vec<NodeCore>,
    garbage: usize,
    submits: BTreeMap<(usize, u64), u32>,
    /// A node whose proof checks come back only after the raise cutoff of their round.
    late: Option<usize>,
    /// Checks the late node holds back: (round, candidate, verdict).
    held: Vec<(u64, Pubkey, Verdict)>,
    /// The late node's proof-audit votes: (slot sent, was it a raise).
    late_votes: Vec<(u64, bool)>,
    /// Every node but the late one finds every proof valid.
    others_blind: bool,
}

impl Net {
    /// 3 s slots (the testkit's): a 6-slot audit window leaves V = 2 slots to vote.
    fn new(nodes: usize, garbage: usize) -> Net {
        let params = TaskParams {
            name: "net".into(),
            round_time: 20,
            submission_window: 6,
            audit_window: 6,
            minimum_stake: 1_000,
            bounty_per_round: 70_000,
            committee_size: 16,
            audit_sample: 3,
            ..TaskParams::default()
        };
        Net::with(nodes, garbage, None, params)
    }

    /// `slot_ms`: the chain's slot length (`None`: the testkit's 3 s).
    fn with(nodes: usize, garbage: usize, slot_ms: Option<u64>, params: TaskParams) -> Net {
        let mut c = TestChain::new(nodes as u32 + 1, 1_000_000);
        if let Some(ms) = slot_ms {
            let genesis = Genesis {
                slot_ms: ms,
                ..c.ledger.genesis().clone()
            };
            c.ledger = Ledger::new(genesis);
            c.ledger.paranoid = true;
        }
        let task = c.create_task(0, 7, params, 900_000);
        let cores = (1..=nodes)
            .map(|i| {
                let mut core = NodeCore::new(c.pk(i), Hash([i as u8; 32]));
                core.add_task(
                    task,
                    TaskConfig {
                        stake_roe: Some(10_000),
                        url: format!("http://n{i}"),
                        claim_at_roe: Some(1),
                    },
                );
                core
            })
            .collect();
        Net {
            c,
            task,
            cores,
            garbage,
            submits: BTreeMap::new(),
            late: None,
            held: Vec::new(),
            late_votes: Vec::new(),
            others_blind: false,
        }
    }

    /// One slot: every node looks at the ledger, answers its actions, then a block is made.
    fn step(&mut self) -> Vec<LedgerEvent> {
        let mut txs: Vec<Transaction> = Vec::new();
        {
            let view = CachedView::new(&self.c.ledger);
            let at = view.slot() + 1;
            let clock = view.task(&self.task).expect("task").clock;
            let cutoff = |round: u64| {
                let w = clock.window(Window::ProofAudit, round, 0);
                raise_last_slot(w.opens, clock.audit_window, view.slot_ms())
            };
            for (i, core) in self.cores.iter_mut().enumerate() {
                let who = i + 1;
                if self.late == Some(who) {
                    // Answer held checks once their round's raise cutoff has passed.
                    let (due, keep): (Vec<_>, Vec<_>) =
                        self.held.drain(..).partition(|(r, _, _)| at > cutoff(*r));
                    self.held = keep;
                    for (round, candidate, verdict) in due {
                        core.handle_check(&self.task, round, candidate, verdict);
                    }
                }
                core.handle_slot(&view);
                while let Some(action) = core.poll_action() {
                    match action {
                        Action::RunTask { .. } => {}
                        Action::MakeProof { task, round } => {
                            let me = core.me();
                            let v = if who == self.garbage {
                                b"junk".to_vec()
                            } else {
                                good_proof(&me, round)
                            };
                            core.handle_proof(&task, round, Some(v), view.slot() + 1);
                        }
                        Action::CheckProof {
                            task,
                            round,
                            candidate,
                            value,
                        } => {
                            let ok = value == good_proof(&candidate, round)
                                || (self.others_blind && self.late != Some(who));
                            let verdict = if ok { Verdict::Valid } else { Verdict::Invalid };
                            if self.late == Some(who) {
                                self.held.push((round, candidate, verdict));
                            } else {
                                core.handle_check(&task, round, candidate, verdict);
                            }
                        }
                        Action::MakeDistribution {
                            task,
                            round,
                            attempt,
                            purpose,
                            submitters,
                            bounty,
                        } => {
                            assert!(
                                purpose == ListPurpose::Submit || purpose == ListPurpose::Audit
                            );
                            core.handle_list(
                                &task,
                                round,
                                attempt,
                                purpose,
                                equal_split(&submitters, bounty),
                                &view,
                            );
                        }
                        Action::Send { ix, .. } => {
                            if let Instruction::SubmitProof { round, .. } = &ix {
                                *self.submits.entry((who, *round)).or_default() += 1;
                            }
                            if self.late == Some(who) {
                                let votes = match &ix {
                                    Instruction::AuditProof {
                                        round,
                                        candidate,
                                        verdict,
                                        ..
                                    } => vec![(*round, *candidate, *verdict)],
                                    Instruction::AuditProofs { round, votes, .. } => {
                                        votes.iter().map(|(c, v)| (*round, *c, *v)).collect()
                                    }
                                    _ => vec![],
                                };
                                for (round, cand, verdict) in votes {
                                    let raise = verdict == Verdict::Invalid
                                        && view.audit(&task_of(&ix), round, &cand).is_none();
                                    assert!(
                                        !raise || at <= cutoff(round),
                                        "slot {at}: raise after the cutoff {}",
                                        cutoff(round)
                                    );
                                    self.late_votes.push((at, raise));
                                }
                            }
                            txs.push(self.c.tx(who, ix));
                        }
                    }
                }
            }
        }
        let slot = self.c.ledger.slot() + 1;
        let parent = self.c.ledger.head_hash();
        let checked = txs.into_iter().map(CheckedTx::check).collect();
        let seal = self.c.ledger.seal(&self.c.validator, slot);
        let out = self
            .c
            .ledger
            .apply_block(slot, parent, seal, checked)
            .unwrap();
        for r in &out.receipts {
            // Two samplers may raise the same audit in one block: the second raise is that
            // node's vote (SPEC §1 [v2]), so honest nodes never send a failing transaction.
            assert!(
                r.result.is_ok(),
                "slot {slot}: a node sent a failing tx: {:?}",
                r.result
            );
        }
        self.c.blocks.push(out.block);
        out.events
    }
}

fn task_of(ix: &Instruction) -> TaskId {
    match ix {
        Instruction::AuditProof { task, .. } | Instruction::AuditProofs { task, .. } => *task,
        _ => unreachable!("only audit votes are inspected"),
    }
}

/// SPEC §5 *Vote window* at fast slots: 100 ms slots make V = 30 slots, so a 60-slot audit
/// window takes raises in its first 30 slots only. A node whose checks finish after that
/// never raises (the ledger would refuse it) but still votes where it holds a seat, up to
/// the window's end; the cheater is still caught every round and every honest node paid.
#[test]
fn late_checks_never_raise_but_still_vote_until_the_window_closes() {
    let params = TaskParams {
        name: "fast".into(),
        round_time: 80,
        submission_window: 10,
        audit_window: 60,
        minimum_stake: 1_000,
        bounty_per_round: 70_000,
        committee_size: 16,
        audit_sample: 5,
        ..TaskParams::default()
    };
    params.validate_for_chain(100).expect("AW = 2·V at 100 ms");
    let mut net = Net::with(6, 6, Some(100), params);
    net.late = Some(1);
    let clock = net.c.ledger.clock(&net.task).unwrap();
    let mut paid = BTreeMap::new();
    let mut upheld = 0;
    while net.c.ledger.slot() < clock.start(7) {
        for ev in net.step() {
            match ev {
                LedgerEvent::AuditResolved {
                    candidate, outcome, ..
                } => {
                    assert!(
                        matches!(outcome, AuditOutcome::Upheld { .. }),
                        "{outcome:?}"
                    );
                    assert_eq!(candidate, net.c.pk(6));
                    upheld += 1;
                }
                LedgerEvent::PayoutSuccessful { round, .. } => {
                    paid.insert(round, ());
                }
                LedgerEvent::PayoutFailed { round, .. }
                | LedgerEvent::RoundSettledUnpaid { round, .. } => {
                    panic!("round {round} not paid")
                }
                _ => {}
            }
        }
    }
    assert!(upheld >= 3, "garbage proofs caught {upheld} times");
    assert!((1..=4).all(|r| paid.contains_key(&r)), "paid {paid:?}");
    assert!(
        net.late_votes.iter().all(|(_, raise)| !raise),
        "the late node raised: {:?}",
        net.late_votes
    );
    // Its seat votes went out after the raise cutoff, inside the window.
    let late_seat_votes = net.late_votes.iter().filter(|(at, _)| {
        let r = clock.round(*at).saturating_sub(1);
        let w = clock.window(Window::ProofAudit, r, 0);
        *at > raise_last_slot(w.opens, w.closes - w.opens, 100) && w.contains(*at)
    });
    assert!(late_seat_votes.count() >= 2, "{:?}", net.late_votes);
    net.c.ledger.assert_supply_conserved();
    assert_eq!(net.c.replay(), net.c.ledger.state_root());
}

/// The only node that finds the bad proof finds it after the raise cutoff: it sends no raise
/// at all (the ledger would refuse it with `RaiseTooLate`), so the proof stands unaudited.
#[test]
fn a_check_finished_after_the_cutoff_raises_nothing() {
    let params = TaskParams {
        name: "fast".into(),
        round_time: 80,
        submission_window: 10,
        audit_window: 60,
        minimum_stake: 1_000,
        bounty_per_round: 70_000,
        audit_sample: 5,
        ..TaskParams::default()
    };
    let mut net = Net::with(4, 4, Some(100), params);
    net.late = Some(1);
    net.others_blind = true;
    let clock = net.c.ledger.clock(&net.task).unwrap();
    while net.c.ledger.slot() < clock.start(4) {
        for ev in net.step() {
            assert!(
                !matches!(ev, LedgerEvent::AuditResolved { .. }),
                "no audit can be raised: {ev:?}"
            );
        }
    }
    assert!(net.held.is_empty() || net.held.iter().all(|(r, _, _)| *r >= 2));
    assert_eq!(
        net.late_votes,
        vec![],
        "no raise, and no committee to vote on"
    );
    assert!(net.c.ledger.audits(&net.task, 1).is_empty());
    assert!(net
        .c
        .ledger
        .submission(&net.task, 1, &net.c.pk(4))
        .is_some());
}

#[test]
fn honest_nodes_paid_cheater_slashed_restart_is_idempotent() {
    let mut net = Net::new(6, 6);
    let clock = net.c.ledger.clock(&net.task).unwrap();
    let mut paid: BTreeMap<u64, Vec<(Pubkey, u64)>> = BTreeMap::new();
    let mut upheld = 0;
    while net.c.ledger.slot() < clock.start(10) {
        // Restart node 2 with a fresh core in the middle of round 4's submission window.
        if net.c.ledger.slot() == clock.start(5) + 2 {
            let mut fresh = NodeCore::new(net.c.pk(2), Hash([2; 32]));
            fresh.add_task(
                net.task,
                TaskConfig {
                    stake_roe: Some(10_000),
                    url: "http://n2".into(),
                    claim_at_roe: Some(1),
                },
            );
            net.cores[1] = fresh;
        }
        for ev in net.step() {
            match ev {
                LedgerEvent::AuditResolved {
                    candidate, outcome, ..
                } => {
                    assert!(
                        matches!(outcome, AuditOutcome::Upheld { .. }),
                        "{outcome:?}"
                    );
                    assert_eq!(candidate, net.c.pk(6));
                    upheld += 1;
                }
                LedgerEvent::PayoutSuccessful { round, attempt, .. } => {
                    paid.insert(
                        round,
                        net.c.ledger.distribution_list(&net.task, round, attempt),
                    );
                }
                LedgerEvent::PayoutFailed { round, .. }
                | LedgerEvent::RoundSettledUnpaid { round, .. } => {
                    panic!("round {round} not paid")
                }
                _ => {}
            }
        }
    }
    // Rounds 1..=7 settled by round 10; every honest node is in every paid list.
    for r in 1..=7 {
        let list = &paid[&r];
        for i in 1..=5 {
            assert!(
                list.iter().any(|(n, x)| *n == net.c.pk(i) && *x > 0),
                "node {i} unpaid in round {r}"
            );
        }
        assert!(
            list.iter().all(|(n, _)| *n != net.c.pk(6)),
            "garbage node paid in round {r}"
        );
    }
    assert!(upheld >= 5, "garbage proofs caught {upheld} times");
    for ((who, round), n) in &net.submits {
        assert_eq!(*n, 1, "node {who} submitted round {round} {n} times");
    }
    // Auto-claim moved rewards to balances.
    assert!(net.c.ledger.balance(&net.c.pk(1)) > 1_000_000 - 10_000);
    net.c.ledger.assert_supply_conserved();
    assert_eq!(net.c.replay(), net.c.ledger.state_root());
}
