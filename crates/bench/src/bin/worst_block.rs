//! `worst_block`: the worst block an attacker can force (issue #9), measured next to a full
//! block of ordinary transfers, and the blocks that drain the work it queued.
//!
//! ```text
//!  setup (not measured): tasks A (raises), B (big payout), C (chunks), M (many tasks), nodes
//!  staked and proving so that at slot X:
//!    X    attack block: C's list chunks (1 500 entries each) + AuditProofs raises on A
//!         (audit_sample = 16 distinct candidates per raiser, K = 256) + failing transfers
//!         (each paying the fee) up to block_max_bytes; due at X: B's accepted list of
//!         `nodes` entries (payout in chunks) and the windows of `tasks` tasks close
//!    X+1  follow-up attack block: block_max_bytes of failing SubmitDistribution (wrong
//!         digest; each re-hashes C's whole uploaded list) + the queued committee draws
//!    X+2… empty blocks while queued work is due; then a block at each later due slot
//!         (retries, settlement, prunes) until the queue is empty
//! ```
//! It is a program, not a test: it asserts nothing about speed.
//!
//! Run: `cargo run --release -p gradual-bench --bin worst_block -- [--nodes N] [--tasks N]
//! [--chunks N]`

use anyhow::{bail, ensure, Context};
use gradual_bench::thread_cpu;
use gradual_ledger::testkit::key;
use gradual_ledger::{distribution_digest, BlockOutput, CheckedTx, Ledger};
use gradual_types::constants::{
    AUDIT_SAMPLE_MAX, COMMITTEE_SIZE_MAX, DEFAULT_BLOCK_MAX_BYTES,
    DISTRIBUTION_ENTRIES_PER_CHUNK_MAX, SETTLEMENT_BYTES_PER_BLOCK, SETTLEMENT_RECORDS_PER_BLOCK,
};
use gradual_types::{
    task_id, Genesis, Hash, Instruction, Keypair, Pubkey, Slot, TaskId, TaskParams, Transaction,
    ValidatorKey, Verdict,
};
use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: worst_block [--nodes N] [--tasks N] [--chunks N]
  --nodes N   nodes staked on tasks A and B: A's audits raised in the attack block (one per
              node, 16 per raising node) and B's accepted list size (default 40000)
  --tasks N   extra tasks whose windows close at the attack slot (default 1200)
  --chunks N  C's list chunks of 1 500 entries uploaded in the attack block (default 10)";

/// The reference network's fee (SPEC §1): every transaction in the blocks pays it.
const FEE: u64 = 500_000;
const NODE_BALANCE: u64 = 1_000_000_000_000;
const MIN_STAKE: u64 = 1_000_000;
const REWARD: u64 = 1_000;
/// All tasks: `RT = 40`, `SW = 12`, `AW = 6` with 3 s slots, so `V = 2` and raises are
/// accepted in the first 4 slots of a proof audit window.
const RT: u64 = 40;
const SW: u64 = 12;
const AW: u64 = 6;
/// The attack slot. B and the many tasks are created at 1 (round 1's list closes, and the
/// many tasks' round 2 proof audit window closes, at 1 + 2·40 + 12 + 6 + 40 = 139); C at 18
/// (its attempt-0 list window is [138, 150)); A at 47 (its proof audit window opens at 139).
const X: Slot = 139;
const S_B: Slot = 1;
const S_C: Slot = 18;
const S_A: Slot = 47;

struct Args {
    nodes: usize,
    tasks: usize,
    chunks: usize,
}

