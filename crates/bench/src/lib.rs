//! Benchmark programs for gradual. They print measurements; they are not tests and assert
//! nothing about speed.
//!
//! This library holds what the programs share: building a staked chain and pre-signed
//! `SubmitProof` traffic ([`setup`]), timing bare signature checks ([`verify_one_core`]),
//! and driving encoded blocks through decode → verify → apply → commit, either one stage
//! after another or pipelined ([`run_blocks`], [`Mode`]). It does **not** run
//! a validator, a network or a clock; blocks are applied as fast as they can be.
//!
//! ```text
//!  pipelined:
//!   verifier thread:  decode N+1 ─▶ check_all(N+1, threads) ──┐ channel (bound 1)
//!                                                             ▼
//!   main thread:                   apply_block(N) ─▶ Store::commit(N) (fsync) ─▶ next
//! ```
//! While block N is applied and committed, block N+1 is decoded and its signatures are
//! checked, so the signature checks (the dominant cost) keep both cores busy. Either run ends
//! with [`Store::checkpoint`], so that it pays for folding all of its writes into the store.

pub mod fuzz;
pub mod fuzz_rpc;
pub mod worst_block;

use anyhow::{bail, ensure, Context};
use gradual_ledger::testkit::key;
use gradual_ledger::{BlockOutput, CheckedTx, Ledger};
use gradual_store::Store;
use gradual_types::{
    Genesis, Hash, Instruction, Keypair, Slot, TaskId, TaskParams, Transaction, ValidatorKey,
};
use std::path::Path;
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SubmitProof` transactions in the measured blocks.
    pub txs: usize,
    /// Transactions per block.
    pub block_txs: usize,
    /// Distinct staked nodes; with fewer nodes than transactions, nodes submit again
    /// (a later submission replaces the earlier one, SPEC §4).
    pub nodes: usize,
    /// Threads that check signatures (`CheckedTx::check_all`).
    pub verify_threads: usize,
    /// The store folds its write-set log every this many blocks
    /// ([`Store::set_checkpoint_interval`]).
    pub checkpoint_every: u64,
}

/// Task timing: the measured blocks all fall in round 1's proof submission window.
const ROUND_TIME: u64 = 1_000;
const SUBMISSION_WINDOW: u64 = 500;
const STAKE_ROE: u64 = 1_000;

/// A chain ready for the measured blocks, and those blocks, encoded.
pub struct Workload {
    pub task: TaskId,
    /// `(slot, encoded transactions)` of each measured block, in order.
    pub blocks: Vec<(Slot, Vec<Vec<u8>>)>,
}

impl Workload {
    pub fn tx_count(&self) -> usize {
        self.blocks.iter().map(|(_, b)| b.len()).sum()
    }
}

/// The block producer: the well-known devnet validator `Genesis::default()` names.
fn producer() -> &'static ValidatorKey {
    static KEY: OnceLock<ValidatorKey> = OnceLock::new();
    KEY.get_or_init(ValidatorKey::devnet)
}

/// A whole number for a command-line flag; `_` may group digits (`40_000`).
pub fn whole_number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.replace('_', "")
        .parse()
        .map_err(|_| format!("takes a whole number, got '{s}'"))
}

/// A program's exit code: its own on success; on an error, the error on stderr and 2.
pub fn exit_code(
    program: &str,
    result: anyhow::Result<std::process::ExitCode>,
) -> std::process::ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("{program}: {e:#}");
        std::process::ExitCode::from(2)
    })
}

/// Sign `count` transactions on `threads` threads; `make(i)` gives the i-th.
pub fn sign_parallel(
    count: usize,
    threads: usize,
    make: impl Fn(usize) -> Transaction + Sync,
) -> Vec<Transaction> {
    let chunk = count.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let make = &make;
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|lo| s.spawn(move || (lo..(lo + chunk).min(count)).map(make).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread panicked"))
            .collect()
    })
}

/// Apply and commit one setup block; every transaction must succeed.
fn setup_block(
    store: &mut Store,
    ledger: &mut Ledger,
    slot: Slot,
    txs: Vec<Transaction>,
    threads: usize,
) -> anyhow::Result<()> {
    let seal = ledger.seal(producer(), slot);
    let out = ledger
        .apply_block(
            slot,
            ledger.head_hash(),
            seal,
            CheckedTx::check_all(txs, threads),
        )
        .with_context(|| format!("setup block at slot {slot}"))?;
    if let Some(r) = out.receipts.iter().find(|r| r.result.is_err()) {
        bail!("setup transaction {} failed: {:?}", r.tx, r.result);
    }
    store.commit(&out)?;
    Ok(())
}

/// Create a store at `path` with a task and `config.nodes` staked nodes, move the chain to
/// the opening of round 1's proof submission window, and pre-sign and encode the measured
/// `SubmitProof` blocks.
pub fn setup(config: &Config, path: &Path) -> anyhow::Result<(Store, Ledger, Workload)> {
    ensure!(config.block_txs > 0, "block size must be at least 1");
    ensure!(config.nodes > 0, "at least one node is needed");
    let blocks = config.txs.div_ceil(config.block_txs);
    ensure!(
        (blocks as u64) < SUBMISSION_WINDOW,
        "{} blocks do not fit the {SUBMISSION_WINDOW}-slot submission window; use bigger blocks",
        blocks
    );
    let threads = config.verify_threads;
    let manager = key(0);
    let nodes: Vec<Keypair> = (1..=config.nodes as u32).map(key).collect();
    let genesis = Genesis {
        chain_id: "bench".into(),
        accounts: std::iter::once((manager.pubkey(), u64::MAX / 2))
            .chain(nodes.iter().map(|k| (k.pubkey(), STAKE_ROE)))
            .collect(),
        ..Genesis::default()
    };
    let (mut store, mut ledger) = Store::create(path, &genesis)?;
    let chain = genesis.chain_id.clone();

    let params = TaskParams {
        name: "bench".into(),
        bounty_per_round: 1_000_000_000,
        round_time: ROUND_TIME,
        submission_window: SUBMISSION_WINDOW,
        audit_window: 400,
        minimum_stake: STAKE_ROE,
        ..TaskParams::default()
    };
    let create = Transaction::new_signed(
        &manager,
        &chain,
        0,
        0,
        Instruction::CreateTask {
            nonce: 1,
            params,
            total_bounty: 1_000_000_000_000,
        },
    );
    setup_block(&mut store, &mut ledger, 1, vec![create], threads)?;
    let task = gradual_types::task_id(&manager.pubkey(), 1);

    // Every node stakes in round 0, so it may submit for round 1.
    let stakes = sign_parallel(nodes.len(), threads, |i| {
        Transaction::new_signed(
            &nodes[i],
            &chain,
            1,
            0,
            Instruction::Stake {
                task,
                amount: STAKE_ROE,
                url: format!("http://node{i}.bench"),
                owner: None,
            },
        )
    });
    let mut slot = 1;
    let mut stakes = stakes.into_iter().peekable();
    while stakes.peek().is_some() {
        slot += 1;
        let block: Vec<Transaction> = stakes.by_ref().take(config.block_txs).collect();
        setup_block(&mut store, &mut ledger, slot, block, threads)?;
    }
    let clock = ledger.clock(&task).context("task exists")?;
    ensure!(
        slot < clock.start(1),
        "staking took {slot} slots, past the start of round 1; use bigger blocks"
    );

    // Open round 1's proof submission window with an empty block; the measured blocks
    // follow, one per slot, signed against it.
    let opens = clock.start(2);
    setup_block(&mut store, &mut ledger, opens, vec![], threads)?;
    // Fold the setup's writes now, so that the measured run pays only for its own.
    store.checkpoint()?;
    store.set_checkpoint_interval(config.checkpoint_every);
    let proofs = sign_parallel(config.txs, threads, |j| {
        Transaction::new_signed(
            &nodes[j % nodes.len()],
            &chain,
            opens,
            0,
            Instruction::SubmitProof {
                task,
                round: 1,
                value: Hash::domain("bench/proof", &[&(j as u64).to_le_bytes()])
                    .0
                    .to_vec(),
            },
        )
    });
    let blocks = proofs
        .chunks(config.block_txs)
        .enumerate()
        .map(|(i, txs)| {
            (
                opens + 1 + i as u64,
                txs.iter().map(Transaction::encode).collect(),
            )
        })
        .collect();
    Ok((store, ledger, Workload { task, blocks }))
}

/// CPU time this thread has used so far (Linux `/proc/thread-self/schedstat`), or `None`
/// where that is not available. Unlike wall time it does not grow while other processes
/// hold the cores, so it shows what each stage costs on a busy machine too.
pub fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// CPU time all threads of this process (finished ones included) have used so far, from
/// Linux `/proc/self/stat` (in 10 ms ticks), or `None` where that is not available.
pub fn process_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    const TICKS_PER_S: u64 = 100; // USER_HZ on Linux
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_S))
}

fn cpu_since(start: Option<Duration>) -> Duration {
    match (start, thread_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => Duration::ZERO,
    }
}

/// Seconds to check every signature of `txs` one after another on this thread.
/// Returns `(wall, cpu)`: the CPU time is zero where it cannot be read.
pub fn verify_one_core(txs: &[Transaction]) -> anyhow::Result<(Duration, Duration)> {
    let cpu = thread_cpu();
    let start = Instant::now();
    let mut ok = 0usize;
    for tx in txs {
        ok += usize::from(tx.verify());
    }
    let took = start.elapsed();
    let cpu = cpu_since(cpu);
    ensure!(
        ok == txs.len(),
        "{} of {} signatures failed",
        txs.len() - ok,
        txs.len()
    );
    Ok((took, cpu))
}

/// Time spent in each stage, summed over blocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct PhaseTimes {
    pub decode: Duration,
    /// Wall time of `CheckedTx::check_all` (on `verify_threads` threads).
    pub verify: Duration,
    pub apply: Duration,
    pub commit: Duration,
    /// Time the apply/commit thread waited for verified blocks (pipelined only).
    pub wait: Duration,
    /// CPU time (not wall time) the apply and commit stages used, on their thread.
    pub apply_cpu: Duration,
    pub commit_cpu: Duration,
    /// The part of `commit` and `commit_cpu` spent in the final fold ([`Store::checkpoint`]).
    pub checkpoint: Duration,
    pub checkpoint_cpu: Duration,
}

/// The result of a measured run.
#[derive(Debug, Clone)]
pub struct Run {
    pub txs: usize,
    pub blocks: usize,
    pub wall: Duration,
    /// CPU time of every thread of the process during the run (zero where unknown).
    pub cpu: Duration,
    pub phases: PhaseTimes,
    /// Head state root after the last commit.
    pub state_root: Hash,
}

impl Run {
    pub fn tx_per_s(&self) -> f64 {
        self.txs as f64 / self.wall.as_secs_f64()
    }
}

struct Verified {
    slot: Slot,
    checked: Vec<CheckedTx>,
    decode: Duration,
    verify: Duration,
}

fn decode_and_verify(slot: Slot, raw: &[Vec<u8>], threads: usize) -> anyhow::Result<Verified> {
    let t0 = Instant::now();
    let txs = raw
        .iter()
        .map(|b| Transaction::decode(b))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("decoding block at slot {slot}"))?;
    let t1 = Instant::now();
    let checked = CheckedTx::check_all(txs, threads);
    let t2 = Instant::now();
    Ok(Verified {
        slot,
        checked,
        decode: t1 - t0,
        verify: t2 - t1,
    })
}

/// Apply and commit one verified block; every transaction must succeed (a benchmark of
/// rejections would measure the wrong thing).
fn apply_and_commit(
    store: &mut Store,
    ledger: &mut Ledger,
    v: Verified,
    phases: &mut PhaseTimes,
) -> anyhow::Result<()> {
    phases.decode += v.decode;
    phases.verify += v.verify;
    // The producer's VRF proof is made outside the timing; checking it is part of apply.
    let seal = ledger.seal(producer(), v.slot);
    let c0 = thread_cpu();
    let t0 = Instant::now();
    let out: BlockOutput = ledger
        .apply_block(v.slot, ledger.head_hash(), seal, v.checked)
        .with_context(|| format!("applying block at slot {}", v.slot))?;
    let t1 = Instant::now();
    phases.apply_cpu += cpu_since(c0);
    if let Some(r) = out.receipts.iter().find(|r| r.result.is_err()) {
        bail!("transaction {} failed: {:?}", r.tx, r.result);
    }
    let c1 = thread_cpu();
    store.commit(&out)?;
    let t2 = Instant::now();
    phases.commit_cpu += cpu_since(c1);
    phases.apply += t1 - t0;
    phases.commit += t2 - t1;
    Ok(())
}

/// Fold what the store still holds in its write-set log, so that a run pays for all of its
/// writes (counted as commit time).
fn final_checkpoint(store: &mut Store, phases: &mut PhaseTimes) -> anyhow::Result<()> {
    let c0 = thread_cpu();
    let t0 = Instant::now();
    store.checkpoint()?;
    let (wall, cpu) = (t0.elapsed(), cpu_since(c0));
    phases.commit += wall;
    phases.commit_cpu += cpu;
    phases.checkpoint = wall;
    phases.checkpoint_cpu = cpu;
    Ok(())
}

/// How [`run_blocks`] drives the blocks through decode → verify → apply → commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Each block through every stage before the next starts.
    Sequential,
    /// Block N+1 is decoded and verified on a verifier thread (which uses `threads` threads
    /// for signatures) while block N is applied and committed on this one.
    Pipelined,
}

/// Drive `blocks` into `store` and `ledger` as `mode` says, timing each stage, and end
/// with the final fold of the write-set log.
pub fn run_blocks(
    store: &mut Store,
    ledger: &mut Ledger,
    blocks: Vec<(Slot, Vec<Vec<u8>>)>,
    threads: usize,
    mode: Mode,
) -> anyhow::Result<Run> {
    measured(
        store,
        ledger,
        blocks,
        |store, ledger, blocks, phases| match mode {
            Mode::Sequential => {
                for (slot, raw) in blocks {
                    let v = decode_and_verify(slot, &raw, threads)?;
                    apply_and_commit(store, ledger, v, phases)?;
                }
                Ok(())
            }
            Mode::Pipelined => pipeline(store, ledger, blocks, threads, phases),
        },
    )
}

fn pipeline(
    store: &mut Store,
    ledger: &mut Ledger,
    blocks: Vec<(Slot, Vec<Vec<u8>>)>,
    threads: usize,
    phases: &mut PhaseTimes,
) -> anyhow::Result<()> {
    // Bound 1: at most one verified block waits while the next is being verified.
    let (send, recv) = mpsc::sync_channel::<anyhow::Result<Verified>>(1);
    std::thread::scope(|s| -> anyhow::Result<()> {
        s.spawn(move || {
            for (slot, raw) in blocks {
                let v = decode_and_verify(slot, &raw, threads);
                let failed = v.is_err();
                if send.send(v).is_err() || failed {
                    break; // the apply side stopped, or this block is broken
                }
            }
        });
        loop {
            let t0 = Instant::now();
            let Ok(v) = recv.recv() else {
                break; // every block was verified and sent
            };
            phases.wait += t0.elapsed();
            apply_and_commit(store, ledger, v?, phases)?;
        }
        Ok(())
    })
}

/// Time `drive` (which applies and commits `blocks`) and the final fold after it: what both
/// runs measure the same way.
fn measured(
    store: &mut Store,
    ledger: &mut Ledger,
    blocks: Vec<(Slot, Vec<Vec<u8>>)>,
    drive: impl FnOnce(
        &mut Store,
        &mut Ledger,
        Vec<(Slot, Vec<Vec<u8>>)>,
        &mut PhaseTimes,
    ) -> anyhow::Result<()>,
) -> anyhow::Result<Run> {
    let txs = blocks.iter().map(|(_, b)| b.len()).sum();
    let count = blocks.len();
    let mut phases = PhaseTimes::default();
    let cpu = process_cpu();
    let start = Instant::now();
    drive(store, ledger, blocks, &mut phases)?;
    final_checkpoint(store, &mut phases)?;
    let wall = start.elapsed();
    Ok(Run {
        txs,
        blocks: count,
        wall,
        cpu: process_cpu()
            .zip(cpu)
            .map_or(Duration::ZERO, |(b, a)| b.saturating_sub(a)),
        phases,
        state_root: store.head().state_root,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Config {
        Config {
            txs: 300,
            block_txs: 70,
            nodes: 120,
            verify_threads: 2,
            checkpoint_every: 2,
        }
    }

    #[test]
    fn pipelined_and_sequential_runs_reach_the_same_state() {
        let dir = tempfile::TempDir::new().unwrap();
        let (mut store_a, mut ledger_a, work_a) = setup(&small(), &dir.path().join("a")).unwrap();
        let (mut store_b, mut ledger_b, work_b) = setup(&small(), &dir.path().join("b")).unwrap();
        assert_eq!(work_a.tx_count(), 300);
        assert_eq!(work_a.blocks.len(), 5);
        let a = run_blocks(
            &mut store_a,
            &mut ledger_a,
            work_a.blocks,
            2,
            Mode::Sequential,
        )
        .unwrap();
        let b = run_blocks(
            &mut store_b,
            &mut ledger_b,
            work_b.blocks,
            2,
            Mode::Pipelined,
        )
        .unwrap();
        assert_eq!((a.txs, b.txs), (300, 300));
        assert_eq!(a.state_root, b.state_root);
        assert_eq!(ledger_b.state_root(), b.state_root);
        // Every node submitted for round 1 (120 nodes, 300 submissions: some replaced).
        assert_eq!(ledger_a.submissions(&work_a.task, 1).len(), 120);
        assert_eq!(store_b.replay().unwrap(), b.state_root);
    }

    #[test]
    fn a_broken_transaction_stops_the_pipeline_with_an_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let (mut store, mut ledger, mut work) = setup(&small(), &dir.path().join("a")).unwrap();
        work.blocks[2].1[5].push(0); // trailing byte: does not decode
        let err = run_blocks(&mut store, &mut ledger, work.blocks, 2, Mode::Pipelined).unwrap_err();
        assert!(format!("{err:#}").contains("decoding block"), "{err:#}");
        assert_eq!(store.head().height, ledger.height());
    }
}
