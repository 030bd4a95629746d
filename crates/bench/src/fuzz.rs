//! Fuzzing hostile transaction bytes through decode, signature check and the ledger (issue #9).
//!
//! Every case is one attacker-chosen byte string. Three kinds, mixed:
//! - **raw**: random bytes (sometimes past the size limit) → `Transaction::decode` only;
//! - **mutated**: a well-formed transaction carrying extreme or near-miss field values
//!   (existing task ids, the current round ± 2, `u64::MAX`, empty and oversized vectors),
//!   encoded, then mutated (bit flips, overwritten length prefixes, truncation, insertion);
//! - **signed**: whatever of those still decodes is re-signed by a funded account of the chain
//!   (so the signature check passes and the instruction reaches the ledger's rules) and
//!   applied in the next block of a chain with a live task and staked nodes.
//!
//! A panic anywhere is caught and counted; the ledger runs in paranoid mode, so a broken
//! invariant (supply, reservations) is a panic too. Every `EPISODE_BLOCKS` blocks the chain is
//! replayed from genesis and must reproduce its state root. The case generator is seeded, so
//! a failing case is reproduced by its seed and index.

use gradual_ledger::testkit::TestChain;
use gradual_ledger::CheckedTx;
use gradual_types::{
    constants::TX_BYTES_MAX, Executable, Hash, Instruction, Pubkey, TaskId, TaskParams,
    Transaction, ValidatorInfo, ValidatorKey, Verdict,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Accounts of the fuzzed chain; key 0 manages the task and is the faucet.
const ACCOUNTS: u32 = 8;
/// Transactions per applied block.
const TXS_PER_BLOCK: usize = 16;
/// Blocks between replay checks (and chain restarts).
const EPISODE_BLOCKS: u64 = 64;
const BALANCE: u64 = 1_000_000_000_000_000;
const STAKE: u64 = 10_000_000_000;

/// What a run saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FuzzStats {
    pub cases: u64,
    /// Cases that decoded into a transaction.
    pub decoded: u64,
    /// Decoded cases re-signed and applied by the ledger, and how many it accepted.
    pub applied: u64,
    pub accepted: u64,
    pub blocks: u64,
    pub replays: u64,
    /// Panics caught (decode, apply or replay) with the case index and message; the first
    /// few are kept.
    pub panics: u64,
    pub first_panics: Vec<String>,
}

/// Run `cases` fuzz cases from `seed`.
pub fn run_tx_cases(seed: u64, cases: u64) -> FuzzStats {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stats = FuzzStats::default();
    let mut chain = new_chain();
    let mut pending: Vec<Transaction> = Vec::new();
    let silent = SilentPanics::install();
    for i in 0..cases {
        stats.cases += 1;
        let bytes = case_bytes(&mut rng, &chain);
        let decoded = catch_unwind(|| Transaction::decode(&bytes));
        let tx = match decoded {
            Err(p) => {
                stats.panic(format!("case {i}: decode panicked: {}", message(&p)));
                continue;
            }
            Ok(Err(_)) => continue,
            Ok(Ok(tx)) => tx,
        };
        stats.decoded += 1;
        pending.push(resign(&mut rng, &chain, tx));
        if pending.len() < TXS_PER_BLOCK {
            continue;
        }
        let txs = std::mem::take(&mut pending);
        stats.applied += txs.len() as u64;
        match catch_unwind(AssertUnwindSafe(|| apply(&mut chain, txs))) {
            Ok(accepted) => stats.accepted += accepted,
            Err(p) => {
                stats.panic(format!("case {i}: apply panicked: {}", message(&p)));
                chain = new_chain();
                continue;
            }
        }
        stats.blocks += 1;
        if chain.blocks.len() as u64 >= EPISODE_BLOCKS {
            stats.replays += 1;
            let head = chain.ledger.state_root();
            match catch_unwind(AssertUnwindSafe(|| chain.replay())) {
                Ok(root) if root == head => {}
                Ok(root) => stats.panic(format!("case {i}: replay root {root} != {head}")),
                Err(p) => stats.panic(format!("case {i}: replay panicked: {}", message(&p))),
            }
            chain = new_chain();
        }
    }
    drop(silent);
    stats
}

