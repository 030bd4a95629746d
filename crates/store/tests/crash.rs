//! Guards against a store that loses or tears blocks when its process dies: a block written
//! without the state changes it made (or the reverse), a head that points past the last
//! block on disk, a block whose commit returned but is gone after a restart, or replay
//! protection that forgets the transactions of the last blocks. Any of these makes the
//! reopened ledger's state root differ from the head, breaks replay, or lets a transaction
//! be applied twice.
//!
//! How: the test re-runs its own binary as a child ([`crash_child`], selected with
//! `--exact crash_child --ignored` and switched on by an environment variable). The child
//! opens the store where the last run left it and appends signed blocks under load
//! (transfers, task creation, stakes, proof submissions), printing `begin <slot>` before and
//! `committed <slot> <height> <hash>` after each commit. The parent kills it with SIGKILL at
//! a random moment, reopens the store and checks:
//! - every block the child reported committed is there, with the hash it reported;
//! - at most one more block exists: the one the child had begun;
//! - the log is a chain from the genesis to the head (heights 1..=h, parent links);
//! - the reopened ledger's root equals the stored head root, and so does `replay()`;
//! - the child's first block after a restart re-sends a transaction of the last committed
//!   block and gets `Duplicate` (checked by the child, which exits non-zero otherwise).
//!
//! The child folds its write-set log into the state every few blocks (the interval changes
//! from run to run), so kills land both in plain commits and in folding ones.
//!
//! A SIGKILL loses the process, not the page cache, so this does not simulate power loss;
//! `power_loss.rs` does.
//!
//! Reproduce a run with `GRADUAL_CRASH_SEED=<seed> cargo test -p gradual-store --test crash`.

use gradual_ledger::testkit::key;
use gradual_ledger::{CheckedTx, Ledger, TxError, Window};
use gradual_store::{Store, StoredBlock};
use gradual_types::{
    Faucet, Genesis, Hash, Instruction, Keypair, TaskParams, Transaction, ValidatorKey,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Environment variable that turns the ignored `crash_child` test into the writer.
const CHILD_STORE_ENV: &str = "GRADUAL_CRASH_CHILD_STORE";
const CHILD_SEED_ENV: &str = "GRADUAL_CRASH_CHILD_SEED";
const SEED_ENV: &str = "GRADUAL_CRASH_SEED";

/// Kills per run (the brief asks for at least 20).
const KILLS: u32 = 24;
/// The child is killed this long after its first commit of the run, at most.
const KILL_DELAY_MS_MAX: u64 = 400;
/// The child must commit its first block within this (it reopens the store first).
const FIRST_COMMIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The child stops by itself after this many blocks (a bound, never reached in a run).
const CHILD_BLOCKS_MAX: u64 = 100_000;

/// The child folds its write-set log every 1..=this many blocks.
const CHECKPOINT_EVERY_MAX: u64 = 8;

const KEYS: u32 = 48;
const BALANCE: u64 = 1_000_000_000_000_000;
const TRANSFERS_PER_BLOCK: usize = 12;
const NODES: std::ops::Range<usize> = 8..40;
/// Tasks that get stakes and proofs (the newest ones); older tasks just run out.
const BUSY_TASKS: usize = 3;

fn genesis() -> Genesis {
    let keys: Vec<Keypair> = (0..KEYS).map(key).collect();
    Genesis {
        chain_id: "crash".into(),
        // 3 s slots: the vote window is AW/3 slots (SPEC §5), so the workload's short
        // audit windows are long enough.
        slot_ms: 3_000,
        faucet: Some(Faucet::new(keys[0].pubkey(), BALANCE)),
        accounts: keys.iter().map(|k| (k.pubkey(), BALANCE)).collect(),
        ..Genesis::default()
    }
}

fn task_params() -> TaskParams {
    TaskParams {
        name: "crash".into(),
        bounty_per_round: 1_000,
        round_time: 12,
        submission_window: 4,
        audit_window: 4,
        minimum_stake: 1_000,
        ..TaskParams::default()
    }
}

/// The transactions of the block at `slot`, from the ledger's state and a per-slot RNG.
fn workload(ledger: &Ledger, keys: &[Keypair], slot: u64, seed: u64) -> Vec<Transaction> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ slot.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let chain = &ledger.genesis().chain_id;
    let recent = ledger.slot();
    let sign = |who: usize, ix| Transaction::new_signed(&keys[who], chain, recent, 0, ix);
    let mut txs = Vec::new();
    for _ in 0..TRANSFERS_PER_BLOCK {
        let from = rng.gen_range(0..keys.len());
        let to = rng.gen_range(0..keys.len());
        txs.push(sign(
            from,
            Instruction::Transfer {
                to: keys[to].pubkey(),
                amount: rng.gen_range(1..1_000),
            },
        ));
    }
    if slot % 20 == 1 {
        let manager = rng.gen_range(0..NODES.start);
        txs.push(sign(
            manager,
            Instruction::CreateTask {
                nonce: slot,
                params: task_params(),
                total_bounty: 1_000_000,
            },
        ));
    }
    let mut tasks: Vec<_> = ledger
        .task_ids()
        .into_iter()
        .filter_map(|id| Some((ledger.task(&id)?.starting_slot, id)))
        .collect();
    tasks.sort();
    for (_, task) in tasks.iter().rev().take(BUSY_TASKS) {
        let Some(clock) = ledger.clock(task) else {
            continue;
        };
        for node in NODES {
            let me = keys[node].pubkey();
            match ledger.stake(task, &me) {
                None => {
                    if rng.gen_ratio(1, 4) {
                        txs.push(sign(
                            node,
                            Instruction::Stake {
                                task: *task,
                                amount: 2_000,
                                url: format!("http://node{node}"),
                                owner: None,
                            },
                        ));
                    }
                }
                Some(stake) => {
                    let Some(r) = clock.round(slot).checked_sub(1) else {
                        continue;
                    };
                    let open = clock.window(Window::ProofSubmission, r, 0).contains(slot);
                    if open
                        && stake.staked_slot < clock.start(r)
                        && ledger.submission(task, r, &me).is_none()
                        && rng.gen_ratio(9, 10)
                    {
                        txs.push(sign(
                            node,
                            Instruction::SubmitProof {
                                task: *task,
                                round: r,
                                value: Hash::domain("crash/work", &[&me.0, &r.to_le_bytes()])
                                    .0
                                    .to_vec(),
                            },
                        ));
                    }
                }
            }
        }
    }
    txs
}

