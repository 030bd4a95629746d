//! Regression tests for the holes of issue #8 that protocol v2 closes (SPEC changes marked
//! [v2]). One test (or a few) per hole, named after it; each says what the attack was on v1
//! and why the test would fail on v1 code.
//!
//! The standard task here is the one of the unit tests: key 0 creates it at slot 1 (`S0 = 1`),
//! `RT = 10`, `SW = 3`, `AW = 3` (slot_ms 3000, so `V = 1`), `start(r) = 1 + 10·r`; nodes stake
//! at slot 2. Round 1's windows:
//!
//! ```text
//!   proof submission 21..24   proof audit 24..27 (raises until 25)   ranking at 27
//!   attempt a: distribution submission 31+10a..34+10a, audit 34+10a..37+10a, close at 37+10a
//! ```

use borsh::BorshDeserialize;
use gradual_ledger::block::{BlockSeal, FailReason};
use gradual_ledger::error::RoundState;
use gradual_ledger::state::{
    tag, AttemptOutcome, AuditOutcome, Committee, Meta, RoundStatus, StakeRecord,
};
use gradual_ledger::testkit::{key, TestChain};
use gradual_ledger::{
    audit_seed, distribution_digest, draw_committee, rank_candidates, BlockError, BlockOutput,
    CheckedTx, Ledger, LedgerEvent, Span, TxError, Window,
};
use gradual_types::constants::{vote_window_slots, PROTOCOL_VERSION};
use gradual_types::{
    DecodeError, Genesis, GenesisError, Hash, Instruction, ParamError, Pubkey, Slot, TaskId,
    TaskParams, Transaction, UrlError, ValidatorKey, Verdict, TX_VERSION,
};
use std::collections::{BTreeMap, BTreeSet};

// ----- helpers (small copies of the crate-private unit-test helpers) ---------------------------

const BALANCE: u64 = 1_000_000;
const BOUNTY: u64 = 100_000;
const STAKE: u64 = 10_000;
const MIN_STAKE: u64 = 100;
const BOUNTY_PER_ROUND: u64 = 1_000;

fn params() -> TaskParams {
    TaskParams {
        name: "v2".into(),
        round_time: 10,
        submission_window: 3,
        audit_window: 3,
        minimum_stake: MIN_STAKE,
        bounty_per_round: BOUNTY_PER_ROUND,
        committee_size: 8,
        ..TaskParams::default()
    }
}

struct Net {
    c: TestChain,
    task: TaskId,
}

impl Net {
    fn new(nodes: usize) -> Net {
        Net::with(nodes, params(), STAKE)
    }

    fn with(nodes: usize, params: TaskParams, stake: u64) -> Net {
        Net::with_stakes(params, &vec![stake; nodes])
    }

    /// Key 0 creates the task at slot 1; node `i + 1` stakes `stakes[i]` at slot 2. Keys up to
    /// `nodes + 2` (and at least 0..8) are funded.
    fn with_stakes(params: TaskParams, stakes: &[u64]) -> Net {
        let mut c = TestChain::new((stakes.len() as u32 + 3).max(8), BALANCE);
        let task = c.create_task(0, 1, params, BOUNTY);
        assert_eq!(c.ledger.slot(), 1);
        let txs: Vec<Transaction> = stakes
            .iter()
            .enumerate()
            .map(|(i, &amount)| {
                c.tx(
                    i + 1,
                    Instruction::Stake {
                        task,
                        amount,
                        url: format!("http://node{}", i + 1),
                        owner: None,
                    },
                )
            })
            .collect();
        if !txs.is_empty() {
            all_ok(&c.next(txs));
        }
        Net { c, task }
    }

    fn pk(&self, i: usize) -> Pubkey {
        self.c.pk(i)
    }

    fn span(&self, w: Window, round: u64, attempt: u16) -> Span {
        self.c
            .ledger
            .clock(&self.task)
            .expect("task")
            .window(w, round, attempt)
    }

    fn tx(&self, who: usize, ix: Instruction) -> Transaction {
        self.c.tx(who, ix)
    }

    /// Same instruction, distinct signature.
    fn tx_recent(&self, who: usize, ix: Instruction, recent_slot: Slot) -> Transaction {
        Transaction::new_signed(&self.c.keys[who], &self.c.chain_id, recent_slot, 0, ix)
    }

    /// Empty blocks up to `slot - 1`, then a block at `slot` with `txs`.
    fn block(&mut self, slot: Slot, txs: Vec<Transaction>) -> BlockOutput {
        assert!(slot > self.c.ledger.slot(), "slot {slot} already passed");
        self.c.run_to(slot - 1);
        self.c.next(txs)
    }

    fn run_at(&mut self, slot: Slot, who: usize, ix: Instruction) -> Result<(), TxError> {
        let tx = self.tx(who, ix);
        self.block(slot, vec![tx]).receipts.remove(0).result
    }

    fn submit_ix(&self, who: usize, round: u64) -> Instruction {
        Instruction::SubmitProof {
            task: self.task,
            round,
            value: Hash::domain("v2/proof", &[&self.pk(who).0, &round.to_le_bytes()])
                .0
                .to_vec(),
        }
    }

    fn submit_all(&mut self, round: u64, nodes: &[usize]) -> BlockOutput {
        let slot = self.span(Window::ProofSubmission, round, 0).opens;
        let txs = nodes
            .iter()
            .map(|&n| self.tx(n, self.submit_ix(n, round)))
            .collect();
        let out = self.block(slot, txs);
        all_ok(&out);
        out
    }

    fn audit_ix(&self, round: u64, candidate: &Pubkey, verdict: Verdict) -> Instruction {
        Instruction::AuditProof {
            task: self.task,
            round,
            candidate: *candidate,
            verdict,
        }
    }

    fn idx(&self, pk: &Pubkey) -> usize {
        self.c
            .keys
            .iter()
            .position(|k| k.pubkey() == *pk)
            .expect("a test key")
    }

    fn selected(&self, round: u64, attempt: u16) -> usize {
        let a = self
            .c
            .ledger
            .attempt(&self.task, round, attempt)
            .expect("attempt open");
        self.idx(&a.submitter)
    }

    fn chunk_ix(
        &self,
        round: u64,
        attempt: u16,
        index: u32,
        entries: Vec<(Pubkey, u64)>,
    ) -> Instruction {
        Instruction::UploadDistributionChunk {
            task: self.task,
            round,
            attempt,
            index,
            entries,
        }
    }

    fn submit_list_ix(&self, round: u64, attempt: u16, list: &[(Pubkey, u64)]) -> Instruction {
        Instruction::SubmitDistribution {
            task: self.task,
            round,
            attempt,
            digest: distribution_digest(list),
            count: list.len() as u32,
        }
    }

    fn vote_list_ix(&self, round: u64, attempt: u16, verdict: Verdict) -> Instruction {
        Instruction::AuditDistribution {
            task: self.task,
            round,
            attempt,
            verdict,
        }
    }

    /// The selected node uploads `list` (two entries per chunk) and submits it in one block at
    /// `slot`.
    fn distribute_at(&mut self, slot: Slot, round: u64, attempt: u16, list: &[(Pubkey, u64)]) {
        self.c.run_to(slot - 1);
        let who = self.selected(round, attempt);
        let mut txs: Vec<Transaction> = list
            .chunks(2)
            .enumerate()
            .map(|(i, e)| self.tx(who, self.chunk_ix(round, attempt, i as u32, e.to_vec())))
            .collect();
        txs.push(self.tx(who, self.submit_list_ix(round, attempt, list)));
        all_ok(&self.block(slot, txs));
    }

    /// Equal split of `bounty_per_round` among the non-voided submitters (SDK default).
    fn fair_list(&self, round: u64) -> Vec<(Pubkey, u64)> {
        let bpr = self
            .c
            .ledger
            .round_record(&self.task, round)
            .expect("round")
            .terms
            .bounty_per_round;
        let subs: Vec<Pubkey> = self
            .c
            .ledger
            .submissions(&self.task, round)
            .into_iter()
            .filter(|(_, s)| !s.voided)
            .map(|(n, _)| n)
            .collect();
        let share = bpr / subs.len() as u64;
        subs.into_iter().map(|n| (n, share)).collect()
    }

    /// `nodes` submit for `round`; attempt 0's node submits the fair list; nobody votes; the
    /// list is paid at the close of its audit window. Returns the list.
    fn pay_round(&mut self, round: u64, nodes: &[usize]) -> Vec<(Pubkey, u64)> {
        self.submit_all(round, nodes);
        let open = self.span(Window::DistributionSubmission, round, 0).opens;
        self.c.run_to(open - 1);
        let list = self.fair_list(round);
        self.distribute_at(open, round, 0, &list);
        let close = self.span(Window::DistributionAudit, round, 0).closes;
        self.c.run_to(close);
        assert!(matches!(
            self.c
                .ledger
                .round_record(&self.task, round)
                .unwrap()
                .status,
            RoundStatus::Paid { attempt: 0, .. }
        ));
        list
    }

    fn committee_of_audit(&self, round: u64, candidate: &Pubkey) -> Committee {
        self.c
            .ledger
            .audit(&self.task, round, candidate)
            .expect("audit raised")
            .committee
            .clone()
            .expect("committee drawn")
    }

    fn stake_of(&self, who: usize) -> u64 {
        self.stake_rec(who).map_or(0, |s| s.amount)
    }

    fn stake_rec(&self, who: usize) -> Option<&StakeRecord> {
        self.c.ledger.stake(&self.task, &self.pk(who))
    }

