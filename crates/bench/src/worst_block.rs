//! The chain `worst_block` measures (issue #9): a ledger driven block by block with each
//! block's cost recorded ([`Chain`], [`Measure`]), and the setup that brings tasks A, B, C
//! and the many tasks to the attack slot [`X`] ([`Scenario::build`]). The binary
//! (`src/bin/worst_block.rs`) builds the attack blocks on top of it and prints the report.
//!
//! It does **not** run a store, a validator or a clock: blocks are applied in memory as fast
//! as they can be.

use crate::{sign_parallel, thread_cpu};
use anyhow::{bail, ensure, Context};
use gradual_ledger::testkit::key;
use gradual_ledger::{distribution_digest, BlockOutput, CheckedTx, Ledger};
use gradual_types::constants::{
    AUDIT_SAMPLE_MAX, COMMITTEE_SIZE_MAX, DEFAULT_BLOCK_MAX_BYTES,
    DISTRIBUTION_ENTRIES_PER_CHUNK_MAX,
};
use gradual_types::{
    task_id, Genesis, Hash, Instruction, Keypair, Pubkey, Slot, TaskId, TaskParams, Transaction,
    ValidatorKey,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The reference network's fee (SPEC §1): every transaction in the blocks pays it.
pub const FEE: u64 = 500_000;
const NODE_BALANCE: u64 = 1_000_000_000_000;
const MIN_STAKE: u64 = 1_000_000;
pub const REWARD: u64 = 1_000;
/// All tasks: `RT = 40`, `SW = 12`, `AW = 6` with 3 s slots, so `V = 2` and raises are
/// accepted in the first 4 slots of a proof audit window.
pub const RT: u64 = 40;
pub const SW: u64 = 12;
pub const AW: u64 = 6;
/// The attack slot. B and the many tasks are created at 1 (round 1's list closes, and the
/// many tasks' round 2 proof audit window closes, at 1 + 2·40 + 12 + 6 + 40 = 139); C at 18
/// (its attempt-0 list window is [138, 150)); A at 47 (its proof audit window opens at 139).
pub const X: Slot = 139;
const S_B: Slot = 1;
const S_C: Slot = 18;
const S_A: Slot = 47;

/// Resident set now and its peak since the last reset (Linux `/proc/self/status`, KiB).
pub fn mem_kib() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Reset the peak resident set (`VmHWM`) to the current one (Linux ≥ 4.0); false if not
/// possible, in which case the peak is the process's.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What one block cost.
#[derive(Clone, Default)]
pub struct Measure {
    pub slot: Slot,
    pub txs: usize,
    pub tx_bytes: u64,
    pub failed: usize,
    pub fees: u64,
    pub apply: Duration,
    pub apply_cpu: Duration,
    pub verify: Duration,
    pub records: u64,
    pub write_bytes: u64,
    /// Peak resident set during the block minus the resident set before it (KiB).
    pub peak_delta_kib: u64,
    /// Resident set after the block (KiB).
    pub rss_kib: u64,
}

pub struct Chain {
    pub ledger: Ledger,
    validator: ValidatorKey,
    chain_id: String,
    /// Whether the last block's peak memory is its own (see [`reset_peak`]).
    pub peak_ok: bool,
}

impl Chain {
    pub fn slot(&self) -> Slot {
        self.ledger.slot()
    }

    pub fn tx(&self, k: &Keypair, ix: Instruction) -> Transaction {
        Transaction::new_signed(k, &self.chain_id, self.ledger.slot(), FEE, ix)
    }

    /// Apply one block at `slot`, measuring it.
    pub fn block(
        &mut self,
        slot: Slot,
        txs: Vec<Transaction>,
    ) -> anyhow::Result<(BlockOutput, Measure)> {
        let tx_bytes: u64 = txs.iter().map(|t| t.encode().len() as u64).sum();
        let n = txs.len();
        let t = Instant::now();
        let checked = CheckedTx::check_all(txs, 2);
        let verify = t.elapsed();
        let seal = self.ledger.seal(&self.validator, slot);
        let parent = self.ledger.head_hash();
        self.peak_ok = reset_peak();
        let (rss_before, _) = mem_kib();
        let cpu0 = thread_cpu();
        let t = Instant::now();
        let out = self
            .ledger
            .apply_block(slot, parent, seal, checked)
            .map_err(|e| anyhow::anyhow!("block at {slot}: {e:?}"))?;
        let apply = t.elapsed();
        let apply_cpu = match (cpu0, thread_cpu()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => Duration::ZERO,
        };
        let (rss, hwm) = mem_kib();
        let (records, write_bytes) = out.writes.iter().fold((0, 0), |(r, b), w| {
            (
                r + 1,
                b + (w.key.len() + w.value.as_ref().map_or(0, Vec::len)) as u64,
            )
        });
        let m = Measure {
            slot,
            txs: n,
            tx_bytes,
            failed: out.receipts.iter().filter(|r| r.result.is_err()).count(),
            fees: out.receipts.iter().map(|r| r.fee_charged).sum(),
            apply,
            apply_cpu,
            verify,
            records,
            write_bytes,
            peak_delta_kib: hwm.saturating_sub(rss_before),
            rss_kib: rss,
        };
        Ok((out, m))
    }

    /// Setup blocks: pack `txs` into blocks within the genesis limits, one per slot from
    /// `from`; every transaction must succeed. Returns the measures.
    fn setup(&mut self, from: Slot, txs: Vec<Transaction>) -> anyhow::Result<Vec<Measure>> {
        let mut out = Vec::new();
        let first = from.max(self.slot() + 1);
        let blocks = if txs.is_empty() {
            vec![vec![]]
        } else {
            pack(txs)
        };
        for (slot, block) in (first..).zip(blocks) {
            let (o, m) = self.block(slot, block)?;
            if let Some(r) = o.receipts.iter().find(|r| r.result.is_err()) {
                bail!("setup transaction at slot {slot} failed: {:?}", r.result);
            }
            out.push(m);
        }
        Ok(out)
    }

    /// Empty blocks until no work due at or before the head slot waits.
    fn settle(&mut self) -> anyhow::Result<()> {
        while backlog(&self.ledger) > 0 {
            let s = self.slot() + 1;
            self.block(s, vec![])?;
        }
        Ok(())
    }

    /// `who`'s upload of `list` (sorted) for `task`'s round 1, attempt 0, one transaction per
    /// chunk of at most the ledger's chunk size.
    pub fn upload(&self, who: &Keypair, task: TaskId, list: &[(Pubkey, u64)]) -> Vec<Transaction> {
        list.chunks(DISTRIBUTION_ENTRIES_PER_CHUNK_MAX)
            .enumerate()
            .map(|(i, e)| {
                self.tx(
                    who,
                    Instruction::UploadDistributionChunk {
                        task,
                        round: 1,
                        attempt: 0,
                        index: i as u32,
                        entries: e.to_vec(),
                    },
                )
            })
            .collect()
    }
}

/// Work due at or before the head slot still queued.
pub fn backlog(l: &Ledger) -> usize {
    l.queued_work()
        .iter()
        .filter(|(due, _, _)| *due <= l.slot())
        .count()
}

/// Split into blocks of at most the default `block_max_bytes` (the genesis here uses it).
pub fn pack(txs: Vec<Transaction>) -> Vec<Vec<Transaction>> {
    let mut blocks = vec![];
    let mut cur = vec![];
    let mut bytes = 0u64;
    for tx in txs {
        let len = tx.encode().len() as u64;
        if bytes + len > DEFAULT_BLOCK_MAX_BYTES && !cur.is_empty() {
            blocks.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += len;
        cur.push(tx);
    }
    if !cur.is_empty() {
        blocks.push(cur);
    }
    blocks
}

/// Sign on 2 threads: `make(i)` gives the i-th transaction.
pub fn sign(count: usize, make: impl Fn(usize) -> Transaction + Sync) -> Vec<Transaction> {
    sign_parallel(count, 2, make)
}

fn params(bounty_per_round: u64) -> TaskParams {
    TaskParams {
        name: "worst".into(),
        round_time: RT,
        submission_window: SW,
        audit_window: AW,
        minimum_stake: MIN_STAKE,
        bounty_per_round,
        committee_size: COMMITTEE_SIZE_MAX,
        audit_sample: AUDIT_SAMPLE_MAX,
        ..TaskParams::default()
    }
}

/// The chain at the slot before the normal blocks: every task staked, proved and ranked,
/// B's list and the many tasks' lists submitted, A's proofs in.
pub struct Scenario {
    pub chain: Chain,
    /// Keys 1..=n: the nodes staked on A and B (the first `chunks · 1500` also on C).
    pub nodes: Vec<Keypair>,
    /// Position of each node's key in `nodes`.
    pub index: HashMap<Pubkey, usize>,
    pub a: TaskId,
    pub ct: TaskId,
    /// The blocks of A's proofs (full blocks of `SubmitProof`, a normal block kind).
    pub proof_blocks: Vec<Measure>,
}

impl Scenario {
    /// Build the chain for `n` nodes, `tasks` many tasks and `nc` entries of C's list.
    pub fn build(n: usize, tasks: usize, nc: usize) -> anyhow::Result<Scenario> {
        // Keys: 0 manager, 1..=n nodes (A, B; C: the first nc), n+1 the many tasks' node.
        let manager = key(0);
        let nodes: Vec<Keypair> = (1..=n as u32).map(key).collect();
        let mnode = key(n as u32 + 1);
        let index: HashMap<Pubkey, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, k)| (k.pubkey(), i))
            .collect();
        let genesis = Genesis {
            chain_id: "bench".into(),
            // 3 s slots: V = max(1, AW / 3) slots (SPEC §5), so short windows are allowed.
            slot_ms: 3_000,
            fee_roe: FEE,
            accounts: std::iter::once((manager.pubkey(), u64::MAX / 4))
                .chain(nodes.iter().map(|k| (k.pubkey(), NODE_BALANCE)))
                .chain(std::iter::once((mnode.pubkey(), NODE_BALANCE)))
                .collect(),
            ..Genesis::default()
        };
        let mut c = Chain {
            ledger: Ledger::new(genesis),
            validator: ValidatorKey::devnet(),
            chain_id: "bench".into(),
            peak_ok: false,
        };
        let mp = manager.pubkey();
        let b = task_id(&mp, 0);
        let many: Vec<TaskId> = (1..=tasks as u64).map(|i| task_id(&mp, i)).collect();
        let ct = task_id(&mp, 1_000_000);
        let a = task_id(&mp, 2_000_000);
        let create = |c: &Chain, nonce, per_round: u64| {
            c.tx(
                &manager,
                Instruction::CreateTask {
                    nonce,
                    params: params(per_round),
                    total_bounty: 10 * per_round,
                },
            )
        };
        let stake = |c: &Chain, k: &Keypair, task| {
            c.tx(
                k,
                Instruction::Stake {
                    task,
                    amount: MIN_STAKE,
                    url: String::new(),
                    owner: None,
                },
            )
        };
        let prove = |c: &Chain, k: &Keypair, task: TaskId, round: u64| {
            let value = Hash::domain(
                "worst/proof",
                &[&k.pubkey().0, &task.0, &round.to_le_bytes()],
            );
            c.tx(
                k,
                Instruction::SubmitProof {
                    task,
                    round,
                    value: value.0.to_vec(),
                },
            )
        };

        // Slot 1: B and the many tasks; 2..: their stakes.
        let mut txs = vec![create(&c, 0, REWARD * n as u64)];
        txs.extend((1..=tasks as u64).map(|i| create(&c, i, REWARD)));
        c.setup(S_B, txs)?;
        let txs = sign(n, |i| stake(&c, &nodes[i], b));
        c.setup(S_B + 1, txs)?;
        let txs: Vec<_> = many.iter().map(|t| stake(&c, &mnode, *t)).collect();
        c.setup(c.slot() + 1, txs)?;
        // Slot 18: C; its stakes.
        c.setup(S_C, vec![create(&c, 1_000_000, REWARD * nc as u64)])?;
        let txs = sign(nc, |i| stake(&c, &nodes[i], ct));
        c.setup(S_C + 1, txs)?;
        // Slot 47: A; its stakes.
        c.setup(S_A, vec![create(&c, 2_000_000, REWARD * n as u64)])?;
        let txs = sign(n, |i| stake(&c, &nodes[i], a));
        c.setup(S_A + 1, txs)?;
        ensure!(c.slot() < S_A + RT, "A's stakes took too many slots");
        // Round 1 proofs: B and many at 81.., C at 98...
        let mut txs = sign(n, |i| prove(&c, &nodes[i], b, 1));
        txs.extend(many.iter().map(|t| prove(&c, &mnode, *t, 1)));
        c.setup(S_B + RT * 2, txs)?;
        ensure!(
            c.slot() < S_B + 2 * RT + SW,
            "B's proofs took too many slots"
        );
        let txs = sign(nc, |i| prove(&c, &nodes[i], ct, 1));
        c.setup(S_C + RT * 2, txs)?;
        // Rankings (B and many at 99, C at 116).
        c.setup(S_C + 2 * RT + SW + AW, vec![])?;
        c.settle()?;
        // 121: B's list (every node, in chunks) and each many-task's one-entry list; round 2
        // proofs of the many tasks.
        let b_who = c.ledger.attempt(&b, 1, 0).context("B attempt 0")?.submitter;
        let b_who = &nodes[*index.get(&b_who).context("B's submitter is a node")?];
        let mut list: Vec<(Pubkey, u64)> = nodes.iter().map(|k| (k.pubkey(), REWARD)).collect();
        list.sort();
        let mut txs = c.upload(b_who, b, &list);
        txs.push(c.tx(
            b_who,
            Instruction::SubmitDistribution {
                task: b,
                round: 1,
                attempt: 0,
                digest: distribution_digest(&list),
                count: list.len() as u32,
            },
        ));
        let one = vec![(mnode.pubkey(), REWARD)];
        for t in &many {
            txs.extend(c.upload(&mnode, *t, &one));
            txs.push(c.tx(
                &mnode,
                Instruction::SubmitDistribution {
                    task: *t,
                    round: 1,
                    attempt: 0,
                    digest: distribution_digest(&one),
                    count: 1,
                },
            ));
        }
        txs.extend(many.iter().map(|t| prove(&c, &mnode, *t, 2)));
        c.setup(S_B + 3 * RT, txs)?;
        c.settle()?;
        // 127..: A's proofs: full blocks of SubmitProof, the second normal block kind.
        let txs = sign(n, |i| prove(&c, &nodes[i], a, 1));
        let proof_blocks = c.setup(S_A + 2 * RT, txs)?;
        c.settle()?;
        ensure!(
            c.slot() + 3 < X,
            "setup ran past the attack slot ({})",
            c.slot()
        );
        Ok(Scenario {
            chain: c,
            nodes,
            index,
            a,
            ct,
            proof_blocks,
        })
    }
}
