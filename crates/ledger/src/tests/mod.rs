//! Unit tests of every rule and error path of SPEC §1–7, one file per topic.
//!
//! Every test drives the ledger through signed transactions in blocks ([`TestChain`], with
//! `paranoid` on: supply conservation and `reserved ≤ bounty` are asserted after every block)
//! and ends with [`Net::finish`], which also replays the block log and compares state roots.
//!
//! The standard task ([`params`]) is created by key 0 in the block at slot 1, so `S0 = 1`,
//! `RT = 10`, `SW = 3`, `AW = 3` and `start(r) = 1 + 10·r`. Nodes `1..=n` stake at slot 2, so
//! round 1 is the first they may submit for. Round 1's windows:
//!
//! ```text
//!   proof submission 21..24   proof audit 24..27   (ranking at 27)
//!   distribution submission (attempt 0) 31..34   distribution audit 34..37   (payout at 37)
//! ```

mod audits;
mod bounded;
mod distribution;
mod envelope;
mod faucet;
mod pruning;
mod staking;
mod tasks;
mod windows;

use crate::block::BlockOutput;
use crate::exec::distribution_digest;
use crate::state::Committee;
use crate::testkit::TestChain;
use crate::window::{Clock, Span, Window};
use crate::TxError;
use gradual_types::{Hash, Instruction, Pubkey, Slot, TaskId, TaskParams, Transaction, Verdict};

pub(super) const BALANCE: u64 = 1_000_000;
pub(super) const BOUNTY: u64 = 100_000;
pub(super) const STAKE: u64 = 10_000;
pub(super) const MIN_STAKE: u64 = 100;
pub(super) const BOUNTY_PER_ROUND: u64 = 1_000;

/// The standard test task: short rounds, small stakes, defaults of SPEC §2 otherwise
/// (slash 70 %, accuser 20 %, voters 30 %, false accusation 10 %, 3 retries, cooldown 3).
pub(super) fn params() -> TaskParams {
    TaskParams {
        name: "unit".into(),
        round_time: 10,
        submission_window: 3,
        audit_window: 3,
        minimum_stake: MIN_STAKE,
        bounty_per_round: BOUNTY_PER_ROUND,
        committee_size: 8,
        ..TaskParams::default()
    }
}

/// `start(r)` of the standard task.
pub(super) const fn start(r: u64) -> Slot {
    1 + 10 * r
}

/// A chain with one task and staked nodes.
pub(super) struct Net {
    pub c: TestChain,
    pub task: TaskId,
}

impl Net {
    /// `nodes` staked nodes (keys `1..=nodes`, `STAKE` each) in the standard task.
    pub fn new(nodes: usize) -> Net {
        Net::with(nodes, params(), STAKE)
    }