    fn reward_of(&self, pk: &Pubkey) -> u64 {
        self.c.ledger.pending_reward(&self.task, pk)
    }

    fn balance(&self, who: usize) -> u64 {
        self.c.ledger.balance(&self.pk(who))
    }

    fn bounty(&self) -> u64 {
        self.c.ledger.task(&self.task).expect("task").total_bounty
    }

    /// Supply is conserved and a replay of the block log reproduces the state root.
    fn finish(self) {
        self.c.ledger.assert_supply_conserved();
        assert_eq!(
            self.c.replay(),
            self.c.ledger.state_root(),
            "replay diverged"
        );
    }
}

fn results(out: &BlockOutput) -> Vec<Result<(), TxError>> {
    out.receipts.iter().map(|r| r.result.clone()).collect()
}

fn all_ok(out: &BlockOutput) {
    for (i, r) in out.receipts.iter().enumerate() {
        assert_eq!(
            r.result,
            Ok(()),
            "tx {i} of the block at {}",
            out.block.header.slot
        );
    }
}

/// The chain-wide counters (not exposed by a query): decoded from the state's records.
fn meta(l: &Ledger) -> Meta {
    let w = l
        .records()
        .into_iter()
        .find(|w| w.table == tag::META)
        .expect("a meta record");
    Meta::try_from_slice(&w.value.expect("live")).expect("meta decodes")
}

/// An independent copy of a ledger (what an attacker replaying the chain holds).
fn fork(l: &Ledger) -> Ledger {
    let recs = l
        .records()
        .into_iter()
        .map(|w| (w.table, w.key, w.value.expect("live record")));
    let copy = Ledger::from_records(l.genesis().clone(), recs, l.head_hash()).expect("loads");
    assert_eq!(copy.state_root(), l.state_root());
    copy
}

/// Apply a block sealed by the devnet validator (the test chains' producer).
fn apply(l: &mut Ledger, slot: Slot, txs: Vec<Transaction>) -> BlockOutput {
    let seal = l.seal(&ValidatorKey::devnet(), slot);
    let parent = l.head_hash();
    l.apply_block(
        slot,
        parent,
        seal,
        txs.into_iter().map(CheckedTx::check).collect(),
    )
    .expect("block applies")
}

fn seats_total(c: &Committee) -> u32 {
    c.seats.iter().map(|(_, s)| u32::from(*s)).sum()
}

// ----- hole 1: grindable randomness ------------------------------------------------------------

/// v1 attack: committee seeds were `hash(block hash ‖ …)` and `seed_r` a block hash. An
/// accuser replays the chain, re-signs its own trigger with other `fee` / `recent_slot`
/// values (each a different signature, so a different tx root and block hash) and sends the
/// variant whose committee it likes. On v1 the 50 variants below give many different
/// committees (the test shows that hash-seeded draws differ), so `assert_eq` on the drawn
/// committees fails; on v2 the seed is the block's VRF randomness, which no transaction can
/// change. Same for the candidate ranking: varying a transaction in the blocks around the
/// proof audit window's close must not change `seed_r` or the ranking.
#[test]
fn hole1_committee_cannot_be_ground_by_tx_variants() {
    let mut p = params();
    p.committee_size = 16;
    let stakes: Vec<u64> = (1..=10).map(|i| 5_000 + 1_000 * i).collect();
    let mut net = Net::with_stakes(p, &stakes);
    let nodes: Vec<usize> = (1..=10).collect();
    net.submit_all(1, &nodes);
    let (accuser, candidate) = (1usize, net.pk(2));
    let trigger = net.span(Window::ProofAudit, 1, 0).opens; // 24
    net.c.run_to(trigger - 1);

    // The accuser's replay: 50 variants of its own trigger, each applied to a copy of the chain.
    let mut committees = BTreeSet::new();
    let mut block_hashes = BTreeSet::new();
    let mut v1_committees = BTreeSet::new();
    let pool = net.c.ledger.eligible_stakers(&net.task, 2, MIN_STAKE);
    let exclude = [candidate, net.pk(accuser)];
    for i in 0..50u64 {
        let mut l = fork(&net.c.ledger);
        let tx = Transaction::new_signed(
            &net.c.keys[accuser],
            "test",
            trigger - 1 - (i % 20),
            i / 20,
            net.audit_ix(1, &candidate, Verdict::Invalid),
        );
        let out = apply(&mut l, trigger, vec![tx]);
        all_ok(&out);
        block_hashes.insert(out.block.hash());
        // What a v1 ledger would have seeded the committee with.
        let v1_seed = audit_seed(&out.block.hash(), &net.task, 1, &candidate);
        v1_committees.insert(draw_committee(&v1_seed, &pool, &exclude, 16));
        let randomness = out.block.header.randomness;
        apply(&mut l, trigger + 1, vec![]);
        let a = l.audit(&net.task, 1, &candidate).expect("raised");
        assert_eq!(a.seed, audit_seed(&randomness, &net.task, 1, &candidate));
        let c = a.committee.clone().expect("drawn");
        assert_eq!(seats_total(&c), 16);
        assert_eq!(c.seats, draw_committee(&a.seed, &pool, &exclude, 16));
        committees.insert(c.seats);
    }
    assert_eq!(block_hashes.len(), 50, "every variant is a different block");
    assert!(
        v1_committees.len() > 10,
        "hash-seeded (v1) draws could be ground: {} distinct committees",
        v1_committees.len()
    );
    assert_eq!(
        committees.len(),
        1,
        "the drawn committee never depends on the tx"
    );

    // seed_r: vary a transaction in the last block of the proof audit window and in the
    // block that runs the close; the ranking stays the same.
    let close = net.span(Window::ProofAudit, 1, 0).closes; // 27
    net.c.run_to(close - 2);
    let mut rankings = BTreeSet::new();
    let mut v1_rankings = BTreeSet::new();
    let mut hashes = BTreeSet::new();
    for i in 0..50u64 {
        let mut l = fork(&net.c.ledger);
        let transfer = |amount: u64| {
            Transaction::new_signed(
                &net.c.keys[11],
                "test",
                close - 2,
                0,
                Instruction::Transfer {
                    to: net.pk(12),
                    amount,
                },
            )
        };
        all_ok(&apply(&mut l, close - 1, vec![transfer(1 + i)]));
        let out = apply(&mut l, close, vec![transfer(1_000 + i)]);
        all_ok(&out);
        hashes.insert(out.block.hash());
        let rec = l.round_record(&net.task, 1).expect("round");
        assert_eq!(
            rec.seed,
            Some(out.block.header.randomness),
            "seed_r = randomness"
        );
        // Reproducible by any client: stake-weighted at the start of round 2, all in tier 1.
        let cands: Vec<(Pubkey, u8, u64)> = nodes
            .iter()
            .map(|&n| (net.pk(n), 1, stakes[n - 1]))
            .collect();
        assert_eq!(
            rec.candidates,
            rank_candidates(&rec.seed.unwrap(), &cands, 4)
        );
        rankings.insert(rec.candidates.clone());
        // A v1-style seed_r (a block hash) follows the transactions.
        v1_rankings.insert(rank_candidates(&out.block.header.parent_hash, &cands, 4));
    }
    assert_eq!(hashes.len(), 50);
    assert!(
        v1_rankings.len() > 10,
        "hash-seeded rankings could be ground"
    );
    assert_eq!(rankings.len(), 1, "the ranking never depends on the txs");
    net.finish();
}

/// A block's randomness must be the producer's VRF output for (chain, slot, parent
/// randomness). v1 took randomness from block hashes and had no producer check: any block
/// applied. Each refused block below would have applied on v1.
#[test]
fn hole1_block_randomness_is_verified() {
    let mut c = TestChain::new(4, BALANCE);
    c.run_to(3);
    let (root, head, slot) = (c.ledger.state_root(), c.ledger.head_hash(), 4);
    let devnet = ValidatorKey::devnet();
    let stranger = ValidatorKey::from_seed([77; 32]);
    let try_seal = |c: &mut TestChain, seal: BlockSeal| {
        c.ledger
            .apply_block(slot, head, seal, vec![])
            .map(|_| ())
            .unwrap_err()
    };
    let bad = BlockError::BadRandomness {
        producer: devnet.id(),
    };
    let mut s = c.ledger.seal(&devnet, slot);
    s.vrf_proof.proof[0] ^= 1;
    assert_eq!(try_seal(&mut c, s), bad, "tampered proof");
    let mut s = c.ledger.seal(&devnet, slot);
    s.vrf_proof.preout[3] ^= 1;
    assert_eq!(try_seal(&mut c, s), bad, "tampered output");
    let s = c.ledger.seal(&devnet, slot + 1);
    assert_eq!(try_seal(&mut c, s), bad, "a proof for another slot");
    let s = BlockSeal {
        producer: devnet.id(),
        vrf_proof: c.ledger.seal(&stranger, slot).vrf_proof,
    };
    assert_eq!(try_seal(&mut c, s), bad, "another key's proof");
    let s = c.ledger.seal(&stranger, slot);
    assert_eq!(
        try_seal(&mut c, s),
        BlockError::UnknownProducer {
            producer: stranger.id()
        }
    );
    assert_eq!((c.ledger.state_root(), c.ledger.slot()), (root, 3));
    let (expected, _) = devnet.prove(&c.ledger.vrf_input(slot));
    let out = c.block_at(slot, vec![]);
    assert_eq!(out.block.header.randomness, expected);
    assert_eq!(c.ledger.head_randomness(), out.block.header.randomness);
    assert_eq!(c.replay(), c.ledger.state_root());
}