impl FuzzStats {
    fn panic(&mut self, what: String) {
        self.panics += 1;
        if self.first_panics.len() < 5 {
            self.first_panics.push(what);
        }
    }
}

/// A chain with one live task (short windows, so the fuzzed rounds cycle through every
/// window) and accounts 1..=5 staked on it.
fn new_chain() -> TestChain {
    let mut chain = TestChain::new(ACCOUNTS, BALANCE);
    let params = TaskParams {
        name: "fuzz".into(),
        executable: Executable::default(),
        bounty_per_round: 1_000_000_000,
        round_time: 12,
        submission_window: 3,
        audit_window: 6,
        minimum_stake: STAKE,
        committee_size: 4,
        audit_sample: 2,
        unstake_cooldown: 1,
        ..TaskParams::default()
    };
    let task = chain.create_task(0, 1, params, 1_000_000_000_000);
    for who in 1..=5 {
        chain
            .run(
                who,
                Instruction::Stake {
                    task,
                    amount: STAKE,
                    url: format!("http://node{who}.example"),
                    owner: None,
                },
            )
            .expect("stake");
    }
    chain
}

fn the_task(chain: &TestChain) -> TaskId {
    gradual_types::task_id(&chain.pk(0), 1)
}

/// Apply `txs` in the next block; how many the ledger accepted.
fn apply(chain: &mut TestChain, txs: Vec<Transaction>) -> u64 {
    let parent = chain.ledger.head_hash();
    let slot = chain.ledger.slot() + 1;
    let seal = chain.ledger.seal(&chain.validator, slot);
    let checked = txs.into_iter().map(CheckedTx::check).collect();
    match chain.ledger.apply_block(slot, parent, seal, checked) {
        Ok(out) => {
            chain.blocks.push(out.block.clone());
            out.receipts.iter().filter(|r| r.result.is_ok()).count() as u64
        }
        // A block the ledger refuses as a whole (e.g. too large) changes nothing; an empty
        // block keeps the clock moving.
        Err(_) => {
            let seal = chain.ledger.seal(&chain.validator, slot);
            let out = chain
                .ledger
                .apply_block(slot, parent, seal, Vec::new())
                .expect("an empty block applies");
            chain.blocks.push(out.block.clone());
            0
        }
    }
}

/// One attacker byte string.
fn case_bytes(rng: &mut StdRng, chain: &TestChain) -> Vec<u8> {
    match rng.gen_range(0..10) {
        0 => {
            let len = if rng.gen_bool(0.05) {
                rng.gen_range(TX_BYTES_MAX..TX_BYTES_MAX + 4096)
            } else {
                rng.gen_range(0..512)
            };
            (0..len).map(|_| rng.gen()).collect()
        }
        1..=4 => {
            let mut bytes = template(rng, chain).encode();
            mutate(rng, &mut bytes);
            bytes
        }
        _ => template(rng, chain).encode(),
    }
}

/// Byte-level mutations, 1–4 of them.
fn mutate(rng: &mut StdRng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.gen_range(1..=4) {
        if bytes.is_empty() {
            bytes.push(rng.gen());
            continue;
        }
        let at = rng.gen_range(0..bytes.len());
        match rng.gen_range(0..6) {
            0 => bytes[at] ^= 1 << rng.gen_range(0..8),
            1 => bytes[at] = rng.gen(),
            // A length prefix (or any u32) turned huge: the decoder must not allocate it.
            2 => {
                let v: u32 = if rng.gen() { u32::MAX } else { rng.gen() };
                for (k, b) in v.to_le_bytes().iter().enumerate() {
                    if let Some(slot) = bytes.get_mut(at + k) {
                        *slot = *b;
                    }
                }
            }
            3 => bytes.truncate(at),
            4 => {
                let n = rng.gen_range(1..64);
                let junk: Vec<u8> = (0..n).map(|_| rng.gen()).collect();
                bytes.splice(at..at, junk);
            }
            _ => {
                let b = bytes[at];
                bytes.insert(at, b);
            }
        }
    }
}