/// The writer. Ignored unless the parent sets the environment variable.
#[test]
#[ignore = "child process of crash_loop_reopens_consistent_store"]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD_STORE_ENV) else {
        eprintln!("{CHILD_STORE_ENV} is not set; this test only runs as crash_loop's child");
        return;
    };
    let seed: u64 = std::env::var(CHILD_SEED_ENV)
        .expect("seed given with the store")
        .parse()
        .expect("seed is a number");
    let keys: Vec<Keypair> = (0..KEYS).map(key).collect();
    let (mut store, mut ledger) = match Store::open_or_create(Path::new(&path), &genesis()) {
        Ok(pair) => pair,
        Err(e) => panic!("child could not open the store: {e}"),
    };
    assert_eq!(ledger.state_root(), store.head().state_root);
    // Fold the write-set log often, at an interval that changes from run to run, so that
    // kills land in folding commits too.
    store.set_checkpoint_interval(1 + (seed ^ store.head().height) % CHECKPOINT_EVERY_MAX);

    // Re-send one transaction that succeeded in the last committed block: replay
    // protection must have survived the restart.
    let mut resend = None;
    if let Some(last) = store.block(store.head().slot).expect("read head block") {
        let StoredBlock { block, receipts } = last;
        resend = block
            .txs
            .into_iter()
            .zip(receipts)
            .find(|(_, r)| r.result.is_ok())
            .map(|(tx, _)| tx);
    }

    let mut out = std::io::stdout().lock();
    for _ in 0..CHILD_BLOCKS_MAX {
        let head = store.head();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ head.height);
        // Sometimes skip slots: the ledger must do the skipped slots' work first.
        let slot = head.slot + if rng.gen_ratio(1, 8) { 3 } else { 1 };
        let mut txs = workload(&ledger, &keys, slot, seed);
        let resent = resend.take();
        if let Some(tx) = &resent {
            txs.insert(0, tx.clone());
        }
        let checked = CheckedTx::check_all(txs, 2);
        let seal = ledger.seal(&ValidatorKey::devnet(), slot);
        let output = ledger
            .apply_block(slot, head.hash, seal, checked)
            .expect("block applies");
        if let Some(tx) = resent {
            assert_eq!(
                output.receipts[0].result,
                Err(TxError::Duplicate),
                "transaction {} of the last block before the crash was applied again",
                tx.id()
            );
        }
        writeln!(out, "begin {slot}").expect("stdout");
        out.flush().expect("stdout");
        store.commit(&output).expect("commit");
        let h = store.head();
        writeln!(out, "committed {} {} {}", h.slot, h.height, h.hash).expect("stdout");
        out.flush().expect("stdout");
    }
}

/// What the child said before it died.
#[derive(Default)]
struct Reported {
    /// `(slot, height, hash)` of each block the child saw committed, in order.
    committed: Vec<(u64, u64, String)>,
    /// Slot of the last block whose commit had begun.
    begun: Option<u64>,
}