/// The validator set is ledger state, changed only by the admin, from a later slot on. (v1
/// had no validator set at all.)
#[test]
fn hole1_validator_set_change_takes_effect_at_from_slot() {
    let keys: Vec<_> = (0..4).map(key).collect();
    let genesis = Genesis {
        chain_id: "test".into(),
        slot_ms: 3_000,
        accounts: keys.iter().map(|k| (k.pubkey(), BALANCE)).collect(),
        admin: Some(keys[0].pubkey()),
        ..Genesis::default()
    };
    let mut c = TestChain {
        ledger: Ledger::new(genesis),
        keys,
        chain_id: "test".into(),
        fee: 0,
        blocks: Vec::new(),
        validator: ValidatorKey::devnet(),
    };
    let devnet = ValidatorKey::devnet();
    let next = ValidatorKey::from_seed([42; 32]);
    let set = |from_slot| Instruction::SetValidators {
        validators: vec![next.info()],
        from_slot,
    };
    assert_eq!(c.run(1, set(10)), Err(TxError::NotAdmin { admin: c.pk(0) }));
    assert_eq!(
        c.run(0, set(2)),
        Err(TxError::ValidatorsTooSoon {
            from_slot: 2,
            slot: 2
        })
    );
    assert_eq!(c.run(0, set(6)), Ok(())); // at slot 3
    assert_eq!(c.ledger.validators_at(5), &[devnet.info()]);
    assert_eq!(c.ledger.validators_at(6), &[next.info()]);
    c.run_to(4);
    // Before from_slot the new key is not a producer yet.
    let head = c.ledger.head_hash();
    let seal = c.ledger.seal(&next, 5);
    assert_eq!(
        c.ledger
            .apply_block(5, head, seal, vec![])
            .map(|_| ())
            .unwrap_err(),
        BlockError::UnknownProducer {
            producer: next.id()
        }
    );
    c.next(vec![]); // slot 5 by the old key
                    // From from_slot on, the old key is not (also after skipped slots).
    let head = c.ledger.head_hash();
    for slot in [6u64, 8] {
        let seal = c.ledger.seal(&devnet, slot);
        assert_eq!(
            c.ledger
                .apply_block(slot, head, seal, vec![])
                .map(|_| ())
                .unwrap_err(),
            BlockError::UnknownProducer {
                producer: devnet.id()
            }
        );
    }
    c.validator = next.clone();
    c.block_at(7, vec![]); // slot 6 skipped: the new set applies
    assert_eq!(c.ledger.validators_at(7), &[next.info()]);
    c.next(vec![]);
    assert_eq!(
        c.replay(),
        c.ledger.state_root(),
        "replay checks each block's set"
    );

    // A chain without an admin has a fixed set.
    let mut c2 = TestChain::new(2, BALANCE);
    assert_eq!(c2.run(0, set(10)), Err(TxError::NoAdmin));
}

// ----- hole 2: stake added after the round start -----------------------------------------------

/// v1 attack: committees were drawn with the stakes of the moment of the draw (the block
/// after the trigger), so a node that saw the public seed could stake (or top up) just before
/// the draw and take most seats. On v1 node 7's fresh 900 000 ROE and node 3's top-up weigh
/// in (the test shows the "current stakes" draw gives node 7 seats), so the asserts that
/// node 7 holds no seat and that the committee equals the round-start draw fail. On v2
/// weights are stakes at the start of the round in which the audit window lies.
#[test]
fn hole2_stake_added_after_round_start_gets_no_seats() {
    let mut p = params();
    p.committee_size = 32;
    let mut net = Net::with(6, p, STAKE);
    net.submit_all(1, &[1, 2, 3, 4, 5, 6]);
    let task = net.task;
    // Round 2 (slots 21..31) holds round 1's proof audit window 24..27.
    let big = 900_000;
    let top_up = Instruction::Stake {
        task,
        amount: big,
        url: String::new(),
        owner: None,
    };
    assert_eq!(net.run_at(22, 3, top_up.clone()), Ok(()));
    // Node 7 stakes in the very block that raises the audit (the seed is public from then on).
    let (accuser, candidate) = (1usize, net.pk(2));
    let raise = net.tx(accuser, net.audit_ix(1, &candidate, Verdict::Invalid));
    let stake7 = net.tx(7, top_up.clone());
    all_ok(&net.block(24, vec![raise, stake7]));
    net.c.next(vec![]); // draw at 25
    let committee = net.committee_of_audit(1, &candidate);

    let pool = net.c.ledger.eligible_stakers(&task, 2, MIN_STAKE);
    assert!(
        pool.iter().all(|(n, _)| *n != net.pk(7)),
        "node 7 not eligible"
    );
    assert!(
        pool.contains(&(net.pk(3), STAKE)),
        "node 3 weighs its round-start stake"
    );
    let exclude = [candidate, net.pk(accuser)];
    assert_eq!(
        committee.seats,
        draw_committee(&committee.seed, &pool, &exclude, 32)
    );
    assert_eq!(committee.seats_of(&net.pk(7)), 0);
    assert_eq!(seats_total(&committee), 32);
    // What a v1 draw (current stakes) would have given.
    let now: Vec<(Pubkey, u64)> = net
        .c
        .ledger
        .stakes_of_task(&task)
        .into_iter()
        .map(|(n, s)| (n, s.amount))
        .collect();
    let v1 = draw_committee(&committee.seed, &now, &exclude, 32);
    let v1_seats = |n: Pubkey| v1.iter().find(|(m, _)| *m == n).map_or(0, |x| x.1);
    assert!(v1_seats(net.pk(7)) > 0, "on v1 the late stake would sit");
    assert!(v1_seats(net.pk(3)) > committee.seats_of(&net.pk(3)));

    // The new stake counts from the next round on: round 2's audit window lies in round 3.
    let next = net.c.ledger.eligible_stakers(&task, 3, MIN_STAKE);
    assert!(next.contains(&(net.pk(7), big)));
    assert!(next.contains(&(net.pk(3), STAKE + big)));
    net.submit_all(2, &[1, 2, 3, 4, 5, 6]);
    let raise = net.audit_ix(2, &candidate, Verdict::Invalid);
    assert_eq!(net.run_at(34, accuser, raise), Ok(()));
    net.c.next(vec![]);
    let c2 = net.committee_of_audit(2, &candidate);
    assert!(c2.seats_of(&net.pk(7)) > 0, "node 7 sits from round 3 on");
    assert_eq!(c2.seats, draw_committee(&c2.seed, &next, &exclude, 32));
    net.finish();
}

// ----- hole 3: late raises ---------------------------------------------------------------------

/// v1 attack: a false accuser raised at the last slot of the audit window; the committee was
/// drawn at the close, nobody could vote, the audit was unresolved and the accuser escaped
/// the refutation slash. On v1 the raise at slot 50 (and 52) succeeds instead of
/// `RaiseTooLate`. On v2 raises stop `V` slots before the close, so the committee of the
/// last allowed raise still has `V` slots and refutes the accuser.
#[test]
fn hole3_late_raise_is_refused() {
    let p = TaskParams {
        round_time: 20,
        submission_window: 3,
        audit_window: 9,
        ..params()
    };
    let v = vote_window_slots(3_000, 9);
    assert_eq!(v, 3);
    let mut net = Net::with(8, p, STAKE);
    // start(r) = 1 + 20 r: round 1's proofs 41..44, audit window 44..53, raises until 49.
    net.submit_all(1, &[1, 2, 3, 4, 5, 6, 7, 8]);
    let audit = net.span(Window::ProofAudit, 1, 0);
    assert_eq!(
        audit,
        Span {
            opens: 44,
            closes: 53
        }
    );
    let last = audit.closes - v - 1;
    assert_eq!(last, 49);
    let (accuser, candidate) = (1usize, net.pk(2));
    assert_eq!(
        net.run_at(last, accuser, net.audit_ix(1, &candidate, Verdict::Invalid)),
        Ok(())
    );
    // The committee of the last allowed raise is drawn at 50: slots 50, 51 and 52 to vote.
    // Its seat holders all vote Valid, the last one at the window's last slot; meanwhile
    // raises at 50 and 52 are refused.
    let late = |net: &Net, slot: Slot| {
        net.tx_recent(3, net.audit_ix(1, &net.pk(4), Verdict::Invalid), slot - 1)
    };
    // Seat holders know the committee before it is drawn (public seed, round-start stakes).
    let seed = net.c.ledger.audit(&net.task, 1, &candidate).unwrap().seed;
    let pool = net.c.ledger.eligible_stakers(&net.task, 2, MIN_STAKE);
    let predicted = draw_committee(&seed, &pool, &[candidate, net.pk(accuser)], 8);
    let holders: Vec<Pubkey> = predicted.iter().map(|(n, _)| *n).collect();
    let vote =
        |net: &Net, n: &Pubkey| net.tx(net.idx(n), net.audit_ix(1, &candidate, Verdict::Valid));
    let (last_holder, rest) = holders.split_last().expect("a committee");
    let (early, middle) = rest.split_at(rest.len() / 2);
    let mut txs: Vec<Transaction> = early.iter().map(|n| vote(&net, n)).collect();
    txs.push(late(&net, last + 1));
    let out = net.block(last + 1, txs); // 50: the draw, then votes
    let res = results(&out);
    assert!(res[..res.len() - 1].iter().all(Result::is_ok), "{res:?}");
    assert_eq!(
        res.last().unwrap(),
        &Err(TxError::RaiseTooLate {
            last_slot: last,
            slot: last + 1
        })
    );
    let committee = net.committee_of_audit(1, &candidate);
    assert_eq!(committee.seats, predicted);
    assert_eq!(seats_total(&committee), 8);
    assert!(audit.closes - (last + 1) >= v, "V slots left to vote");
    let txs = middle.iter().map(|n| vote(&net, n)).collect();
    all_ok(&net.c.next(txs)); // 51
    let mut txs = vec![vote(&net, last_holder)];
    txs.push(late(&net, audit.closes - 1));
    let out = net.block(audit.closes - 1, txs); // 52
    let res = results(&out);
    assert!(res[..res.len() - 1].iter().all(Result::is_ok), "{res:?}");
    assert_eq!(
        res.last().unwrap(),
        &Err(TxError::RaiseTooLate {
            last_slot: last,
            slot: audit.closes - 1
        })
    );
    assert!(net.c.ledger.audit(&net.task, 1, &net.pk(4)).is_none());
    // At the close the false accuser is refuted and slashed.
    let out = net.block(audit.closes, vec![]);
    let outcome = out
        .events
        .iter()
        .find_map(|e| match e {
            LedgerEvent::AuditResolved {
                candidate: c,
                outcome,
                ..
            } if c == &candidate => Some(outcome.clone()),
            _ => None,
        })
        .expect("resolved");
    assert!(
        matches!(outcome, AuditOutcome::Refuted { slashed: 1_000, .. }),
        "{outcome:?}"
    );
    assert_eq!(net.stake_of(accuser), STAKE - 1_000);
    net.finish();
}