fn parse_args() -> anyhow::Result<Option<Args>> {
    let mut a = Args {
        nodes: 40_000,
        tasks: 1_200,
        chunks: 10,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = |name: &str| -> anyhow::Result<usize> {
            let v = it.next().with_context(|| format!("{name} needs a value"))?;
            v.replace('_', "")
                .parse()
                .with_context(|| format!("{name} takes a whole number, got '{v}'"))
        };
        match flag.as_str() {
            "--nodes" => a.nodes = num("--nodes")?,
            "--tasks" => a.tasks = num("--tasks")?,
            "--chunks" => a.chunks = num("--chunks")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(None);
            }
            "--bench" => {}
            other => bail!("unknown argument '{other}'\n{USAGE}"),
        }
    }
    let step = usize::from(AUDIT_SAMPLE_MAX);
    ensure!(
        a.nodes >= 2 * step && a.nodes.is_multiple_of(step),
        "--nodes must be a multiple of {step}, at least {}",
        2 * step
    );
    ensure!(a.tasks >= 1, "--tasks must be at least 1");
    ensure!(
        a.chunks >= 1 && a.chunks * DISTRIBUTION_ENTRIES_PER_CHUNK_MAX <= a.nodes,
        "--chunks must be 1 to nodes / 1500"
    );
    Ok(Some(a))
}

