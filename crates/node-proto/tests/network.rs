//! Nodes driven only by `NodeCore` against the real ledger: honest nodes are paid every
//! round, a garbage submitter is caught by sampling and slashed, and a node restarted with a
//! fresh core (as after `kill -9`) neither double-submits nor misses its pay.

use gradual_ledger::state::AuditOutcome;
use gradual_ledger::testkit::TestChain;
use gradual_ledger::{CheckedTx, LedgerEvent};
use gradual_ledger::{Ledger, Window};
use gradual_node_proto::{
    driver, equal_split, Action, Answer, AuditGuard, CachedView, LedgerView, ListPurpose, NodeCore,
    Shell, SuspectPolicy, TaskConfig,
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
    /// Every node but the late (or stuck) one finds every proof valid.
    others_blind: bool,
    /// Time-bombed tasks: from this round on, the node's task calls every proof `Invalid`.
    bombed: BTreeMap<usize, u64>,
    /// A node whose `Valid` check answers never come back (the call hangs).
    stuck_valid: Option<usize>,
    /// Audit-guard alerts, per node.
    alerts: Vec<(usize, Action)>,
    /// Every instruction sent: (node, slot it was sent for, instruction).
    sent: Vec<(usize, u64, Instruction)>,
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
                        audit_guard: AuditGuard::default(),
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
            bombed: BTreeMap::new(),
            stuck_valid: None,
            alerts: Vec::new(),
            sent: Vec::new(),
        }
    }

    /// Give node `who` (1-based) this audit guard.
    fn set_guard(&mut self, who: usize, guard: AuditGuard) {
        self.cores[who - 1].add_task(
            self.task,
            TaskConfig {
                stake_roe: Some(10_000),
                url: format!("http://n{who}"),
                claim_at_roe: Some(1),
                audit_guard: guard,
            },
        );
    }

    /// Proof-audit votes node `who` sent: (round, candidate, verdict).
    fn votes_of(&self, who: usize) -> Vec<(u64, Pubkey, Verdict)> {
        self.sent
            .iter()
            .filter(|(n, _, _)| *n == who)
            .flat_map(|(_, _, ix)| votes_in(ix))
            .collect()
    }

    /// How many `Unstake`s node `who` sent.
    fn unstakes_of(&self, who: usize) -> usize {
        self.sent
            .iter()
            .filter(|(n, _, ix)| *n == who && matches!(ix, Instruction::Unstake { .. }))
            .count()
    }

    /// One slot: every node looks at the ledger, answers its actions (through the shared
    /// driver loop, one pass), then a block is made.
    fn step(&mut self) -> Vec<LedgerEvent> {
        let mut txs: Vec<Transaction> = Vec::new();
        {
            let Net {
                c,
                task,
                cores,
                garbage,
                submits,
                late,
                held,
                late_votes,
                others_blind,
                bombed,
                stuck_valid,
                alerts,
                sent,
            } = self;
            let c: &TestChain = c;
            let view = CachedView::new(&c.ledger);
            let at = view.slot() + 1;
            let clock = view.task(task).expect("task").clock;
            let cutoff = |round: u64| {
                let w = clock.window(Window::ProofAudit, round, 0);
                raise_last_slot(w.opens, clock.audit_window, view.slot_ms())
            };
            for (i, core) in cores.iter_mut().enumerate() {
                let who = i + 1;
                if *late == Some(who) {
                    // Answer held checks once their round's raise cutoff has passed.
                    let (due, keep): (Vec<_>, Vec<_>) =
                        held.drain(..).partition(|(r, _, _)| at > cutoff(*r));
                    *held = keep;
                    for (round, candidate, verdict) in due {
                        core.handle_check(task, round, candidate, verdict);
                    }
                }
                let mut shell = NetShell {
                    who,
                    me: core.me(),
                    at,
                    view: &view,
                    cutoff: &cutoff,
                    c,
                    garbage: *garbage,
                    late: *late,
                    others_blind: *others_blind,
                    bombed,
                    stuck_valid: *stuck_valid,
                    held: &mut *held,
                    submits: &mut *submits,
                    late_votes: &mut *late_votes,
                    alerts: &mut *alerts,
                    sent: &mut *sent,
                    txs: &mut txs,
                };
                driver::step(core, &view, &mut shell, 1);
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

/// One node's shell in [`Net::step`]: its task answers at once, unless it is the late node
/// (answers held until the cutoff) or the stuck one (`Valid` answers never come).
struct NetShell<'a, 'v> {
    who: usize,
    me: Pubkey,
    at: u64,
    view: &'a CachedView<'v>,
    cutoff: &'a dyn Fn(u64) -> u64,
    c: &'a TestChain,
    garbage: usize,
    late: Option<usize>,
    others_blind: bool,
    bombed: &'a BTreeMap<usize, u64>,
    stuck_valid: Option<usize>,
    held: &'a mut Vec<(u64, Pubkey, Verdict)>,
    submits: &'a mut BTreeMap<(usize, u64), u32>,
    late_votes: &'a mut Vec<(u64, bool)>,
    alerts: &'a mut Vec<(usize, Action)>,
    sent: &'a mut Vec<(usize, u64, Instruction)>,
    txs: &'a mut Vec<Transaction>,
}

impl Shell for NetShell<'_, '_> {
    fn act(&mut self, action: Action) -> Option<Answer> {
        let (who, at) = (self.who, self.at);
        match action {
            Action::RunTask { .. } => None,
            Action::MakeProof { task, round } => {
                let v = if who == self.garbage {
                    b"junk".to_vec()
                } else {
                    good_proof(&self.me, round)
                };
                Some(Answer::Proof {
                    task,
                    round,
                    value: Some(v),
                })
            }
            Action::CheckProof {
                task,
                round,
                candidate,
                value,
            } => {
                let ok = value == good_proof(&candidate, round)
                    || (self.others_blind
                        && self.late != Some(who)
                        && self.stuck_valid != Some(who));
                let bombed = self.bombed.get(&who).is_some_and(|from| round >= *from);
                let verdict = if ok && !bombed {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                if self.late == Some(who) {
                    self.held.push((round, candidate, verdict));
                    None
                } else if self.stuck_valid == Some(who) && verdict == Verdict::Valid {
                    // The call hangs: no answer, ever.
                    None
                } else {
                    Some(Answer::Check {
                        task,
                        round,
                        candidate,
                        verdict,
                    })
                }
            }
            Action::MakeDistribution(req) => {
                assert!(req.purpose == ListPurpose::Submit || req.purpose == ListPurpose::Audit);
                Some(req.answer(equal_split(&req.submitters, req.bounty)))
            }
            Action::SuspectAudits { .. } => {
                self.alerts.push((who, action));
                None
            }
            Action::Send { ix, .. } => {
                self.sent.push((who, at, ix.clone()));
                if let Instruction::SubmitProof { round, .. } = &ix {
                    *self.submits.entry((who, *round)).or_default() += 1;
                }
                if self.late == Some(who) {
                    for (round, cand, verdict) in votes_in(&ix) {
                        let raise = verdict == Verdict::Invalid
                            && self.view.audit(&task_of(&ix), round, &cand).is_none();
                        assert!(
                            !raise || at <= (self.cutoff)(round),
                            "slot {at}: raise after the cutoff {}",
                            (self.cutoff)(round)
                        );
                        self.late_votes.push((at, raise));
                    }
                }
                self.txs.push(self.c.tx(who, ix));
                None
            }
        }
    }
}

/// The proof-audit votes an instruction carries: (round, candidate, verdict).
fn votes_in(ix: &Instruction) -> Vec<(u64, Pubkey, Verdict)> {
    match ix {
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
                    audit_guard: AuditGuard::default(),
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

// ---- The audit guard: a task cannot make its operator's node slash honest peers (issue #10.5).

/// Runs `net` until the start of round `until`; checks that only node `cheat` was ever accused,
/// never refuted, and every round paid. Returns the audits upheld.
fn run_expecting_only_the_cheater_caught(net: &mut Net, until: u64, cheat: usize) -> u32 {
    let clock = net.c.ledger.clock(&net.task).unwrap();
    let mut upheld = 0;
    while net.c.ledger.slot() < clock.start(until) {
        for ev in net.step() {
            match ev {
                LedgerEvent::AuditResolved {
                    candidate, outcome, ..
                } => {
                    assert_eq!(candidate, net.c.pk(cheat), "an honest node accused");
                    assert!(
                        !matches!(outcome, AuditOutcome::Refuted { .. }),
                        "the cheater was cleared: {outcome:?}"
                    );
                    upheld += u32::from(matches!(outcome, AuditOutcome::Upheld { .. }));
                }
                LedgerEvent::PayoutFailed { round, .. }
                | LedgerEvent::RoundSettledUnpaid { round, .. } => {
                    panic!("round {round} not paid")
                }
                _ => {}
            }
        }
    }
    upheld
}

/// Two nodes' task turns "time-bombed" at round 2: every check answers `Invalid`. Their
/// nodes see more than half of each round's sample called `Invalid`, raise nothing, vote
/// `Abstain` on the seats they owe, and alert once per round; no honest node is accused,
/// nor are the bombed nodes slashed, and the real cheater is still caught.
#[test]
fn a_task_calling_most_peers_invalid_makes_the_node_abstain() {
    let mut net = Net::new(6, 6);
    net.bombed = BTreeMap::from([(1, 2), (2, 2)]);
    // Abstaining seats can leave a verdict unresolved, never refute the cheater.
    let upheld = run_expecting_only_the_cheater_caught(&mut net, 9, 6);
    assert!(upheld >= 2, "garbage proofs caught {upheld} times");
    for who in [1, 2] {
        let votes = net.votes_of(who);
        assert!(
            votes
                .iter()
                .all(|(r, _, v)| *r < 2 || *v != Verdict::Invalid),
            "bombed node {who} voted Invalid: {votes:?}"
        );
        let rounds: Vec<u64> = net
            .alerts
            .iter()
            .filter(|(n, _)| *n == who)
            .map(|(_, a)| match a {
                Action::SuspectAudits {
                    round,
                    sampled,
                    checked,
                    invalid,
                    unstake,
                    ..
                } => {
                    assert_eq!((*sampled, *checked, *invalid, *unstake), (3, 3, 3, false));
                    *round
                }
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(rounds, (2..=7).collect::<Vec<_>>(), "node {who} alerts");
        assert_eq!(net.cores[who - 1].stats().suspect_rounds, 6);
        assert_eq!(net.cores[who - 1].suspect_rounds(&net.task), 6);
        assert_eq!(net.unstakes_of(who), 0, "the default policy only abstains");
    }
    // The seats the bombed nodes owed on the cheater's audits were voted, as Abstain.
    let abstained = [1, 2]
        .iter()
        .flat_map(|w| net.votes_of(*w))
        .filter(|(r, c, v)| *r >= 2 && *c == net.c.pk(6) && *v == Verdict::Abstain)
        .count();
    assert!(abstained >= 2, "bombed nodes' seat votes: {abstained}");
    // Nobody honest alerted; nobody but the cheater lost stake.
    assert!(net.alerts.iter().all(|(n, _)| [1, 2].contains(n)));
    for i in 1..=5 {
        let s = net.c.ledger.stake(&net.task, &net.c.pk(i)).unwrap();
        assert_eq!(s.amount, 10_000, "node {i} slashed");
    }
    net.c.ledger.assert_supply_conserved();
}

/// Fast slots (a 30-slot raise window): one bad proof in a sample of three is raised as soon
/// as the sample is checked, with no alert — the guard holds nothing once the sample is done.
#[test]
fn a_few_invalid_proofs_are_still_raised() {
    let params = TaskParams {
        name: "fast".into(),
        round_time: 80,
        submission_window: 10,
        audit_window: 60,
        minimum_stake: 1_000,
        bounty_per_round: 70_000,
        committee_size: 16,
        audit_sample: 3,
        ..TaskParams::default()
    };
    let mut net = Net::with(6, 6, Some(100), params);
    let clock = net.c.ledger.clock(&net.task).unwrap();
    let upheld = run_expecting_only_the_cheater_caught(&mut net, 7, 6);
    assert!(upheld >= 4, "garbage proofs caught {upheld} times");
    assert!(net.alerts.is_empty(), "{:?}", net.alerts);
    // Every round the cheater submitted in (a slash costs it the next round) was raised early.
    let mut rounds = 0;
    for r in 1..=5 {
        if net
            .c
            .ledger
            .submission(&net.task, r, &net.c.pk(6))
            .is_none()
        {
            continue;
        }
        rounds += 1;
        let opens = clock.window(Window::ProofAudit, r, 0).opens;
        let a = net
            .c
            .ledger
            .audit(&net.task, r, &net.c.pk(6))
            .expect("raised");
        assert!(
            a.trigger_slot <= opens + 2,
            "round {r}: raised at {} (window opens {opens}): held needlessly",
            a.trigger_slot
        );
    }
    assert!(rounds >= 3, "the cheater submitted in {rounds} rounds");
}

/// A sampled check that never comes back holds the raise, but only until just before the raise
/// cutoff: the raise on the one bad proof still lands inside the raise window.
#[test]
fn a_held_raise_still_lands_before_the_cutoff() {
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
    net.stuck_valid = Some(1);
    net.others_blind = true;
    let clock = net.c.ledger.clock(&net.task).unwrap();
    while net.c.ledger.slot() < clock.start(3) {
        net.step();
    }
    let w = clock.window(Window::ProofAudit, 1, 0);
    let last = raise_last_slot(w.opens, clock.audit_window, 100);
    let a = net
        .c
        .ledger
        .audit(&net.task, 1, &net.c.pk(4))
        .expect("raised");
    assert_eq!(a.accuser, net.c.pk(1));
    assert!(
        (last - 2..=last).contains(&a.trigger_slot),
        "raised at {}, cutoff {last}",
        a.trigger_slot
    );
    assert!(
        net.alerts.is_empty(),
        "one Invalid of one checked: no alert"
    );
}

/// `abstain-and-unstake`: the node abstains like the default and also unstakes, once, and does
/// not stake again; a node with the default policy never unstakes.
#[test]
fn abstain_and_unstake_policy_unstakes_once() {
    let mut net = Net::new(6, 6);
    net.bombed = BTreeMap::from([(1, 2), (2, 2)]);
    net.set_guard(
        1,
        AuditGuard {
            invalid_share_max_bps: 5_000,
            on_suspect: SuspectPolicy::AbstainAndUnstake,
        },
    );
    run_expecting_only_the_cheater_caught(&mut net, 9, 6);
    assert_eq!(net.unstakes_of(1), 1);
    assert_eq!(net.unstakes_of(2), 0);
    let s = net.c.ledger.stake(&net.task, &net.c.pk(1)).unwrap();
    assert!(s.unstake_round.is_some(), "{s:?}");
    assert_eq!(s.amount, 10_000);
    let first = net
        .sent
        .iter()
        .find(|(n, _, ix)| *n == 1 && matches!(ix, Instruction::Unstake { .. }))
        .map(|(_, at, _)| *at)
        .unwrap();
    assert!(
        !net.sent
            .iter()
            .any(|(n, at, ix)| *n == 1 && *at > first && matches!(ix, Instruction::Stake { .. })),
        "staked again after leaving"
    );
    assert!(net.alerts.iter().any(|(n, a)| *n == 1
        && matches!(
            a,
            Action::SuspectAudits {
                round: 2,
                unstake: true,
                ..
            }
        )));
    assert!(net
        .votes_of(1)
        .iter()
        .all(|(r, _, v)| *r < 2 || *v != Verdict::Invalid));
}

/// One node's core, configured to stake 10,000 ROE on a fresh task, driven by hand (no
/// block includes its transactions). `max_age`: the chain's `tx_max_age_slots`, if not the
/// testkit's.
fn lone_node(max_age: Option<u64>) -> (TestChain, TaskId, NodeCore) {
    let mut c = TestChain::new(2, 1_000_000);
    if let Some(tx_max_age_slots) = max_age {
        let genesis = Genesis {
            tx_max_age_slots,
            ..c.ledger.genesis().clone()
        };
        c.ledger = Ledger::new(genesis);
        c.ledger.paranoid = true;
    }
    let params = TaskParams {
        name: "lone".into(),
        round_time: 20,
        submission_window: 6,
        audit_window: 6,
        minimum_stake: 1_000,
        bounty_per_round: 70_000,
        ..TaskParams::default()
    };
    let task = c.create_task(0, 7, params, 900_000);
    let mut core = NodeCore::new(c.pk(1), Hash([1; 32]));
    core.add_task(
        task,
        TaskConfig {
            stake_roe: Some(10_000),
            url: "http://n1".into(),
            claim_at_roe: None,
            audit_guard: AuditGuard::default(),
        },
    );
    (c, task, core)
}

/// Stakes add up: a `Stake` that has not landed is not sent again while it still could land
/// (genesis `tx_max_age_slots`), so a slow block or a lagging view cannot double the node's
/// stake. Here every `Stake` is dropped; the node retries only after each one has expired.
#[test]
fn a_stake_slow_to_land_is_not_sent_twice() {
    const MAX_AGE: u64 = 40;
    let (mut c, _task, mut core) = lone_node(Some(MAX_AGE));
    let mut stakes_at = Vec::new();
    for _ in 0..100 {
        let view = CachedView::new(&c.ledger);
        core.handle_slot(&view);
        while let Some(a) = core.poll_action() {
            if let Action::Send {
                ix: Instruction::Stake { .. },
                ..
            } = a
            {
                stakes_at.push(view.slot() + 1);
            }
        }
        c.next(vec![]);
    }
    assert!(stakes_at.len() >= 2, "retried after expiry: {stakes_at:?}");
    for w in stakes_at.windows(2) {
        assert!(w[1] - w[0] > MAX_AGE, "sent again too soon: {stakes_at:?}");
    }
}

/// A task the shell holds back (paused, withdrawn) gets no new work, proof, audit or stake
/// from the core, and nothing is left half-asked: released, it stakes and works at once.
#[test]
fn a_held_task_gets_no_new_work_and_resumes_whole() {
    let (mut c, task, mut core) = lone_node(None);
    core.set_held(&task, true);
    for _ in 0..30 {
        core.handle_slot(&CachedView::new(&c.ledger));
        assert!(core.poll_action().is_none(), "held: nothing to do");
        c.next(vec![]);
    }
    core.set_held(&task, false);
    core.handle_slot(&CachedView::new(&c.ledger));
    let mut stake = false;
    while let Some(a) = core.poll_action() {
        stake |= matches!(
            a,
            Action::Send {
                ix: Instruction::Stake { .. },
                ..
            }
        );
    }
    assert!(stake, "released: it stakes at once");
}