// ----- hole 4: retroactive task updates --------------------------------------------------------

/// v1 attack: once the nodes had done round r's work, the manager changed the terms before
/// they were paid: `UpdateTask{bounty_per_round: 0, minimum_stake: huge}` applied at the next
/// round start and round r's list was checked against it (its sum exceeds a 0 limit, its
/// submitter is below the new minimum), `SetActive(false)` made round r's proofs
/// `TaskInactive`, and `CloseTask` refunded the bounty before any proof of round r arrived
/// (no round open yet). On v1 the proofs below fail, the list fails and `CloseTask`
/// succeeds at slot 21. On v2 round r is judged and paid under the terms it started with.
#[test]
fn hole4_round_terms_survive_updates() {
    let mut net = Net::new(4);
    let task = net.task;
    let hostile = TaskParams {
        bounty_per_round: 0,
        minimum_stake: u64::MAX / 2,
        ..params()
    };
    // Slot 21 = start of round 2: round 1's work is done, none of its proofs has arrived.
    let txs = vec![
        net.tx(
            0,
            Instruction::SetActive {
                task,
                active: false,
            },
        ),
        net.tx(
            0,
            Instruction::UpdateTask {
                task,
                params: hostile,
            },
        ),
        net.tx(0, Instruction::CloseTask { task }),
    ];
    let out = net.block(21, txs);
    assert_eq!(
        results(&out),
        vec![Ok(()), Ok(()), Err(TxError::RoundStillActive { round: 1 })]
    );
    assert!(!net.c.ledger.task(&task).unwrap().is_active);
    // Round 1's proofs are still taken (its terms say active).
    let txs = (1..=4).map(|n| net.tx(n, net.submit_ix(n, 1))).collect();
    all_ok(&net.block(22, txs));
    assert_eq!(
        net.run_at(23, 0, Instruction::CloseTask { task }),
        Err(TxError::RoundStillActive { round: 1 })
    );
    let t = net.c.ledger.task(&task).unwrap();
    assert!(t.terms_for(1).is_active && t.terms_for(2).is_active);
    assert!(!t.terms_for(3).is_active);
    // At 31 the update applies; attempt 0 of round 1 submits the full list in the same block.
    let open = net.span(Window::DistributionSubmission, 1, 0).opens;
    assert_eq!(open, 31);
    net.c.run_to(open - 1);
    let list = net.fair_list(1);
    assert_eq!(list.iter().map(|e| e.1).sum::<u64>(), BOUNTY_PER_ROUND);
    net.distribute_at(open, 1, 0, &list);
    let t = net.c.ledger.task(&task).unwrap();
    assert_eq!(
        t.params.bounty_per_round, 0,
        "the update applied at start(3)"
    );
    assert_eq!(t.params.minimum_stake, u64::MAX / 2);
    let terms = &net.c.ledger.round_record(&task, 1).unwrap().terms;
    assert_eq!(
        (terms.bounty_per_round, terms.minimum_stake, terms.is_active),
        (BOUNTY_PER_ROUND, MIN_STAKE, true)
    );
    let before = net.bounty();
    let out = net.block(37, vec![]);
    assert!(out.events.iter().any(|e| matches!(
        e,
        LedgerEvent::PayoutSuccessful {
            round: 1,
            total_roe: BOUNTY_PER_ROUND,
            ..
        }
    )));
    assert_eq!(net.bounty(), before - BOUNTY_PER_ROUND);
    for (n, r) in &list {
        assert_eq!(net.reward_of(n), *r);
    }
    // Round 2 started active (the deactivation counted from round 3): no refund in round 3.
    assert_eq!(
        net.run_at(38, 0, Instruction::CloseTask { task }),
        Err(TxError::RoundStillActive { round: 2 })
    );
    assert_eq!(
        net.run_at(41, 1, net.submit_ix(1, 3)),
        Err(TxError::TaskInactive)
    );
    let manager = net.balance(0);
    assert_eq!(net.run_at(42, 0, Instruction::CloseTask { task }), Ok(()));
    assert_eq!(net.balance(0), manager + BOUNTY - BOUNTY_PER_ROUND);
    net.finish();
}

// ----- hole 5: slash remainders ----------------------------------------------------------------

/// v1 attack: the part of a slash not paid to the accuser and voters went back to the task's
/// bounty, so a manager could run nodes that accuse its other nodes, grow the bounty from
/// their slashes and then close the task and take it. On v1 the bounty grows at the verdict
/// and nothing is burned, so both asserts below fail. On v2 the remainder is burned.
#[test]
fn hole5_slash_remainder_is_burned() {
    let mut net = Net::new(8);
    net.submit_all(1, &[1, 2, 3, 4, 5, 6, 7, 8]);
    // Node 1 accuses node 2 (upheld), node 3 falsely accuses node 4 (refuted).
    let (c_up, c_ref) = (net.pk(2), net.pk(4));
    let txs = vec![
        net.tx(1, net.audit_ix(1, &c_up, Verdict::Invalid)),
        net.tx(3, net.audit_ix(1, &c_ref, Verdict::Invalid)),
    ];
    all_ok(&net.block(24, txs));
    net.c.next(vec![]); // draws at 25
    let up = net.committee_of_audit(1, &c_up);
    let rf = net.committee_of_audit(1, &c_ref);
    let mut txs: Vec<Transaction> = up
        .seats
        .iter()
        .map(|(n, _)| net.tx(net.idx(n), net.audit_ix(1, &c_up, Verdict::Invalid)))
        .collect();
    txs.extend(
        rf.seats
            .iter()
            .map(|(n, _)| net.tx(net.idx(n), net.audit_ix(1, &c_ref, Verdict::Valid))),
    );
    all_ok(&net.c.next(txs)); // 26
    let (bounty, burned, held) = (
        net.bounty(),
        meta(&net.c.ledger).burned_roe,
        net.c.ledger.total_held_roe(),
    );
    let rewards_before: BTreeMap<Pubkey, u64> = (1..=8)
        .map(|n| (net.pk(n), net.reward_of(&net.pk(n))))
        .collect();
    let out = net.c.next(vec![]); // 27: verdicts
    let outcome = |cand: Pubkey| {
        out.events
            .iter()
            .find_map(|e| match e {
                LedgerEvent::AuditResolved {
                    candidate, outcome, ..
                } if *candidate == cand => Some(outcome.clone()),
                _ => None,
            })
            .expect("resolved")
    };
    let AuditOutcome::Upheld {
        slashed: s_up,
        accuser_reward,
        voter_rewards: v_up,
    } = outcome(c_up)
    else {
        panic!("upheld expected")
    };
    let AuditOutcome::Refuted {
        slashed: s_ref,
        voter_rewards: v_ref,
    } = outcome(c_ref)
    else {
        panic!("refuted expected")
    };
    assert_eq!(s_up, STAKE * 7_000 / 10_000);
    assert_eq!(accuser_reward, s_up * 2_000 / 10_000);
    assert!(v_up <= s_up * 3_000 / 10_000 && v_up > 0);
    assert_eq!(s_ref, STAKE * 1_000 / 10_000);
    assert!(v_ref <= s_ref * 3_000 / 10_000 && v_ref > 0);
    assert_eq!(net.stake_of(2), STAKE - s_up);
    assert_eq!(net.stake_of(3), STAKE - s_ref);
    // What was paid out went to pending rewards, nothing to the bounty; the rest is burned.
    let paid: u64 = (1..=8)
        .map(|n| net.reward_of(&net.pk(n)) - rewards_before[&net.pk(n)])
        .sum();
    assert_eq!(paid, accuser_reward + v_up + v_ref);
    assert_eq!(
        net.bounty(),
        bounty,
        "the bounty does not grow from slashes"
    );
    let burn = (s_up - accuser_reward - v_up) + (s_ref - v_ref);
    assert_eq!(meta(&net.c.ledger).burned_roe, burned + burn);
    assert_eq!(net.c.ledger.total_held_roe(), held - u128::from(burn));
    net.finish();
}