    /// Key 0 creates the task at slot 1 with `BOUNTY`; nodes `1..=nodes` stake `stake` at
    /// slot 2. Spare keys (`nodes + 1`, `nodes + 2`, and up to key 7 at least) are funded but
    /// not staked.
    pub fn with(nodes: usize, params: TaskParams, stake: u64) -> Net {
        let mut c = TestChain::new((nodes as u32 + 3).max(8), BALANCE);
        let task = c.create_task(0, 1, params, BOUNTY);
        assert_eq!(c.ledger.slot(), 1);
        let txs: Vec<Transaction> = (1..=nodes)
            .map(|n| {
                c.tx(
                    n,
                    Instruction::Stake {
                        task,
                        amount: stake,
                        url: format!("http://node{n}"),
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

    pub fn pk(&self, i: usize) -> Pubkey {
        self.c.pk(i)
    }

    pub fn clock(&self) -> Clock {
        self.c.ledger.clock(&self.task).expect("task exists")
    }

    pub fn span(&self, w: Window, round: u64, attempt: u16) -> Span {
        self.clock().window(w, round, attempt)
    }

    pub fn tx(&self, who: usize, ix: Instruction) -> Transaction {
        self.c.tx(who, ix)
    }

    /// Like [`Net::tx`] with a chosen `recent_slot`, so that the same instruction sent twice
    /// has two signatures.
    pub fn tx_recent(&self, who: usize, ix: Instruction, recent_slot: Slot) -> Transaction {
        Transaction::new_signed(&self.c.keys[who], &self.c.chain_id, recent_slot, 0, ix)
    }

    /// Empty blocks up to `slot - 1`, then a block at `slot` with `txs`.
    pub fn block(&mut self, slot: Slot, txs: Vec<Transaction>) -> BlockOutput {
        assert!(slot > self.c.ledger.slot(), "slot {slot} already passed");
        self.c.run_to(slot - 1);
        self.c.next(txs)
    }

    /// One transaction in a block at `slot` (empty blocks before it); its result.
    pub fn run_at(&mut self, slot: Slot, who: usize, ix: Instruction) -> Result<(), TxError> {
        let tx = self.tx(who, ix);
        self.block(slot, vec![tx]).receipts.remove(0).result
    }

    /// One transaction in a block at the next slot.
    pub fn run(&mut self, who: usize, ix: Instruction) -> Result<(), TxError> {
        self.c.run(who, ix)
    }

    pub fn submit_ix(&self, who: usize, round: u64) -> Instruction {
        Instruction::SubmitProof {
            task: self.task,
            round,
            value: proof(&self.pk(who), round),
        }
    }

    /// All `nodes` submit their proof for `round` in one block at `slot`.
    pub fn submit_at(&mut self, slot: Slot, round: u64, nodes: &[usize]) -> BlockOutput {
        let txs = nodes
            .iter()
            .map(|&n| self.tx(n, self.submit_ix(n, round)))
            .collect();
        let out = self.block(slot, txs);
        all_ok(&out);
        out
    }

    /// All `nodes` submit for `round` at the first slot of its proof submission window.
    pub fn submit_all(&mut self, round: u64, nodes: &[usize]) -> BlockOutput {
        let slot = self.span(Window::ProofSubmission, round, 0).opens;
        self.submit_at(slot, round, nodes)
    }

    pub fn audit_ix(&self, round: u64, candidate: usize, verdict: Verdict) -> Instruction {
        Instruction::AuditProof {
            task: self.task,
            round,
            candidate: self.pk(candidate),
            verdict,
        }
    }

    /// The committee of the audit against `candidate` (drawn).
    pub fn audit_committee(&self, round: u64, candidate: usize) -> Committee {
        self.c
            .ledger
            .audit(&self.task, round, &self.pk(candidate))
            .expect("audit raised")
            .committee
            .clone()
            .expect("committee drawn")
    }

    /// `accuser` raises an audit against `candidate` at the first slot of the proof audit
    /// window of `round`; the committee is drawn in the next (empty) block; in the block after
    /// that the seat holders `voters` picks from the committee vote `verdict`. Returns the
    /// committee and the voters.
    pub fn audit_with(
        &mut self,
        round: u64,
        candidate: usize,
        accuser: usize,
        verdict: Verdict,
        voters: impl FnOnce(&Committee) -> Vec<Pubkey>,
    ) -> (Committee, Vec<Pubkey>) {
        let open = self.span(Window::ProofAudit, round, 0).opens;
        let ix = self.audit_ix(round, candidate, Verdict::Invalid);
        assert_eq!(self.run_at(open, accuser, ix), Ok(()), "audit raised");
        self.c.next(vec![]);
        let committee = self.audit_committee(round, candidate);
        let voters = voters(&committee);
        let txs = voters
            .iter()
            .map(|v| self.tx(self.idx(v), self.audit_ix(round, candidate, verdict)))
            .collect();
        all_ok(&self.c.next(txs));
        (committee, voters)
    }

    /// [`Net::audit_with`] where every seat holder votes.
    pub fn audit_all_vote(
        &mut self,
        round: u64,
        candidate: usize,
        accuser: usize,
        verdict: Verdict,
    ) -> Committee {
        self.audit_with(round, candidate, accuser, verdict, |c| {
            c.seats.iter().map(|(n, _)| *n).collect()
        })
        .0
    }

    /// The selected node of attempt `attempt` submits `list` at the first slot of its
    /// distribution submission window.
    pub fn distribute(&mut self, round: u64, attempt: u16, list: &[(Pubkey, u64)]) {
        let open = self
            .span(Window::DistributionSubmission, round, attempt)
            .opens;
        self.c.run_to(open - 1);
        let who = self.selected(round, attempt);
        let res = self.distribute_at(open, who, round, attempt, list);
        assert!(res.iter().all(Result::is_ok), "{res:?}");
    }

    /// Key index of a pubkey.
    pub fn idx(&self, pk: &Pubkey) -> usize {
        self.c
            .keys
            .iter()
            .position(|k| k.pubkey() == *pk)
            .expect("a test key")
    }

    /// The selected node of `attempt` of `round`, as a key index.
    pub fn selected(&self, round: u64, attempt: u16) -> usize {
        let a = self
            .c
            .ledger
            .attempt(&self.task, round, attempt)
            .expect("attempt open");
        self.idx(&a.submitter)
    }

    /// Upload `list` as one chunk per `chunk` entries and submit it, all in one block at
    /// `slot`; the receipts' results.
    pub fn distribute_at(
        &mut self,
        slot: Slot,
        who: usize,
        round: u64,
        attempt: u16,
        list: &[(Pubkey, u64)],
    ) -> Vec<Result<(), TxError>> {
        let mut txs: Vec<Transaction> = list
            .chunks(2)
            .enumerate()
            .map(|(i, e)| {
                self.tx(
                    who,
                    Instruction::UploadDistributionChunk {
                        task: self.task,
                        round,
                        attempt,
                        index: i as u32,
                        entries: e.to_vec(),
                    },
                )
            })
            .collect();
        txs.push(self.tx(who, self.submit_list_ix(round, attempt, list)));
        results(&self.block(slot, txs))
    }

    pub fn submit_list_ix(&self, round: u64, attempt: u16, list: &[(Pubkey, u64)]) -> Instruction {
        Instruction::SubmitDistribution {
            task: self.task,
            round,
            attempt,
            digest: distribution_digest(list),
            count: list.len() as u32,
        }
    }

    pub fn chunk_ix(
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

    pub fn vote_list_ix(&self, round: u64, attempt: u16, verdict: Verdict) -> Instruction {
        Instruction::AuditDistribution {
            task: self.task,
            round,
            attempt,
            verdict,
        }
    }

    /// Equal split of `bounty_per_round` among the non-voided submitters (SDK default).
    pub fn fair_list(&self, round: u64) -> Vec<(Pubkey, u64)> {
        let bpr = self.task_rec().params.bounty_per_round;
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

    pub fn task_rec(&self) -> &crate::state::TaskRecord {
        self.c.ledger.task(&self.task).expect("task exists")
    }

    pub fn stake_of(&self, who: usize) -> u64 {
        self.c
            .ledger
            .stake(&self.task, &self.pk(who))
            .map(|s| s.amount)
            .unwrap_or(0)
    }

    pub fn reward_of(&self, who: usize) -> u64 {
        self.c.ledger.pending_reward(&self.task, &self.pk(who))
    }

    pub fn balance(&self, who: usize) -> u64 {
        self.c.ledger.balance(&self.pk(who))
    }

    /// Supply is conserved and a replay of the block log reproduces the state root.
    pub fn finish(self) {
        finish(&self.c);
    }
}

pub(super) fn finish(c: &TestChain) {
    c.ledger.assert_supply_conserved();
    assert_eq!(c.replay(), c.ledger.state_root(), "replay diverged");
}

/// The value a well-behaved node submits.
pub(super) fn proof(node: &Pubkey, round: u64) -> Vec<u8> {
    Hash::domain("unit/proof", &[&node.0, &round.to_le_bytes()])
        .0
        .to_vec()
}

pub(super) fn results(out: &BlockOutput) -> Vec<Result<(), TxError>> {
    out.receipts.iter().map(|r| r.result.clone()).collect()
}

pub(super) fn all_ok(out: &BlockOutput) {
    for (i, r) in out.receipts.iter().enumerate() {
        assert_eq!(
            r.result,
            Ok(()),
            "tx {i} of the block at {}",
            out.block.header.slot
        );
    }
}

/// Seat holders of `c` (sorted by key) whose seats add up to exactly `target`, if any.
pub(super) fn seats_summing_to(c: &Committee, target: u32) -> Option<Vec<Pubkey>> {
    // Subset sum over at most K seats: reachable[s] = the subset that reaches s first.
    let mut reach: Vec<Option<Vec<Pubkey>>> = vec![None; target as usize + 1];
    reach[0] = Some(Vec::new());
    for (node, seats) in &c.seats {
        let s = u32::from(*seats) as usize;
        for t in (s..=target as usize).rev() {
            if reach[t].is_none() {
                if let Some(base) = reach[t - s].clone() {
                    let mut v = base;
                    v.push(*node);
                    reach[t] = Some(v);
                }
            }
        }
    }
    reach[target as usize].take()
}

/// Total seats of `nodes` in `c`.
pub(super) fn seats_of_all(c: &Committee, nodes: &[Pubkey]) -> u32 {
    nodes.iter().map(|n| u32::from(c.seats_of(n))).sum()
}

pub(super) fn outside(w: Window, round: u64, slot: Slot, span: Span) -> TxError {
    TxError::OutsideWindow {
        window: w,
        round,
        slot,
        opens: span.opens,
        closes: span.closes,
    }
}