/// Resident set now and its peak since the last reset (Linux `/proc/self/status`, KiB).
fn mem_kib() -> (u64, u64) {
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
struct Measure {
    slot: Slot,
    txs: usize,
    tx_bytes: u64,
    failed: usize,
    fees: u64,
    apply: Duration,
    apply_cpu: Duration,
    verify: Duration,
    records: u64,
    write_bytes: u64,
    /// Peak resident set during the block minus the resident set before it (KiB).
    peak_delta_kib: u64,
    /// Resident set after the block (KiB).
    rss_kib: u64,
}

struct Chain {
    ledger: Ledger,
    validator: ValidatorKey,
    chain_id: String,
    peak_ok: bool,
}

impl Chain {
    fn slot(&self) -> Slot {
        self.ledger.slot()
    }

    fn tx(&self, k: &Keypair, ix: Instruction) -> Transaction {
        Transaction::new_signed(k, &self.chain_id, self.ledger.slot(), FEE, ix)
    }

    /// Apply one block at `slot`, measuring it.
    fn block(
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
}

/// Work due at or before the head slot still queued.
fn backlog(l: &Ledger) -> usize {
    l.queued_work()
        .iter()
        .filter(|(due, _, _)| *due <= l.slot())
        .count()
}

/// Split into blocks of at most the default `block_max_bytes` (the genesis here uses it).
fn pack(txs: Vec<Transaction>) -> Vec<Vec<Transaction>> {
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
fn sign(count: usize, make: impl Fn(usize) -> Transaction + Sync) -> Vec<Transaction> {
    let half = count.div_ceil(2).max(1);
    std::thread::scope(|s| {
        let make = &make;
        let hs: Vec<_> = (0..count)
            .step_by(half)
            .map(|lo| s.spawn(move || (lo..(lo + half).min(count)).map(make).collect::<Vec<_>>()))
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn row(name: &str, m: &Measure) {
    println!(
        "{name:<34} {:>6} {:>7} {:>9.2} {:>10.1} {:>9.1} {:>8} {:>10.2} {:>9.1} {:>9.1}",
        m.slot,
        m.txs,
        mib(m.tx_bytes),
        ms(m.apply),
        ms(m.apply_cpu),
        m.records,
        mib(m.write_bytes),
        m.peak_delta_kib as f64 / 1024.0,
        m.rss_kib as f64 / 1024.0,
    );
}

fn run() -> anyhow::Result<ExitCode> {
    let Some(args) = parse_args()? else {
        return Ok(ExitCode::SUCCESS);
    };
    let started = Instant::now();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let n = args.nodes;
    let nc = args.chunks * DISTRIBUTION_ENTRIES_PER_CHUNK_MAX;
    let step = usize::from(AUDIT_SAMPLE_MAX);
    println!(
        "worst_block: {n} nodes (A: {n} audits raised by {} nodes, K = {COMMITTEE_SIZE_MAX}; B: list of \
         {n} entries), {} tasks closing at slot {X}, C: {} chunks of {} entries, fee {FEE} ROE, \
         block_max_bytes {} (default), {} cores",
        n / step,
        args.tasks,
        args.chunks,
        DISTRIBUTION_ENTRIES_PER_CHUNK_MAX,
        DEFAULT_BLOCK_MAX_BYTES,
        std::thread::available_parallelism().map_or(1, |c| c.get()),
    );

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
    let many: Vec<TaskId> = (1..=args.tasks as u64).map(|i| task_id(&mp, i)).collect();
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
    let prove = |c: &Chain, k: &Keypair, task, round: u64| {
        let value = Hash::domain(
            "worst/proof",
            &[&k.pubkey().0, &task_id_bytes(&task), &round.to_le_bytes()],
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
    txs.extend((1..=args.tasks as u64).map(|i| create(&c, i, REWARD)));
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
    let mut txs: Vec<Transaction> = list
        .chunks(DISTRIBUTION_ENTRIES_PER_CHUNK_MAX)
        .enumerate()
        .map(|(i, e)| {
            c.tx(
                b_who,
                Instruction::UploadDistributionChunk {
                    task: b,
                    round: 1,
                    attempt: 0,
                    index: i as u32,
                    entries: e.to_vec(),
                },
            )
        })
        .collect();
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
        txs.push(c.tx(
            &mnode,
            Instruction::UploadDistributionChunk {
                task: *t,
                round: 1,
                attempt: 0,
                index: 0,
                entries: one.clone(),
            },
        ));
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
    let setup_time = started.elapsed();

    // Normal blocks: block_max_bytes of ordinary signed transfers, at quiet slots before X.
    let mut normal = Vec::new();
    for rep in 0..3u64 {
        let probe = c.tx(
            &nodes[0],
            Instruction::Transfer {
                to: nodes[1].pubkey(),
                amount: 1,
            },
        );
        let per = probe.encode().len() as u64;
        let count = (DEFAULT_BLOCK_MAX_BYTES / per) as usize;
        let txs = sign(count, |i| {
            c.tx(
                &nodes[i % n],
                Instruction::Transfer {
                    to: nodes[(i + 1) % n].pubkey(),
                    amount: 1 + rep * 1_000 + (i / n) as u64,
                },
            )
        });
        let txs = pack(txs).swap_remove(0);
        let slot = X - 3 + rep;
        ensure!(backlog(&c.ledger) == 0, "quiet slot");
        let (o, m) = c.block(slot, txs)?;
        ensure!(
            o.receipts.iter().all(|r| r.result.is_ok()),
            "transfers pass"
        );
        normal.push(m);
    }
    ensure!(c.slot() == X - 1, "normal blocks end before X");

    // The attack block at X.
    let c_who = c
        .ledger
        .attempt(&ct, 1, 0)
        .context("C attempt 0")?
        .submitter;
    let c_who = &nodes[*index.get(&c_who).context("C's submitter is a node")?];
    let mut c_list: Vec<(Pubkey, u64)> = nodes[..nc].iter().map(|k| (k.pubkey(), 1)).collect();
    c_list.sort();
    let mut txs: Vec<Transaction> = c_list
        .chunks(DISTRIBUTION_ENTRIES_PER_CHUNK_MAX)
        .enumerate()
        .map(|(i, e)| {
            c.tx(
                c_who,
                Instruction::UploadDistributionChunk {
                    task: ct,
                    round: 1,
                    attempt: 0,
                    index: i as u32,
                    entries: e.to_vec(),
                },
            )
        })
        .collect();
    let chunk_txs = txs.len();
    // Raiser j raises audit_sample distinct candidates, 16j+1..=16j+16 (mod n): every node
    // is raised once, none by itself.
    let raisers = n / step;
    txs.extend(sign(raisers, |j| {
        let votes = (1..=step)
            .map(|k| (nodes[(step * j + k) % n].pubkey(), Verdict::Invalid))
            .collect();
        c.tx(
            &nodes[j],
            Instruction::AuditProofs {
                task: a,
                round: 1,
                votes,
            },
        )
    }));
    let used: u64 = txs.iter().map(|t| t.encode().len() as u64).sum();
    ensure!(
        used < DEFAULT_BLOCK_MAX_BYTES,
        "chunks and raises alone overflow the block; fewer --nodes"
    );
    let probe = c.tx(
        &nodes[0],
        Instruction::Transfer {
            to: nodes[1].pubkey(),
            amount: u64::MAX,
        },
    );
    let fail_count = ((DEFAULT_BLOCK_MAX_BYTES - used) / probe.encode().len() as u64) as usize;
    txs.extend(sign(fail_count, |i| {
        c.tx(
            &nodes[i % n],
            Instruction::Transfer {
                to: nodes[(i + 7) % n].pubkey(),
                amount: u64::MAX - i as u64,
            },
        )
    }));
    let due_at_x = c
        .ledger
        .queued_work()
        .iter()
        .filter(|(due, _, _)| *due <= X)
        .count();
    let (out, attack) = c.block(X, txs)?;
    let ok =
        |r: std::ops::Range<usize>| out.receipts[r].iter().filter(|r| r.result.is_ok()).count();
    let chunks_ok = ok(0..chunk_txs);
    let raises_ok = ok(chunk_txs..chunk_txs + raisers);
    let raised = c.ledger.audits(&a, 1).len();
    let raise_error = out.receipts[chunk_txs..chunk_txs + raisers]
        .iter()
        .find_map(|r| r.result.as_ref().err())
        .map(|e| format!("{e:?}"));
    let fails = out.receipts[chunk_txs + raisers..]
        .iter()
        .filter(|r| r.result.is_err() && r.fee_charged == FEE)
        .count();
    let queued_after_x = c.ledger.queued_work().len();

    // The follow-up attack block at X+1: block_max_bytes of failing SubmitDistribution (wrong
    // digest, right count), each re-hashing C's uploaded list.
    let probe = c.tx(
        c_who,
        Instruction::SubmitDistribution {
            task: ct,
            round: 1,
            attempt: 0,
            digest: Hash([0; 32]),
            count: nc as u32,
        },
    );
    let count = (DEFAULT_BLOCK_MAX_BYTES / probe.encode().len() as u64) as usize;
    let txs = sign(count, |i| {
        let mut d = [0xd1u8; 32];
        d[..8].copy_from_slice(&(i as u64).to_le_bytes());
        c.tx(
            c_who,
            Instruction::SubmitDistribution {
                task: ct,
                round: 1,
                attempt: 0,
                digest: Hash(d),
                count: nc as u32,
            },
        )
    });
    let (out2, attack2) = c.block(X + 1, txs)?;
    let per_tx_us = attack2.apply.as_secs_f64() * 1e6 / attack2.txs.max(1) as f64;
    let digest_fails = out2
        .receipts
        .iter()
        .filter(|r| {
            matches!(
                r.result,
                Err(gradual_ledger::TxError::DigestMismatch { .. })
            )
        })
        .count();

    // Drain: empty blocks while due work waits, then a block at each later due slot.
    let mut backlog_blocks = 0usize;
    let mut later_blocks = 0usize;
    let mut drain: Vec<Measure> = Vec::new();
    let mut backlog_end = X + 1;
    // A's audits whose committee was drawn (counted before the round is pruned), and when.
    let drawn = |c: &Chain| {
        c.ledger
            .audits(&a, 1)
            .iter()
            .filter(|(_, x)| x.committee.is_some())
            .count()
    };
    let mut drawn_by: Vec<(Slot, usize)> = vec![(X + 1, drawn(&c))];
    loop {
        let q = c.ledger.queued_work();
        let Some(first_due) = q.iter().map(|(d, _, _)| *d).min() else {
            break;
        };
        let slot = if first_due <= c.slot() {
            backlog_blocks += 1;
            c.slot() + 1
        } else {
            later_blocks += 1;
            first_due
        };
        let (_, m) = c.block(slot, vec![])?;
        let now = drawn(&c);
        if now > drawn_by.last().map_or(0, |(_, n)| *n) {
            drawn_by.push((slot, now));
        }
        if first_due < slot {
            backlog_end = slot;
        }
        drain.push(m);
        ensure!(drain.len() < 200_000, "the queue does not drain");
    }
    let total = started.elapsed();

    // Report.
    let med = |v: &[Measure], f: &dyn Fn(&Measure) -> Duration| {
        let mut d: Vec<Duration> = v.iter().map(f).collect();
        d.sort();
        d[d.len() / 2]
    };
    let normal_apply = med(&normal, &|m| m.apply);
    let normal_cpu = med(&normal, &|m| m.apply_cpu);
    let worst_of = |v: &[Measure], f: &dyn Fn(&Measure) -> u64| {
        v.iter().max_by_key(|m| f(m)).cloned().unwrap_or_default()
    };
    let d_apply = worst_of(&drain, &|m| m.apply.as_nanos() as u64);
    let d_writes = worst_of(&drain, &|m| m.write_bytes);
    let d_mem = worst_of(&drain, &|m| m.peak_delta_kib);
    let d_records = worst_of(&drain, &|m| m.records);
    let proof_full = proof_blocks
        .iter()
        .max_by_key(|m| m.tx_bytes)
        .cloned()
        .unwrap_or_default();

    let drawn_text: Vec<String> = drawn_by
        .iter()
        .map(|(slot, n)| format!("{n} by slot {slot}"))
        .collect();
    println!();
    println!(
        "A's committees drawn (its window closes at {}): {} of {raised}",
        X + AW,
        drawn_text.join(", ")
    );
    println!(
        "setup {:.1} s (not measured); A: {raised} audits raised by {raises_ok}/{raisers} AuditProofs txs; \
         C: {chunks_ok}/{chunk_txs} chunks uploaded; {fails} failing transfers paid the fee; \
         {due_at_x} queued steps due at X before it, {queued_after_x} queued after it",
        setup_time.as_secs_f64()
    );
    println!(
        "X+1: {per_tx_us:.1} µs of apply per failing SubmitDistribution: the first one hashes \
         the {nc}-entry list and seals the upload with its digest, the others compare against \
         it (before issue #9's fix each re-hashed the list: 594 µs each, 147x a normal block)"
    );
    if let Some(e) = &raise_error {
        let e: String = e.chars().take(400).collect();
        println!("first refused raise batch: {e}");
    }
    println!(
        "X: {} txs failed, {:.3} KOII of fees burned",
        attack.failed,
        attack.fees as f64 / 1e9
    );
    println!(
        "X+1: {digest_fails}/{} SubmitDistribution failed DigestMismatch against C's {nc}-entry list",
        attack2.txs
    );
    println!();
    println!(
        "{:<34} {:>6} {:>7} {:>9} {:>10} {:>9} {:>8} {:>10} {:>9} {:>9}",
        "block",
        "slot",
        "txs",
        "tx MiB",
        "apply ms",
        "cpu ms",
        "records",
        "write MiB",
        "peak+MiB",
        "RSS MiB"
    );
    for (i, m) in normal.iter().enumerate() {
        row(&format!("normal: transfers #{}", i + 1), m);
    }
    row("normal: SubmitProof (fullest)", &proof_full);
    row("(a) attack block X", &attack);
    row("(a') X+1 failing SubmitDistribution", &attack2);
    row("(b) drain: max apply", &d_apply);
    row("(b) drain: max write bytes", &d_writes);
    row("(b) drain: max records", &d_records);
    row("(b) drain: max peak memory", &d_mem);
    println!(
        "  tx MiB: encoded transactions (what block_max_bytes bounds; the header adds a fixed \
         few hundred bytes); apply/cpu: Ledger::apply_block wall and thread CPU time; records, \
         write MiB: BlockOutput.writes (keys + values); peak+MiB: peak RSS during the block \
         minus RSS before it; RSS MiB: after it. Drain rows: the drain block with the largest \
         value of that column."
    );
    println!();
    println!(
        "signature checks (outside apply_block, 2 threads): normal {:.1} ms, attack X {:.1} ms, X+1 {:.1} ms",
        ms(normal[0].verify),
        ms(attack.verify),
        ms(attack2.verify)
    );
    println!(
        "backlog: work due at or before the head slot waited for {backlog_blocks} blocks after X+1 \
         (until slot {backlog_end}); then {later_blocks} blocks at later due slots (retries, \
         settlement, prunes) until the queue was empty at slot {}; {} drain blocks in all",
        c.slot(),
        drain.len()
    );
    println!(
        "settlement budget per block: {SETTLEMENT_RECORDS_PER_BLOCK} records, {:.1} MiB (queue \
         work only; transactions' writes come on top)",
        mib(SETTLEMENT_BYTES_PER_BLOCK)
    );
    let worst_apply = attack.apply.max(attack2.apply).max(d_apply.apply);
    let worst_cpu = attack
        .apply_cpu
        .max(attack2.apply_cpu)
        .max(d_apply.apply_cpu);
    let worst_writes = attack
        .write_bytes
        .max(attack2.write_bytes)
        .max(d_writes.write_bytes);
    let ratio = |x: Duration, y: Duration| x.as_secs_f64() / y.as_secs_f64().max(1e-9);
    println!();
    println!(
        "ratios to the normal transfer block (median of 3: apply {:.1} ms, cpu {:.1} ms):",
        ms(normal_apply),
        ms(normal_cpu)
    );
    for (name, m) in [
        ("(a) attack X", &attack),
        ("(a') X+1", &attack2),
        ("(b) drain max", &d_apply),
    ] {
        println!(
            "  {name:<14} apply {:>7.2}x  cpu {:>7.2}x  writes {:>6.2} MiB",
            ratio(m.apply, normal_apply),
            ratio(m.apply_cpu, normal_cpu),
            mib(m.write_bytes)
        );
    }
    let r = ratio(worst_apply, normal_apply);
    let rc = ratio(worst_cpu, normal_cpu);
    let tx_only = ratio(attack.apply.max(d_apply.apply), normal_apply);
    println!(
        "target apply <= 10x normal: worst {r:.2}x wall, {rc:.2}x cpu: {}; without X+1's failing \
         SubmitDistribution: {tx_only:.2}x: {}",
        if r <= 10.0 { "met" } else { "NOT met" },
        if tx_only <= 10.0 { "met" } else { "NOT met" },
    );
    println!(
        "target writes < 64 MiB: worst {:.2} MiB: {}",
        mib(worst_writes),
        if worst_writes < 64 * 1024 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "memory: per block, peak resident set (VmHWM, reset before each block via \
         /proc/self/clear_refs{}) minus VmRSS before it; RSS after the last block {:.0} MiB",
        if c.peak_ok {
            ""
        } else {
            " — NOT available here: process peak instead"
        },
        mem_kib().0 as f64 / 1024.0
    );
    println!(
        "scale: {n} nodes, {} tasks, {} chunks (lists may have up to min(submitters, 1.5 M) \
         entries; scaled to finish in under a minute on 2 cores; the raises are capped by the \
         ledger (DrawBacklog), not by this scale); total run {:.1} s",
        args.tasks,
        args.chunks,
        total.as_secs_f64()
    );
    println!(
        "load average when started: {} (other builds may share the 2 cores: compare cpu ms too)",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(ExitCode::SUCCESS)
}

fn task_id_bytes(t: &TaskId) -> [u8; 32] {
    t.0
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("worst_block: {e:#}");
            ExitCode::from(2)
        }
    }
}