// ----- hole 6: cooldown ------------------------------------------------------------------------

/// v1 attack: a manager (or a node with a friendly manager) set `unstake_cooldown` to 0, or
/// lowered it after an `Unstake`, and `Withdraw` read the cooldown in force at withdrawal, so
/// a node could take its stake out before a pending verdict slashed it. On v1 the params
/// pass validation and the `Withdraw` at round 2 succeeds. On v2 the cooldown is ≥ 1 and the
/// withdrawal round is fixed when `Unstake` lands.
#[test]
fn hole6_cooldown_fixed_at_unstake() {
    let zero = TaskParams {
        unstake_cooldown: 0,
        ..params()
    };
    let err = ParamError::OutOfRange {
        field: "unstake_cooldown".into(),
        got: 0,
        min: 1,
        max: 1_000,
    };
    assert_eq!(zero.validate(), Err(err.clone()));
    let create = Instruction::CreateTask {
        nonce: 9,
        params: zero.clone(),
        total_bounty: 1,
    };
    let mut net = Net::new(3);
    let task = net.task;
    assert_eq!(
        Transaction::decode(&net.tx(0, create.clone()).encode()),
        Err(DecodeError::BadParams(err.clone()))
    );
    // A block built in-process skips decode; the ledger still refuses both.
    assert!(matches!(net.c.run(0, create), Err(TxError::Limits(_))));
    let update = |cooldown| Instruction::UpdateTask {
        task,
        params: TaskParams {
            unstake_cooldown: cooldown,
            ..params()
        },
    };
    assert!(matches!(net.c.run(0, update(0)), Err(TxError::Limits(_))));

    // Node 1 unstakes in round 1 with cooldown 3: withdraw from round 4. The manager then
    // lowers the cooldown to 1 (in force from round 2).
    assert_eq!(net.run_at(12, 1, Instruction::Unstake { task }), Ok(()));
    assert_eq!(net.stake_rec(1).unwrap().withdraw_round, Some(4));
    assert_eq!(net.run_at(13, 0, update(1)), Ok(()));
    let not_over = |round| {
        Err(TxError::CooldownNotOver {
            unstake_round: 1,
            withdraw_round: 4,
            round,
        })
    };
    assert_eq!(
        net.run_at(22, 1, Instruction::Withdraw { task }),
        not_over(2)
    );
    // The new cooldown applies to unstakes after it: node 2 unstakes in round 2, leaves in 3.
    assert_eq!(net.run_at(23, 2, Instruction::Unstake { task }), Ok(()));
    assert_eq!(net.stake_rec(2).unwrap().withdraw_round, Some(3));
    assert_eq!(
        net.run_at(31, 1, Instruction::Withdraw { task }),
        not_over(3)
    );
    let b2 = net.balance(2);
    assert_eq!(net.run_at(32, 2, Instruction::Withdraw { task }), Ok(()));
    assert_eq!(net.balance(2), b2 + STAKE);
    let b1 = net.balance(1);
    assert_eq!(net.run_at(41, 1, Instruction::Withdraw { task }), Ok(()));
    assert_eq!(net.balance(1), b1 + STAKE);
    assert!(net.stake_rec(1).is_none());
    net.finish();
}

// ----- hole 7: honest lists rejected by a lucky minority -----------------------------------------

/// Round 1 with nodes 1..=8 (cooldown 1): attempt 0's honest list is rejected by an `Invalid`
/// majority of its committee (voted at 34); the submitter and one `Invalid` voter unstake at
/// 35 (withdraw from round 4); attempt 0 fails at 37; attempt 1's node submits the same list
/// at 41 (committee drawn at 42).
struct Rejected {
    net: Net,
    c0: usize,
    c1: usize,
    list: Vec<(Pubkey, u64)>,
    /// `Invalid` voters of attempt 0 in vote order, and its `Valid` voters with their seats.
    invalid: Vec<(Pubkey, u16)>,
    valid: Vec<(Pubkey, u16)>,
    /// An `Invalid` voter that unstaked.
    w: usize,
}

fn reject_attempt_0() -> Rejected {
    let p = TaskParams {
        unstake_cooldown: 1,
        ..params()
    };
    let mut net = Net::with(8, p, STAKE);
    let task = net.task;
    net.submit_all(1, &[1, 2, 3, 4, 5, 6, 7, 8]);
    net.c.run_to(30);
    let cands = net
        .c
        .ledger
        .round_record(&task, 1)
        .unwrap()
        .candidates
        .clone();
    let (c0, c1) = (net.idx(&cands[0]), net.idx(&cands[1]));
    let list = net.fair_list(1);
    net.distribute_at(31, 1, 0, &list);
    net.c.next(vec![]); // draw at 32
    let committee = net
        .c
        .ledger
        .attempt(&task, 1, 0)
        .unwrap()
        .committee
        .clone()
        .expect("drawn");
    let k = u32::from(committee.size);
    assert_eq!(k, 8);
    assert_eq!(
        committee.seats_of(&net.pk(c0)),
        0,
        "the submitter holds no seat"
    );
    // An Invalid majority (next candidate last, so it stays a plain staker); the rest Valid.
    let mut holders = committee.seats.clone();
    holders.sort_by_key(|(n, _)| *n == net.pk(c1));
    let (mut invalid, mut valid, mut inv) = (Vec::new(), Vec::new(), 0u32);
    for (n, s) in holders {
        if 2 * inv <= k {
            inv += u32::from(s);
            invalid.push((n, s));
        } else {
            valid.push((n, s));
        }
    }
    let w = net.idx(&invalid[0].0);
    assert_ne!(w, c1);
    let mut txs: Vec<Transaction> = invalid
        .iter()
        .map(|(n, _)| net.tx(net.idx(n), net.vote_list_ix(1, 0, Verdict::Invalid)))
        .collect();
    txs.extend(
        valid
            .iter()
            .map(|(n, _)| net.tx(net.idx(n), net.vote_list_ix(1, 0, Verdict::Valid))),
    );
    all_ok(&net.block(34, txs));
    let txs = vec![
        net.tx(c0, Instruction::Unstake { task }),
        net.tx(w, Instruction::Unstake { task }),
    ];
    all_ok(&net.c.next(txs)); // 35
    let out = net.block(37, vec![]);
    assert!(out.events.contains(&LedgerEvent::PayoutFailed {
        task,
        round: 1,
        attempt: 0,
        reason: FailReason::Rejected,
        slashed: 0,
    }));
    assert_eq!(
        net.c.ledger.attempt(&task, 1, 0).unwrap().outcome,
        Some(AttemptOutcome::FailedRejected {
            slashed: None,
            vindicated: false
        }),
        "the slash waits for the round to settle"
    );
    assert_eq!(net.stake_of(c0), STAKE);
    assert_eq!(net.selected(1, 1), c1);
    net.distribute_at(41, 1, 1, &list);
    net.c.next(vec![]); // draw at 42
                        // Submitter and voters of round 1 cannot leave before it settles, cooldown or not.
    let txs = vec![
        net.tx(c0, Instruction::Withdraw { task }),
        net.tx(w, Instruction::Withdraw { task }),
    ];
    let locked = Err(TxError::LockedUntilSettled { rounds: 1 });
    assert_eq!(results(&net.c.next(txs)), vec![locked.clone(), locked]); // 43
    Rejected {
        net,
        c0,
        c1,
        list,
        invalid,
        valid,
        w,
    }
}

