//! Nodes driven only by `NodeCore` against the real ledger: honest nodes are paid every
//! round, a garbage submitter is caught by sampling and slashed, and a node restarted with a
//! fresh core (as after `kill -9`) neither double-submits nor misses its pay.

use gradual_ledger::state::AuditOutcome;
use gradual_ledger::testkit::TestChain;
use gradual_ledger::{CheckedTx, LedgerEvent};
use gradual_node_proto::{
    equal_split, Action, CachedView, LedgerView, ListPurpose, NodeCore, TaskConfig,
};
use gradual_types::{Hash, Instruction, Pubkey, TaskId, TaskParams, Transaction, Verdict};
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
}

impl Net {
    fn new(nodes: usize, garbage: usize) -> Net {
        let mut c = TestChain::new(nodes as u32 + 1, 1_000_000);
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
        }
    }

    /// One slot: every node looks at the ledger, answers its actions, then a block is made.
    fn step(&mut self) -> Vec<LedgerEvent> {
        let mut txs: Vec<Transaction> = Vec::new();
        {
            let view = CachedView::new(&self.c.ledger);
            for (i, core) in self.cores.iter_mut().enumerate() {
                let who = i + 1;
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
                            let ok = value == good_proof(&candidate, round);
                            core.handle_check(
                                &task,
                                round,
                                candidate,
                                if ok { Verdict::Valid } else { Verdict::Invalid },
                            );
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
                            txs.push(self.c.tx(who, ix));
                        }
                    }
                }
            }
        }
        let slot = self.c.ledger.slot() + 1;
        let parent = self.c.ledger.head_hash();
        let checked = txs.into_iter().map(CheckedTx::check).collect();
        let out = self.c.ledger.apply_block(slot, parent, checked).unwrap();
        for r in &out.receipts {
            // Two samplers may raise the same audit in one block; the second loses the race.
            let race = matches!(
                &r.result,
                Err(gradual_ledger::TxError::CommitteeNotDrawn { .. })
            );
            assert!(
                r.result.is_ok() || race,
                "slot {slot}: a node sent a failing tx: {:?}",
                r.result
            );
        }
        self.c.blocks.push(out.block);
        out.events
    }
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
