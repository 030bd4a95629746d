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

use anyhow::{ensure, Context};
use clap::Parser;
use gradual_bench::whole_number;
use gradual_bench::worst_block::{
    backlog, mem_kib, pack, sign, Chain, Measure, Scenario, AW, FEE, X,
};
use gradual_types::constants::{
    AUDIT_SAMPLE_MAX, COMMITTEE_SIZE_MAX, DEFAULT_BLOCK_MAX_BYTES,
    DISTRIBUTION_ENTRIES_PER_CHUNK_MAX, SETTLEMENT_BYTES_PER_BLOCK, SETTLEMENT_RECORDS_PER_BLOCK,
};
use gradual_types::{Hash, Instruction, Pubkey, Slot, Verdict};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The worst block an attacker can force, measured next to full blocks of ordinary transfers.
#[derive(Parser)]
#[command(name = "worst_block")]
struct Args {
    /// Nodes staked on tasks A and B: A's audits raised in the attack block (one per node,
    /// 16 per raising node) and B's accepted list size
    #[arg(long, value_name = "N", default_value = "40000", value_parser = whole_number::<usize>)]
    nodes: usize,
    /// Extra tasks whose windows close at the attack slot
    #[arg(long, value_name = "N", default_value = "1200", value_parser = whole_number::<usize>)]
    tasks: usize,
    /// C's list chunks of 1 500 entries uploaded in the attack block
    #[arg(long, value_name = "N", default_value = "10", value_parser = whole_number::<usize>)]
    chunks: usize,
    /// `cargo bench` style harness flag; not ours, ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

impl Args {
    fn check(&self) -> anyhow::Result<()> {
        let step = usize::from(AUDIT_SAMPLE_MAX);
        ensure!(
            self.nodes >= 2 * step && self.nodes.is_multiple_of(step),
            "--nodes must be a multiple of {step}, at least {}",
            2 * step
        );
        ensure!(self.tasks >= 1, "--tasks must be at least 1");
        ensure!(
            self.chunks >= 1 && self.chunks * DISTRIBUTION_ENTRIES_PER_CHUNK_MAX <= self.nodes,
            "--chunks must be 1 to nodes / 1500"
        );
        Ok(())
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

fn run(args: Args) -> anyhow::Result<ExitCode> {
    args.check()?;
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
    let Scenario {
        chain: mut c,
        nodes,
        index,
        a,
        ct,
        proof_blocks,
    } = Scenario::build(n, args.tasks, nc)?;
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
    let mut txs = c.upload(c_who, ct, &c_list);
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

fn main() -> ExitCode {
    gradual_bench::exit_code("worst_block", run(Args::parse()))
}