/// v1 attack: a minority that won a committee draw by luck rejected an honest list and the
/// honest submitter was slashed at once, with nothing to undo it; the submitter and voters
/// could also withdraw right away. On v1 `c0` loses 70 % at the first close, the `Invalid`
/// voters keep their stake, and the withdrawals at 43 succeed. On v2 a later attempt
/// accepted by a `Valid` majority with the same digest vindicates the first submitter and
/// slashes the `Invalid` voters, and stakes stay locked until the round settles.
#[test]
fn hole7_vindication() {
    let Rejected {
        mut net,
        c0,
        c1,
        list,
        invalid,
        valid,
        w,
    } = reject_attempt_0();
    let task = net.task;
    assert!(!valid.is_empty(), "attempt 0 had Valid voters to reward");
    let committee = net
        .c
        .ledger
        .attempt(&task, 1, 1)
        .unwrap()
        .committee
        .clone()
        .expect("drawn");
    assert_eq!(committee.seats_of(&net.pk(c0)), 0, "unstaked: no seat");
    assert_eq!(committee.seats_of(&net.pk(w)), 0, "unstaked: no seat");
    let txs = committee
        .seats
        .iter()
        .map(|(n, _)| net.tx(net.idx(n), net.vote_list_ix(1, 1, Verdict::Valid)))
        .collect();
    all_ok(&net.block(44, txs));
    let burned = meta(&net.c.ledger).burned_roe;
    let rewards: BTreeMap<Pubkey, u64> = (1..=8)
        .map(|n| (net.pk(n), net.reward_of(&net.pk(n))))
        .collect();
    let out = net.block(47, vec![]);
    let wrong = invalid.len() as u64;
    assert!(out.events.contains(&LedgerEvent::Vindicated {
        task,
        round: 1,
        attempt: 0,
        voters_slashed: 1_000 * wrong,
    }));
    assert!(!out
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::RejectionSlashed { .. })));
    assert_eq!(
        net.c.ledger.attempt(&task, 1, 0).unwrap().outcome,
        Some(AttemptOutcome::FailedRejected {
            slashed: None,
            vindicated: true
        })
    );
    assert_eq!(
        net.stake_of(c0),
        STAKE,
        "the honest first submitter is not slashed"
    );
    for (n, _) in &invalid {
        assert_eq!(
            net.c.ledger.stake(&task, n).unwrap().amount,
            STAKE - 1_000,
            "Invalid voters slashed false_accusation_bps"
        );
    }
    for (n, _) in &valid {
        assert_eq!(net.c.ledger.stake(&task, n).unwrap().amount, STAKE);
    }
    // Each wrong voter's slash: 30 % to attempt 0's Valid seats (per seat, floor), rest burned.
    let right_seats: u64 = valid.iter().map(|(_, s)| u64::from(*s)).sum();
    let per_seat = 300u64.checked_div(right_seats).unwrap_or(0);
    let share = |pk: &Pubkey| -> u64 {
        valid
            .iter()
            .find(|(n, _)| n == pk)
            .map_or(0, |(_, s)| per_seat * u64::from(*s) * wrong)
    };
    let payout: BTreeMap<Pubkey, u64> = list.iter().copied().collect();
    for n in 1..=8 {
        let pk = net.pk(n);
        assert_eq!(
            net.reward_of(&pk),
            rewards[&pk] + payout[&pk] + share(&pk),
            "node {n}"
        );
    }
    let paid_shares = per_seat * right_seats * wrong;
    assert_eq!(
        meta(&net.c.ledger).burned_roe,
        burned + 1_000 * wrong - paid_shares
    );
    // Settled: the locks are gone.
    let (b0, bw) = (net.balance(c0), net.balance(w));
    let txs = vec![
        net.tx(c0, Instruction::Withdraw { task }),
        net.tx(w, Instruction::Withdraw { task }),
    ];
    all_ok(&net.c.next(txs));
    assert_eq!(net.balance(c0), b0 + STAKE);
    assert_eq!(net.balance(w), bw + STAKE - 1_000);
    assert_eq!(
        net.c.ledger.round_record(&task, 1).unwrap().status,
        RoundStatus::Paid {
            attempt: 1,
            total_roe: BOUNTY_PER_ROUND
        },
        "paid by the next candidate's identical list"
    );
    assert_eq!(
        net.c.ledger.attempt(&task, 1, 1).unwrap().submitter,
        net.pk(c1)
    );
    net.finish();
}

/// "Acceptance by silence proves nothing": if the retry is paid without a `Valid` majority,
/// the rejection stands and its submitter is slashed when the round settles (accuser share to
/// the first `Invalid` voter). Without this rule a submitter's friend could vindicate a bad
/// list by re-submitting it to a committee that stays silent.
#[test]
fn hole7_silent_acceptance_does_not_vindicate() {
    let Rejected {
        mut net,
        c0,
        invalid,
        w,
        ..
    } = reject_attempt_0();
    let task = net.task;
    let first_invalid = invalid[0].0;
    let before = net.reward_of(&first_invalid);
    let out = net.block(47, vec![]);
    let slashed = STAKE * 7_000 / 10_000;
    assert!(out.events.contains(&LedgerEvent::RejectionSlashed {
        task,
        round: 1,
        attempt: 0,
        submitter: net.pk(c0),
        slashed,
    }));
    assert!(!out
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::Vindicated { .. })));
    assert_eq!(
        net.c.ledger.attempt(&task, 1, 0).unwrap().outcome,
        Some(AttemptOutcome::FailedRejected {
            slashed: Some(slashed),
            vindicated: false
        })
    );
    assert_eq!(net.stake_of(c0), STAKE - slashed);
    let list_share = BOUNTY_PER_ROUND / 8;
    assert!(net.reward_of(&first_invalid) >= before + list_share + slashed * 2_000 / 10_000);
    for (n, _) in &invalid {
        assert_eq!(net.c.ledger.stake(&task, n).unwrap().amount, STAKE);
    }
    assert_eq!(net.c.run(w, Instruction::Withdraw { task }), Ok(()));
    net.finish();
}

/// v1 attack: skipping a selected turn was free, so a candidate could block the retry that
/// would vindicate an honest list (or just stall payouts). On v1 the stake is untouched.
#[test]
fn hole7_missed_list_is_slashed() {
    let mut net = Net::new(4);
    let task = net.task;
    net.submit_all(1, &[1, 2, 3, 4]);
    net.c.run_to(30);
    let c0 = net.selected(1, 0);
    let burned = meta(&net.c.ledger).burned_roe;
    let bounty = net.bounty();
    let out = net.block(37, vec![]);
    let slashed = STAKE * 100 / 10_000;
    assert!(out.events.contains(&LedgerEvent::PayoutFailed {
        task,
        round: 1,
        attempt: 0,
        reason: FailReason::NotSubmitted,
        slashed,
    }));
    assert_eq!(
        net.c.ledger.attempt(&task, 1, 0).unwrap().outcome,
        Some(AttemptOutcome::FailedNotSubmitted { slashed })
    );
    assert_eq!(net.stake_of(c0), STAKE - slashed);
    assert_eq!(
        meta(&net.c.ledger).burned_roe,
        burned + slashed,
        "all burned"
    );
    assert_eq!(net.bounty(), bounty);
    let rec = net.c.ledger.round_record(&task, 1).unwrap();
    assert_eq!(rec.current_attempt, 1);
    assert_eq!(net.selected(1, 1), net.idx(&rec.candidates[1]));
    net.finish();
}

/// v1 attack: candidates were ranked uniformly, so splitting one stake over many Sybil nodes
/// bought that many more turns to submit the list. On v1 (uniform order) 20 Sybils holding
/// half the stake are ranked first ≈ 20/21 of the time. On v2 the order is stake-weighted: the
/// honest half is first about half the time, split or not.
#[test]
fn hole7_sybil_split_gains_no_ranking_share() {
    let honest = Pubkey([200; 32]);
    let trials = 2_000u32;
    let honest_first = |rivals: &[(Pubkey, u8, u64)]| -> u32 {
        let mut c = rivals.to_vec();
        c.push((honest, 0, 20_000));
        (0..trials)
            .filter(|t| {
                let seed = Hash::domain("v2_holes/sybil", &[&t.to_le_bytes()]);
                rank_candidates(&seed, &c, 4)[0] == honest
            })
            .count() as u32
    };
    let one = honest_first(&[(Pubkey([1; 32]), 0, 20_000)]);
    let sybils: Vec<(Pubkey, u8, u64)> = (1..=20u8).map(|i| (Pubkey([i; 32]), 0, 1_000)).collect();
    let split = honest_first(&sybils);
    // Binomial(2000, 1/2): sd ≈ 22; 5 sd either side.
    for got in [one, split] {
        assert!((890..=1110).contains(&got), "honest first {got}/{trials}");
    }
    // Tier 0 (steady submitters) still comes first, and zero weight is never ranked.
    let mixed = [
        (Pubkey([1; 32]), 1, 1_000_000),
        (Pubkey([2; 32]), 0, 1),
        (Pubkey([3; 32]), 0, 0),
    ];
    assert_eq!(
        rank_candidates(&Hash::ZERO, &mixed, 3),
        vec![Pubkey([2; 32]), Pubkey([1; 32])]
    );
}

// ----- hole 8: lists accepted without a committee -----------------------------------------------

/// v1 attack: a list whose committee could not vote (submitted late, with the validator
/// skipping the slots of its audit window) was accepted by silence: no seat ever had a slot
/// to reject it. On v1 the list below is paid at the close. On v2 an attempt whose committee
/// was not drawn before its audit window closed is neither paid nor slashed, and the next
/// candidate tries.
#[test]
fn hole8_list_without_committee_is_not_paid() {
    let mut net = Net::new(4);
    let task = net.task;
    net.submit_all(1, &[1, 2, 3, 4]);
    net.c.run_to(32);
    let c0 = net.selected(1, 0);
    let list = net.fair_list(1);
    // Last slot of the submission window (31..34); the validator is then down until 38,
    // after the attempt's audit window 34..37 closed.
    net.distribute_at(33, 1, 0, &list);
    assert_eq!(
        net.c.ledger.task(&task).unwrap().reserved_bounty,
        BOUNTY_PER_ROUND
    );
    let bounty = net.bounty();
    let burned = meta(&net.c.ledger).burned_roe;
    let out = net.c.block_at(38, vec![]);
    assert!(
        out.events.contains(&LedgerEvent::PayoutFailed {
            task,
            round: 1,
            attempt: 0,
            reason: FailReason::NoCommittee,
            slashed: 0,
        }),
        "{:?}",
        out.events
    );
    assert!(!out
        .events
        .iter()
        .any(|e| matches!(e, LedgerEvent::PayoutSuccessful { .. })));
    let a0 = net.c.ledger.attempt(&task, 1, 0).unwrap();
    assert_eq!(a0.outcome, Some(AttemptOutcome::FailedNoCommittee));
    assert_eq!(
        a0.committee, None,
        "no committee drawn after the window closed"
    );
    assert_eq!(net.bounty(), bounty, "not paid");
    assert_eq!(net.c.ledger.task(&task).unwrap().reserved_bounty, 0);
    assert!(list.iter().all(|(n, _)| net.reward_of(n) == 0));
    assert_eq!(net.stake_of(c0), STAKE, "not slashed");
    assert_eq!(meta(&net.c.ledger).burned_roe, burned);
    // The next candidate gets the attempt and is paid normally.
    let rec = net.c.ledger.round_record(&task, 1).unwrap();
    assert_eq!(rec.current_attempt, 1);
    let c1 = net.selected(1, 1);
    assert_eq!(net.pk(c1), rec.candidates[1]);
    net.distribute_at(41, 1, 1, &list);
    let out = net.block(47, vec![]);
    assert!(out.events.iter().any(|e| matches!(
        e,
        LedgerEvent::PayoutSuccessful {
            round: 1,
            attempt: 1,
            ..
        }
    )));
    assert_eq!(
        net.stake_of(c0),
        STAKE,
        "a committee-less attempt is never slashed"
    );
    assert_eq!(net.bounty(), bounty - BOUNTY_PER_ROUND);
    net.finish();
}