impl Reported {
    fn take(&mut self, line: &str) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            ["begin", slot] => self.begun = Some(slot.parse().expect("slot")),
            ["committed", slot, height, hash] => self.committed.push((
                slot.parse().expect("slot"),
                height.parse().expect("height"),
                hash.to_string(),
            )),
            _ => {} // the test harness's own lines
        }
    }
}

#[test]
fn crash_loop_reopens_consistent_store() {
    let started = Instant::now();
    let seed: u64 = match std::env::var(SEED_ENV) {
        Ok(s) => s.parse().expect("GRADUAL_CRASH_SEED is a number"),
        Err(_) => rand::random(),
    };
    eprintln!("crash loop seed {seed}; reproduce with {SEED_ENV}={seed}");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::TempDir::new().expect("tempdir");
    let path = dir.path().join("chain.redb");
    let exe = std::env::current_exe().expect("test binary path");

    let mut all_committed: Vec<(u64, u64, String)> = Vec::new();
    let mut in_flight_kills = 0;
    let mut in_flight_kept = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--ignored"])
            .env(CHILD_STORE_ENV, &path)
            .env(CHILD_SEED_ENV, seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });

        // Wait for the first commit of this run, then a random moment more.
        let mut reported = Reported::default();
        let deadline = Instant::now() + FIRST_COMMIT_TIMEOUT;
        while reported.committed.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => reported.take(&line),
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().expect("child output");
                    panic!(
                        "run {kill}: child committed nothing within {FIRST_COMMIT_TIMEOUT:?} \
                         (seed {seed}); stderr:\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..=KILL_DELAY_MS_MAX)));
        if let Some(status) = child.try_wait().expect("child status") {
            let out = child.wait_with_output().expect("child output");
            panic!(
                "run {kill}: child exited by itself with {status} (seed {seed}); stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        child.kill().expect("SIGKILL the child");
        let status = child.wait().expect("reap child");
        assert!(!status.success(), "killed child reports failure");
        reader.join().expect("reader thread");
        for line in lines.try_iter() {
            reported.take(&line);
        }

        // Reopen and check.
        let (store, ledger) = match Store::open(&path) {
            Ok(pair) => pair,
            Err(e) => panic!("run {kill}: store does not reopen after SIGKILL (seed {seed}): {e}"),
        };
        let head = store.head();
        let (last_slot, last_height, last_hash) =
            reported.committed.last().cloned().expect("at least one");
        all_committed.extend(reported.committed);
        for (slot, height, hash) in &all_committed {
            let b = store
                .block(*slot)
                .expect("read block")
                .unwrap_or_else(|| panic!("run {kill}: committed block at slot {slot} is lost"));
            assert_eq!(b.block.header.height, *height, "run {kill}: slot {slot}");
            assert_eq!(b.block.hash().to_string(), *hash, "run {kill}: slot {slot}");
        }
        let in_flight = reported.begun.filter(|b| *b > last_slot);
        if in_flight.is_some() {
            in_flight_kills += 1;
        }
        if head.slot == last_slot {
            assert_eq!(head.hash.to_string(), last_hash, "run {kill}");
        } else {
            // Only the block whose commit had begun may be there beyond what was reported.
            assert_eq!(
                Some(head.slot),
                in_flight,
                "run {kill}: unexpected head {head:?}"
            );
            assert_eq!(head.height, last_height + 1, "run {kill}");
            in_flight_kept += 1;
            let b = store.block(head.slot).expect("read").expect("head block");
            all_committed.push((head.slot, head.height, b.block.hash().to_string()));
        }
        assert_eq!(ledger.state_root(), head.state_root, "run {kill}");
        assert_eq!(ledger.head_hash(), head.hash, "run {kill}");

        // A chain from the genesis to the head, with nothing after it.
        let blocks = store.blocks_from(0, usize::MAX).expect("read blocks");
        assert_eq!(blocks.len() as u64, head.height, "run {kill}");
        let mut parent = store.genesis().hash();
        for (i, b) in blocks.iter().enumerate() {
            assert_eq!(b.block.header.height, i as u64 + 1, "run {kill}");
            assert_eq!(b.block.header.parent_hash, parent, "run {kill}");
            parent = b.block.hash();
        }
        assert_eq!(parent, head.hash, "run {kill}");

        match store.replay() {
            Ok(root) => assert_eq!(root, head.state_root, "run {kill}: replayed root"),
            Err(e) => panic!("run {kill}: replay failed (seed {seed}): {e}"),
        }
    }
    let heads = all_committed.len();
    eprintln!(
        "crash loop: {KILLS} kills, {heads} blocks committed, {in_flight_kills} kills during a \
         commit ({in_flight_kept} of those blocks survived), {:.1?}",
        started.elapsed()
    );
    assert!(
        heads as u32 >= KILLS,
        "every run committed at least one block"
    );
}