/// Re-sign a decoded transaction by a funded account, mostly with the chain's envelope, so
/// its instruction reaches the ledger's rules.
fn resign(rng: &mut StdRng, chain: &TestChain, tx: Transaction) -> Transaction {
    if rng.gen_bool(0.05) {
        return tx; // as decoded: almost surely a bad signature
    }
    let who = rng.gen_range(0..ACCOUNTS as usize);
    let mut recent = chain.ledger.slot();
    let mut chain_id = chain.chain_id.clone();
    match rng.gen_range(0..20) {
        0 => recent = tx.message.recent_slot,
        1 => chain_id = tx.message.chain_id.clone(),
        2 => recent = recent.saturating_add(rng.gen_range(1..1_000)),
        _ => {}
    }
    let fee = if rng.gen_bool(0.9) {
        chain.fee
    } else {
        tx.message.fee
    };
    Transaction::new_signed(
        &chain.keys[who],
        &chain_id,
        recent,
        fee,
        tx.message.instruction,
    )
}

fn pick_u64(rng: &mut StdRng) -> u64 {
    match rng.gen_range(0..8) {
        0 => 0,
        1 => 1,
        2 => u64::MAX,
        3 => u64::MAX / 2 + 1,
        4 => STAKE,
        5 => rng.gen_range(0..1_000_000),
        _ => rng.gen(),
    }
}

fn pick_u16(rng: &mut StdRng) -> u16 {
    match rng.gen_range(0..5) {
        0 => 0,
        1 => u16::MAX,
        2 => 10_000,
        3 => 10_001,
        _ => rng.gen_range(0..300),
    }
}

fn pick_key(rng: &mut StdRng, chain: &TestChain) -> Pubkey {
    if rng.gen_bool(0.85) {
        chain.pk(rng.gen_range(0..ACCOUNTS as usize))
    } else {
        Pubkey(rng.gen())
    }
}

fn pick_task(rng: &mut StdRng, chain: &TestChain) -> TaskId {
    if rng.gen_bool(0.9) {
        the_task(chain)
    } else {
        Hash(rng.gen())
    }
}

/// A round near the task's current one, or anything.
fn pick_round(rng: &mut StdRng, chain: &TestChain) -> u64 {
    let current = chain.ledger.slot() / 12;
    match rng.gen_range(0..6) {
        0 => pick_u64(rng),
        n => current.saturating_add(2).saturating_sub(n),
    }
}

fn pick_verdict(rng: &mut StdRng) -> Verdict {
    match rng.gen_range(0..3) {
        0 => Verdict::Valid,
        1 => Verdict::Invalid,
        _ => Verdict::Abstain,
    }
}

fn pick_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let len = match rng.gen_range(0..4) {
        0 => 0,
        1 => max,
        2 => max + 1,
        _ => rng.gen_range(0..64),
    };
    (0..len).map(|_| rng.gen()).collect()
}

fn pick_string(rng: &mut StdRng) -> String {
    match rng.gen_range(0..6) {
        0 => String::new(),
        1 => "http://node.example:8080/x".into(),
        2 => "https://user:pw@host/".into(),
        3 => "javascript:alert(1)".into(),
        4 => "x".repeat(rng.gen_range(200..300)),
        _ => format!("http://h{}.example", rng.gen::<u16>()),
    }
}

fn pick_params(rng: &mut StdRng) -> TaskParams {
    TaskParams {
        name: pick_string(rng),
        description: pick_string(rng),
        metadata: pick_bytes(rng, 64),
        executable: Executable::default(),
        bounty_per_round: pick_u64(rng),
        round_time: pick_u64(rng),
        submission_window: pick_u64(rng),
        audit_window: pick_u64(rng),
        minimum_stake: pick_u64(rng),
        allowed_failed_distributions: pick_u16(rng),
        audit_sample: pick_u16(rng),
        committee_size: pick_u16(rng),
        slash_bps: pick_u16(rng),
        accuser_bps: pick_u16(rng),
        voter_bps: pick_u16(rng),
        false_accusation_bps: pick_u16(rng),
        unstake_cooldown: pick_u64(rng),
        missed_list_bps: pick_u16(rng),
    }
}