/// The boundary of the late-draw rule: a list's committee is drawn only if at least `V` slots
/// of its audit window are left (here `AW = 9`, `V = 3`, window 64..73).
#[test]
fn hole8_list_committee_needs_v_slots_left() {
    let p = TaskParams {
        round_time: 20,
        submission_window: 3,
        audit_window: 9,
        ..params()
    };
    let mut net = Net::with(4, p, STAKE);
    let task = net.task;
    net.submit_all(1, &[1, 2, 3, 4]);
    let sub = net.span(Window::DistributionSubmission, 1, 0);
    let audit = net.span(Window::DistributionAudit, 1, 0);
    assert_eq!((sub.opens, audit.opens, audit.closes), (61, 64, 73));
    net.c.run_to(sub.closes - 2);
    let list = net.fair_list(1);
    net.distribute_at(sub.closes - 1, 1, 0, &list);
    // Validator down until 71: only 2 < V slots would be left, no committee.
    let mut late = fork(&net.c.ledger);
    apply(&mut late, audit.closes - 2, vec![]);
    assert_eq!(late.attempt(&task, 1, 0).unwrap().committee, None);
    apply(&mut late, audit.closes, vec![]);
    assert_eq!(
        late.attempt(&task, 1, 0).unwrap().outcome,
        Some(AttemptOutcome::FailedNoCommittee)
    );
    // Down until 70: exactly V slots left, the committee is drawn and can reject the list.
    net.c.block_at(audit.closes - 3, vec![]);
    let committee = net
        .c
        .ledger
        .attempt(&task, 1, 0)
        .unwrap()
        .committee
        .clone()
        .expect("drawn with V slots left");
    let txs = committee
        .seats
        .iter()
        .map(|(n, _)| net.tx(net.idx(n), net.vote_list_ix(1, 0, Verdict::Invalid)))
        .collect();
    all_ok(&net.block(audit.closes - 1, txs));
    net.block(audit.closes, vec![]);
    assert_eq!(
        net.c.ledger.attempt(&task, 1, 0).unwrap().outcome,
        Some(AttemptOutcome::FailedRejected {
            slashed: None,
            vindicated: false
        })
    );
    net.finish();
}

/// A task with no other eligible staker draws a committee with no seats; its list is accepted
/// (there is nobody who could have voted), as SPEC §6 says.
#[test]
fn hole8_committee_with_no_seats_accepts() {
    let mut net = Net::new(1);
    let list = net.pay_round(1, &[1]);
    let a0 = net.c.ledger.attempt(&net.task, 1, 0).unwrap();
    assert_eq!(
        a0.committee.as_ref().map(|c| (c.size, c.seats.len())),
        Some((0, 0))
    );
    assert_eq!(net.reward_of(&list[0].0), BOUNTY_PER_ROUND);
    net.finish();
}

// ----- hole 9: small holes ---------------------------------------------------------------------

/// v1 attack: any amount, even 1 ROE, created a stake record (dust records bloat the state and
/// every committee pool for free). On v1 the 99 ROE first stake succeeds.
#[test]
fn hole9_first_stake_below_minimum_is_refused() {
    let mut net = Net::new(1);
    let task = net.task;
    let stake = |amount| Instruction::Stake {
        task,
        amount,
        url: String::new(),
        owner: None,
    };
    assert_eq!(
        net.c.run(2, stake(MIN_STAKE - 1)),
        Err(TxError::StakeBelowMinimum {
            stake: MIN_STAKE - 1,
            minimum: MIN_STAKE
        })
    );
    assert!(net.stake_rec(2).is_none(), "no dust record");
    assert_eq!(net.c.run(2, stake(MIN_STAKE)), Ok(()));
    assert_eq!(net.c.run(2, stake(1)), Ok(()), "top-ups may be small");
    assert_eq!(net.stake_of(2), MIN_STAKE + 1);
    net.finish();
}

/// v1 attack: chunks were only checked at `SubmitDistribution`, so a selected node could park
/// up to 1000 chunks of garbage (unsorted, duplicate or unknown nodes, more entries than the
/// round has submitters) in the state for the whole attempt. On v1 every bad chunk below is
/// accepted at upload.
#[test]
fn hole9_chunks_are_checked_at_upload() {
    let mut net = Net::new(4);
    let task = net.task;
    net.submit_all(1, &[1, 2, 3]); // node 4 is staked but submitted nothing
    net.c.run_to(30);
    let s = net.selected(1, 0);
    let other = (1..=3).find(|n| *n != s).unwrap();
    let mut subs: Vec<Pubkey> = (1..=3).map(|n| net.pk(n)).collect();
    subs.sort();
    let (a, b, c) = (subs[0], subs[1], subs[2]);
    let n4 = net.pk(4);
    let e = |n: Pubkey, r: u64| (n, r);
    let mut recent = 29;
    let mut chunk = |net: &Net, who: usize, index: u32, entries: Vec<(Pubkey, u64)>| {
        recent -= 1;
        net.tx_recent(who, net.chunk_ix(1, 0, index, entries), recent)
    };
    let txs = vec![
        chunk(&net, s, 1, vec![e(a, 1)]),
        chunk(&net, s, 0, vec![e(b, 1), e(a, 1)]),
        chunk(&net, s, 0, vec![e(a, 1), e(a, 1)]),
        chunk(&net, s, 0, vec![e(n4, 1)]),
        chunk(&net, s, 0, vec![e(a, 1), e(b, 1), e(c, 1), e(n4, 1)]),
        chunk(&net, other, 0, vec![e(a, 1)]),
        chunk(&net, s, 0, vec![e(a, 2_000)]),
        chunk(&net, s, 0, vec![e(b, 500)]),
        chunk(&net, s, 1, vec![e(a, 1)]),
        chunk(&net, s, 0, vec![e(c, 500)]),
        chunk(&net, s, 1, vec![e(c, 500)]),
        chunk(&net, s, 2, vec![e(c, 1)]),
        net.tx(s, net.submit_list_ix(1, 0, &[e(b, 500), e(c, 500)])),
        chunk(&net, s, 2, vec![e(c, 1)]),
    ];
    let out = net.block(31, txs);
    assert_eq!(
        results(&out),
        vec![
            Err(TxError::ChunkOutOfOrder {
                got: 1,
                expected: 0
            }),
            Err(TxError::EntriesNotSorted { index: 1 }),
            Err(TxError::EntriesNotSorted { index: 1 }),
            Err(TxError::NotASubmitter { node: n4, round: 1 }),
            Err(TxError::TooManyEntries { max: 3 }),
            Err(TxError::NotSelected {
                attempt: 0,
                selected: net.pk(s)
            }),
            Err(TxError::RewardsExceedLimit {
                sum: 2_000,
                limit: BOUNTY_PER_ROUND
            }),
            Ok(()),
            Err(TxError::EntriesNotSorted { index: 1 }),
            Err(TxError::ChunkOutOfOrder {
                got: 0,
                expected: 1
            }),
            Ok(()),
            Err(TxError::EntriesNotSorted { index: 2 }),
            Ok(()),
            Err(TxError::ListAlreadySubmitted),
        ]
    );
    let a0 = net.c.ledger.attempt(&task, 1, 0).unwrap();
    assert_eq!(
        (a0.upload.chunks, a0.upload.entries, a0.upload.sum_roe),
        (2, 2, 1_000)
    );
    assert_eq!(
        net.c.ledger.distribution_list(&task, 1, 0),
        vec![e(b, 500), e(c, 500)]
    );
    net.finish();
}

/// v1 attack: a staker's URL (which peers and honest nodes fetch) was any string (e.g.
/// `file://` or `http://user:pw@…`), and changing it meant staking again. On v1 the bad URLs
/// decode fine and `SetNodeUrl` does not exist.
#[test]
fn hole9_node_urls_are_checked_and_changeable() {
    let mut net = Net::new(2);
    let task = net.task;
    for (url, err) in [
        ("ftp://node", UrlError::Scheme),
        ("http://user:pw@node/", UrlError::UserInfo),
        ("http://", UrlError::NoHost),
        ("http://node/a b", UrlError::BadCharacter),
    ] {
        for ix in [
            Instruction::Stake {
                task,
                amount: STAKE,
                url: url.into(),
                owner: None,
            },
            Instruction::SetNodeUrl {
                task,
                url: url.into(),
            },
        ] {
            let tx = net.tx(1, ix);
            assert_eq!(tx.check_limits(), Err(DecodeError::BadUrl(err.clone())));
            assert_eq!(
                Transaction::decode(&tx.encode()),
                Err(DecodeError::BadUrl(err.clone()))
            );
        }
    }
    let bad = Instruction::SetNodeUrl {
        task,
        url: "file:///etc/passwd".into(),
    };
    assert!(matches!(net.c.run(1, bad), Err(TxError::Limits(_))));
    let before = net.stake_rec(1).unwrap().clone();
    let balance = net.balance(1);
    let url = "https://node1.example:8443/base".to_string();
    assert_eq!(
        net.c.run(
            1,
            Instruction::SetNodeUrl {
                task,
                url: url.clone()
            }
        ),
        Ok(())
    );
    let after = net.stake_rec(1).unwrap();
    assert_eq!(after.url, url);
    assert_eq!(
        StakeRecord {
            url: before.url.clone(),
            ..after.clone()
        },
        before,
        "nothing but the url changed"
    );
    assert_eq!(net.balance(1), balance);
    assert_eq!(
        net.c.run(3, Instruction::SetNodeUrl { task, url }),
        Err(TxError::NotStaked { node: net.pk(3) })
    );
    net.finish();
}

/// v1 attack: the node's hot key (on an internet-facing machine) was the only authority over
/// its stake and rewards; whoever stole it could withdraw everything. On v1 there is no
/// owner: `Claim` and `Withdraw` pay the node key, and `SetStakeOwner` does not exist.
#[test]
fn hole9_stake_owner_controls_the_money() {
    let mut net = Net::new(3);
    let task = net.task;
    let (node, cold, colder) = (4usize, 6usize, 7usize);
    let stake = |owner: Option<Pubkey>| Instruction::Stake {
        task,
        amount: STAKE,
        url: String::new(),
        owner,
    };
    assert_eq!(net.c.run(node, stake(Some(net.pk(cold)))), Ok(())); // slot 3
    assert_eq!(net.stake_rec(node).unwrap().owner, net.pk(cold));
    let list = net.pay_round(1, &[1, 2, 3, node]);
    let reward = list.iter().find(|(n, _)| *n == net.pk(node)).unwrap().1;
    assert_eq!(net.reward_of(&net.pk(node)), reward);
    let (hot_before, cold_before) = (net.balance(node), net.balance(cold));
    assert_eq!(net.c.run(node, Instruction::Claim { task }), Ok(()));
    assert_eq!(net.balance(node), hot_before);
    assert_eq!(
        net.balance(cold),
        cold_before + reward,
        "Claim pays the owner"
    );
    // Only the owner moves ownership.
    let node_pk = net.pk(node);
    let set_owner = |owner: Pubkey| Instruction::SetStakeOwner {
        task,
        node: node_pk,
        owner,
    };
    assert_eq!(
        net.c.run(node, set_owner(node_pk)),
        Err(TxError::NotOwner {
            owner: net.pk(cold)
        })
    );
    assert_eq!(net.c.run(cold, set_owner(net.pk(colder))), Ok(()));
    assert_eq!(
        net.c.run(node, stake(Some(net.pk(cold)))),
        Err(TxError::OwnerMismatch {
            owner: net.pk(colder),
            got: net.pk(cold)
        })
    );
    assert_eq!(net.c.run(node, stake(Some(net.pk(colder)))), Ok(()));
    assert_eq!(net.c.run(node, stake(None)), Ok(()));
    let amount = net.stake_of(node);
    assert_eq!(amount, 3 * STAKE);
    // Withdraw after the cooldown pays the owner; an empty record remembers it.
    let unstake_round = net
        .c
        .ledger
        .clock(&task)
        .unwrap()
        .round(net.c.ledger.slot() + 1);
    assert_eq!(net.c.run(node, Instruction::Unstake { task }), Ok(()));
    let withdraw_at = net.c.ledger.clock(&task).unwrap().start(unstake_round + 3);
    let (hot_before, colder_before) = (net.balance(node), net.balance(colder));
    assert_eq!(
        net.run_at(withdraw_at, node, Instruction::Withdraw { task }),
        Ok(())
    );
    assert_eq!(net.balance(node), hot_before);
    assert_eq!(
        net.balance(colder),
        colder_before + amount,
        "Withdraw pays the owner"
    );
    let rec = net.stake_rec(node).expect("kept for the owner");
    assert_eq!((rec.amount, rec.owner), (0, net.pk(colder)));
    assert_eq!(
        net.c.run(node, Instruction::Withdraw { task }),
        Err(TxError::NotStaked { node: net.pk(node) })
    );
    // Staking again keeps the owner; naming another is refused.
    assert_eq!(
        net.c.run(node, stake(Some(net.pk(cold)))),
        Err(TxError::OwnerMismatch {
            owner: net.pk(colder),
            got: net.pk(cold)
        })
    );
    assert_eq!(net.c.run(node, stake(None)), Ok(()));
    assert_eq!(net.stake_rec(node).unwrap().owner, net.pk(colder));
    net.finish();
}

/// v1 had no protocol version: a genesis (or store) of other rules would have been misread.
#[test]
fn hole9_genesis_of_another_protocol_version_is_refused() {
    assert_eq!(PROTOCOL_VERSION, 2);
    assert_eq!(TX_VERSION, 2);
    assert_eq!(Genesis::default().validate(), Ok(()));
    let g = Genesis {
        protocol_version: 1,
        ..Genesis::default()
    };
    assert_eq!(
        g.validate(),
        Err(GenesisError::ProtocolVersion {
            got: 1,
            expected: PROTOCOL_VERSION
        })
    );
    // A v1-format transaction is refused at decode.
    let mut tx = Transaction::new_signed(
        &key(1),
        "test",
        0,
        0,
        Instruction::Claim { task: Hash::ZERO },
    );
    tx.message.version = 1;
    assert_eq!(
        Transaction::decode(&tx.encode()),
        Err(DecodeError::Version {
            got: 1,
            expected: TX_VERSION
        })
    );
}

/// v1 reported `NotDistributing` with a Debug string of the round status; clients had to parse
/// it. v2 carries a typed `RoundState`.
#[test]
fn hole9_not_distributing_carries_a_typed_state() {
    let mut net = Net::new(2);
    let list = net.pay_round(1, &[1, 2]);
    // Attempt 1's window (41..44) opens after round 1 was paid at 37.
    let who = net.idx(&list[0].0);
    let err = net
        .run_at(41, who, net.chunk_ix(1, 1, 0, vec![list[0]]))
        .unwrap_err();
    assert_eq!(
        err,
        TxError::NotDistributing {
            round: 1,
            status: RoundState::Paid
        }
    );
    assert!(err.to_string().contains("it is paid"), "{err}");
    assert_eq!(
        net.c.run(who, net.submit_list_ix(9, 0, &list)),
        Err(TxError::NotDistributing {
            round: 9,
            status: RoundState::Unknown
        })
    );
    net.finish();
}

/// Bounded work (SPEC §5 [v2]): at most `audit_sample` raises per node per round. v1 let one
/// node raise against every submitter, each raise costing a committee draw. On v1 the third
/// raise succeeds.
#[test]
fn hole9_raises_per_round_are_bounded() {
    let p = TaskParams {
        audit_sample: 2,
        ..params()
    };
    let mut net = Net::with(5, p, STAKE);
    net.submit_all(1, &[1, 2, 3, 4, 5]);
    let txs = (2..=4)
        .map(|n| net.tx(1, net.audit_ix(1, &net.pk(n), Verdict::Invalid)))
        .collect();
    let out = net.block(24, txs);
    assert_eq!(
        results(&out),
        vec![Ok(()), Ok(()), Err(TxError::TooManyRaises { max: 2 })]
    );
    assert!(net.c.ledger.audit(&net.task, 1, &net.pk(4)).is_none());
    net.finish();
}

// ----- defaults ----------------------------------------------------------------------------------

/// v2 defaults: committees of 64 seats, 8 audited peers; bounds 256 and 16; `AW ≥ 2·V`.
#[test]
fn defaults_are_v2() {
    let d = TaskParams::default();
    assert_eq!((d.committee_size, d.audit_sample), (64, 8));
    assert_eq!((d.missed_list_bps, d.unstake_cooldown), (100, 3));
    assert_eq!(d.validate(), Ok(()));
    let out_of_range = |field: &str, got, max| ParamError::OutOfRange {
        field: field.into(),
        got,
        min: u64::from(field == "committee_size"),
        max,
    };
    let p = TaskParams {
        audit_sample: 17,
        ..d.clone()
    };
    assert_eq!(p.validate(), Err(out_of_range("audit_sample", 17, 16)));
    let p16 = TaskParams {
        audit_sample: 16,
        committee_size: 256,
        ..d.clone()
    };
    assert_eq!(p16.validate(), Ok(()));
    let p = TaskParams {
        committee_size: 257,
        ..d.clone()
    };
    assert_eq!(p.validate(), Err(out_of_range("committee_size", 257, 256)));
    let create = |params| Instruction::CreateTask {
        nonce: 5,
        params,
        total_bounty: 0,
    };
    let tx = Transaction::new_signed(&key(0), "test", 0, 0, create(p.clone()));
    assert_eq!(
        Transaction::decode(&tx.encode()),
        Err(DecodeError::BadParams(out_of_range(
            "committee_size",
            257,
            256
        )))
    );
    // AW ≥ 2·V, checked by the ledger (it knows slot_ms): at 3 s slots V ≥ 1, so AW = 1 fails.
    let short = TaskParams {
        audit_window: 1,
        ..params()
    };
    let err = ParamError::AuditWindowTooShort {
        aw: 1,
        v: 1,
        slot_ms: 3_000,
        min: 2,
    };
    assert_eq!(short.validate_for_chain(3_000), Err(err.clone()));
    let mut c = TestChain::new(2, BALANCE);
    assert_eq!(c.run(0, create(short)), Err(TxError::BadParams(err)));
    assert!(matches!(c.run(0, create(p)), Err(TxError::Limits(_))));
    assert_eq!(c.run(0, create(p16)), Ok(()));
}