/// A well-formed transaction with hostile values, signed by a chain account.
fn template(rng: &mut StdRng, chain: &TestChain) -> Transaction {
    let task = pick_task(rng, chain);
    let round = pick_round(rng, chain);
    let ix = match rng.gen_range(0..20) {
        0 => Instruction::Transfer {
            to: pick_key(rng, chain),
            amount: pick_u64(rng),
        },
        1 => Instruction::FaucetMint {
            to: pick_key(rng, chain),
            amount: pick_u64(rng),
        },
        2 => Instruction::CreateTask {
            nonce: pick_u64(rng),
            params: pick_params(rng),
            total_bounty: pick_u64(rng),
        },
        3 => Instruction::FundTask {
            task,
            amount: pick_u64(rng),
        },
        4 => Instruction::UpdateTask {
            task,
            params: pick_params(rng),
        },
        5 => Instruction::SetActive {
            task,
            active: rng.gen(),
        },
        6 => Instruction::CloseTask { task },
        7 => Instruction::Stake {
            task,
            amount: pick_u64(rng),
            url: pick_string(rng),
            owner: rng.gen_bool(0.3).then(|| pick_key(rng, chain)),
        },
        8 => Instruction::SetNodeUrl {
            task,
            url: pick_string(rng),
        },
        9 => Instruction::SetStakeOwner {
            task,
            node: pick_key(rng, chain),
            owner: pick_key(rng, chain),
        },
        10 => Instruction::SetValidators {
            validators: (0..rng.gen_range(0..3))
                .map(|_| {
                    let k = ValidatorKey::from_seed(rng.gen());
                    ValidatorInfo {
                        id: pick_key(rng, chain),
                        vrf_key: k.vrf_public(),
                    }
                })
                .collect(),
            from_slot: pick_u64(rng),
        },
        11 => Instruction::Unstake { task },
        12 => Instruction::Withdraw { task },
        13 => Instruction::Claim { task },
        14 => Instruction::SubmitProof {
            task,
            round,
            value: pick_bytes(rng, 256),
        },
        15 => Instruction::AuditProof {
            task,
            round,
            candidate: pick_key(rng, chain),
            verdict: pick_verdict(rng),
        },
        16 => Instruction::AuditProofs {
            task,
            round,
            votes: (0..rng.gen_range(0..12))
                .map(|_| (pick_key(rng, chain), pick_verdict(rng)))
                .collect(),
        },
        17 => Instruction::UploadDistributionChunk {
            task,
            round,
            attempt: pick_u16(rng) % 8,
            index: rng.gen_range(0..4),
            entries: {
                let mut e: Vec<(Pubkey, u64)> = (0..rng.gen_range(0..8))
                    .map(|_| (pick_key(rng, chain), pick_u64(rng) % 1_000_000_000))
                    .collect();
                if rng.gen_bool(0.7) {
                    e.sort();
                }
                e
            },
        },
        18 => Instruction::SubmitDistribution {
            task,
            round,
            attempt: pick_u16(rng) % 8,
            digest: Hash(rng.gen()),
            count: rng.gen_range(0..10),
        },
        _ => Instruction::AuditDistribution {
            task,
            round,
            attempt: pick_u16(rng) % 8,
            verdict: pick_verdict(rng),
        },
    };
    chain.tx(rng.gen_range(0..ACCOUNTS as usize), ix)
}

fn message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

/// Keeps expected-to-be-caught panics from flooding stderr; restores the hook on drop.
struct SilentPanics;

impl SilentPanics {
    fn install() -> SilentPanics {
        std::panic::set_hook(Box::new(|_| {}));
        SilentPanics
    }
}

impl Drop for SilentPanics {
    fn drop(&mut self) {
        let _ = std::panic::take_hook();
    }
}
