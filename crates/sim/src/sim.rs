//! The driver: one process, virtual slots, one PRNG. Each slot every online node's
//! [`NodeCore`] looks at the ledger through one shared [`CachedView`], its strategy answers
//! the core's actions, the instructions are signed (ed25519, in parallel), pass the network
//! fault model, and the validator (the real [`Ledger`]) applies the block.

use crate::config::{SimConfig, Strategy, BPS};
use crate::report::{ClassStats, Report};
use crate::strategy::{self, coin, honest_proof, Ctx, Grind, GrindPool};
use gradual_ledger::block::FailReason;
use gradual_ledger::state::AuditOutcome;
use gradual_ledger::{Block, CheckedTx, Ledger, LedgerEvent, StakePool, Window};
use gradual_node_proto::{
    Action, AuditGuard, CachedView, LedgerView, ListPurpose, NodeCore, TaskConfig,
};
use gradual_types::constants::raise_last_slot;
use gradual_types::constants::{BLOCK_BYTES_MAX, ROE_PER_KOII};
use gradual_types::{
    Genesis, Hash, Instruction, Keypair, Pubkey, Slot, TaskId, TaskParams, Transaction,
    ValidatorKey, Verdict,
};
use rand::Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

/// Stake each node holds: twice the task minimum, so one slash drops it below the minimum
/// and the node must stake again (and sit out a round) before it may submit.
pub const MIN_STAKE_ROE: u64 = ROE_PER_KOII;
pub const STAKE_ROE: u64 = 2 * MIN_STAKE_ROE;
/// Reward per correct submitter per round; large, so floor-division dust is below 10^-6.
pub const SHARE_ROE: u64 = 1_000_000;
/// Resend anything not visible after this many slots (shorter than a window).
pub const RESEND_AFTER_SLOTS: u64 = 3;
/// Re-poll a node in the same slot while it answered something (votes go out at once).
const PASSES_MAX: usize = 3;
/// Step nodes on several threads only when there are enough of them to pay for the spawn.
const PARALLEL_NODES_MIN: usize = 2_048;
/// Slot length of the simulated chain. With 3-second slots the vote window (SPEC §5) is
/// `V = max(1, AW/3)`, so the default audit window of 6 slots takes raises in its first 4.
pub const SIM_SLOT_MS: u64 = 3_000;
/// Raises a `late-accuser` tries after the raise cutoff, per round.
const LATE_TRIES: usize = 2;
/// Minimum stake a `manager-updater`'s manager sets mid-run (no node can reach it).
const HUGE_MIN_STAKE_ROE: u64 = 1_000_000 * ROE_PER_KOII;

/// Deterministic keypair of node `i` of a run.
pub fn node_key(seed: u64, i: u32) -> Keypair {
    Keypair::from_seed(
        Hash::domain(
            "gradual-sim/node-key/v1",
            &[&seed.to_le_bytes(), &i.to_le_bytes()],
        )
        .0,
    )
}

/// Make keys `0..n` on `threads` threads (key generation is a scalar multiplication each).
pub fn make_keys(seed: u64, n: u32, threads: usize) -> Vec<Keypair> {
    let per = (n as usize).div_ceil(threads.max(1)).max(1);
    let ids: Vec<u32> = (0..n).collect();
    std::thread::scope(|s| {
        let hs: Vec<_> = ids
            .chunks(per)
            .map(|part| {
                s.spawn(move || part.iter().map(|i| node_key(seed, *i)).collect::<Vec<_>>())
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("key thread panicked"))
            .collect()
    })
}

/// Sign `(node, instruction)` pairs on `threads` threads; order is kept.
pub fn sign_all(
    keys: &[Keypair],
    items: Vec<(u32, Instruction)>,
    chain_id: &str,
    recent_slot: Slot,
    threads: usize,
) -> Vec<Transaction> {
    let threads = threads.max(1);
    if threads == 1 || items.len() < 64 {
        return items
            .into_iter()
            .map(|(i, ix)| Transaction::new_signed(&keys[i as usize], chain_id, recent_slot, 0, ix))
            .collect();
    }
    let per = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<(u32, Instruction)>> = Vec::new();
    let mut it = items.into_iter();
    loop {
        let part: Vec<_> = it.by_ref().take(per).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    std::thread::scope(|s| {
        let hs: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .map(|(i, ix)| {
                            Transaction::new_signed(&keys[i as usize], chain_id, recent_slot, 0, ix)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("signing thread panicked"))
            .collect()
    })
}

/// What the simulator learned about one work round.
#[derive(Debug, Clone, Default)]
struct RoundFact {
    /// Proofs that pass an exact check, and how many of them honest nodes sent.
    correct: u64,
    honest_correct: u64,
    /// What honest nodes would get if every cheater were caught and the round paid.
    honest_fair_roe: u64,
    honest_paid_roe: u64,
    settled: Option<bool>,
    /// The round paid nothing although an honest node had a turn to send its list.
    unpaid_after_honest_turn: bool,
    /// Honest nodes with a correct, non-voided proof, and the equal share an honest list pays.
    honest_unvoided: Vec<Pubkey>,
    honest_list_share: u64,
}

#[derive(Debug, Clone)]
struct ListFact {
    honest: bool,
}

/// A sampled check a `late-accuser` holds back until the raise cutoff.
#[derive(Debug, Clone, Copy)]
struct Held {
    round: u64,
    candidate: Pubkey,
}

/// Timings of one slot (scale benchmark).
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct SlotStat {
    pub slot: Slot,
    pub nodes_ns: u64,
    pub sign_ns: u64,
    pub verify_ns: u64,
    pub apply_ns: u64,
    pub txs: u64,
    pub write_bytes: u64,
}

pub struct Sim {
    pub cfg: SimConfig,
    rng: ChaCha8Rng,
    pub ledger: Ledger,
    validator: ValidatorKey,
    manager: Keypair,
    /// Round in whose middle a `manager-updater`'s manager strikes, if the mix has one.
    manager_round: Option<u64>,
    /// Adversaries whose auto-restake was switched off after their first stake.
    restake_off: Vec<bool>,
    /// Late accusers' held checks: node → checks.
    held: BTreeMap<u32, Vec<Held>>,
    chain_id: String,
    keys: Vec<Keypair>,
    pubkeys: Vec<Pubkey>,
    index: HashMap<Pubkey, u32>,
    strategy: Vec<Strategy>,
    cores: Vec<NodeCore>,
    pub task: TaskId,
    bounty_per_round: u64,
    mempool: VecDeque<Transaction>,
    delayed: BTreeMap<Slot, Vec<Transaction>>,
    /// Copiers waiting for a peer's proof: node → round.
    copy_pending: BTreeMap<u32, u64>,
    offline: Vec<bool>,
    offline_round: Option<u64>,
    faults_on: bool,
    blocks: Vec<Block>,
    facts: BTreeMap<u64, RoundFact>,
    lists: BTreeMap<(u64, u16), ListFact>,
    pub report: Report,
    pub slot_stats: Vec<SlotStat>,
    /// Events of the last block applied.
    pub last_events: Vec<LedgerEvent>,
    started: Instant,
}

impl Sim {
    /// Build the network: keys, genesis, the task (created in block 1). The config must pass
    /// [`SimConfig::validate`] (the CLI reports a typed error first); an invalid one panics.
    pub fn new(cfg: SimConfig) -> Sim {
        cfg.validate().expect("config validated by the caller");
        let started = Instant::now();
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let n = cfg.nodes;
        let keys = make_keys(cfg.seed, n + 1, cfg.threads);
        let mut keys = keys.into_iter();
        let manager = keys.next().expect("manager key");
        let keys: Vec<Keypair> = keys.collect();
        let pubkeys: Vec<Pubkey> = keys.iter().map(Keypair::pubkey).collect();
        let index: HashMap<Pubkey, u32> = pubkeys
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, i as u32))
            .collect();
        assert_eq!(index.len(), n as usize, "node keys are distinct");

        // Assign strategies to a random subset of nodes (Fisher–Yates on the node order).
        let mut order: Vec<u32> = (0..n).collect();
        for i in (1..order.len()).rev() {
            let j = rng.gen_range(0..=i);
            order.swap(i, j);
        }
        let mut strategy = vec![Strategy::Honest; n as usize];
        let mut next = 0usize;
        for (s, c) in cfg.mix.counts(n) {
            if s == Strategy::Honest {
                continue;
            }
            for _ in 0..c {
                strategy[order[next] as usize] = s;
                next += 1;
            }
        }

        let total_rounds = cfg.rounds + cfg.liveness_rounds + 4;
        let bounty_per_round = SHARE_ROE * u64::from(n);
        let total_bounty = bounty_per_round * (total_rounds + 2);
        // Enough to stake again after every slash for the whole run.
        let node_balance = STAKE_ROE * (total_rounds + 4);
        let chain_id = "gradual-sim".to_string();
        let mut accounts: Vec<(Pubkey, u64)> = pubkeys.iter().map(|p| (*p, node_balance)).collect();
        accounts.push((manager.pubkey(), total_bounty));
        let genesis = Genesis {
            chain_id: chain_id.clone(),
            slot_ms: SIM_SLOT_MS,
            accounts,
            // The protocol's largest blocks, so that one slot carries the traffic of
            // 100,000 nodes as on a network sized for them.
            block_max_bytes: BLOCK_BYTES_MAX,
            ..Genesis::default()
        };
        let validator = ValidatorKey::devnet();
        let mut ledger = Ledger::new(genesis);
        ledger.paranoid = cfg.check_supply_every_block;

        let params = TaskParams {
            name: "sim".into(),
            round_time: cfg.round_time,
            submission_window: cfg.submission_window,
            audit_window: cfg.audit_window,
            minimum_stake: MIN_STAKE_ROE,
            bounty_per_round,
            committee_size: cfg.committee_size,
            audit_sample: cfg.audit_sample,
            allowed_failed_distributions: cfg.allowed_failed_distributions,
            ..TaskParams::default()
        };
        let create = Transaction::new_signed(
            &manager,
            &chain_id,
            0,
            0,
            Instruction::CreateTask {
                nonce: cfg.seed,
                params,
                total_bounty,
            },
        );
        let task = gradual_types::task_id(&manager.pubkey(), cfg.seed);
        let parent = ledger.head_hash();
        let seal = ledger.seal(&validator, 1);
        let out = ledger
            .apply_block(1, parent, seal, vec![CheckedTx::check(create)])
            .expect("block 1 applies");
        assert!(
            out.receipts[0].result.is_ok(),
            "task creation failed: {:?}",
            out.receipts[0].result
        );

        let cores = pubkeys
            .iter()
            .enumerate()
            .map(|(i, pk)| {
                let mut core = NodeCore::new(
                    *pk,
                    Hash::domain(
                        "gradual-sim/sample-seed/v1",
                        &[&cfg.seed.to_le_bytes(), &(i as u64).to_le_bytes()],
                    ),
                );
                core.set_resend_after_slots(RESEND_AFTER_SLOTS);
                core.add_task(
                    task,
                    TaskConfig {
                        stake_roe: Some(STAKE_ROE),
                        url: String::new(),
                        claim_at_roe: None,
                        audit_guard: audit_guard(strategy[i]),
                    },
                );
                core
            })
            .collect();

        let mut report = Report::new(&cfg);
        for (i, s) in strategy.iter().enumerate() {
            let c = report.classes.entry(s.name().to_string()).or_default();
            c.nodes += 1;
            c.initial_roe += node_balance;
            debug_assert_eq!(strategy[i], *s);
        }
        let blocks = if cfg.replay_enabled() {
            vec![out.block]
        } else {
            Vec::new()
        };
        let manager_round = cfg
            .mix
            .0
            .get(&Strategy::ManagerUpdater)
            .is_some_and(|b| *b > 0)
            .then_some((cfg.rounds / 2).max(1));
        report.manager_round = manager_round;
        Sim {
            offline: vec![false; n as usize],
            restake_off: vec![false; n as usize],
            held: BTreeMap::new(),
            manager_round,
            validator,
            manager,
            cfg,
            rng,
            ledger,
            chain_id,
            keys,
            pubkeys,
            index,
            strategy,
            cores,
            task,
            bounty_per_round,
            mempool: VecDeque::new(),
            delayed: BTreeMap::new(),
            copy_pending: BTreeMap::new(),
            offline_round: None,
            faults_on: true,
            blocks,
            facts: BTreeMap::new(),
            lists: BTreeMap::new(),
            report,
            slot_stats: Vec::new(),
            last_events: Vec::new(),
            started,
        }
    }

    pub fn clock(&self) -> gradual_ledger::Clock {
        self.ledger.clock(&self.task).expect("task exists")
    }

    pub fn strategies(&self) -> &[Strategy] {
        &self.strategy
    }

    pub fn pubkeys(&self) -> &[Pubkey] {
        &self.pubkeys
    }

    /// The slot where the safety phase ends (faults on until then).
    pub fn safety_end(&self) -> Slot {
        self.clock().start(self.cfg.rounds + 2)
    }

    /// The last slot of the run.
    pub fn end(&self) -> Slot {
        self.clock()
            .start(self.cfg.rounds + 2 + self.cfg.liveness_rounds)
    }

    /// Run to the end and produce the report.
    pub fn run(mut self) -> Report {
        let end = self.end();
        let safety = self.safety_end();
        while self.ledger.slot() < end {
            if self.ledger.slot() + 1 >= safety {
                self.faults_on = false;
            }
            self.step();
        }
        self.finish()
    }

    /// One slot: nodes act, the network carries their transactions, the ledger applies a block.
    pub fn step(&mut self) {
        let at = self.ledger.slot() + 1;
        let clock = self.clock();
        let t0 = Instant::now();
        self.update_offline(clock.round(at));
        self.restake_policy();
        let grind_pool = self.grind_pool(clock.round(at));
        let mut manager_txs = self.manager_strike(at);
        let out = {
            let env = Env {
                ctx: Ctx {
                    seed: self.cfg.seed,
                    task: self.task,
                    strategy: &self.strategy,
                    index: &self.index,
                },
                ledger: &self.ledger,
                pubkeys: &self.pubkeys,
                offline: &self.offline,
                copy_pending: &self.copy_pending,
                held: &self.held,
                grind_pool: grind_pool.as_ref(),
                head_randomness: self.ledger.head_randomness(),
                grind_tries: self.cfg.grind_tries,
                flood_raises: self.cfg.flood_raises as usize,
                clock,
                at,
            };
            // Nodes are independent within a slot: step them on `threads` threads, each with
            // its own view, and merge the results in node order (deterministic).
            let threads = if self.cores.len() >= PARALLEL_NODES_MIN {
                self.cfg.threads.max(1)
            } else {
                1
            };
            let per = self.cores.len().div_ceil(threads).max(1);
            let parts: Vec<StepOut> = if threads == 1 {
                vec![drive_nodes(&env, 0, &mut self.cores)]
            } else {
                let env = &env;
                std::thread::scope(|sc| {
                    let hs: Vec<_> = self
                        .cores
                        .chunks_mut(per)
                        .enumerate()
                        .map(|(t, cores)| {
                            sc.spawn(move || drive_nodes(env, (t * per) as u32, cores))
                        })
                        .collect();
                    hs.into_iter()
                        .map(|h| h.join().expect("node thread panicked"))
                        .collect()
                })
            };
            let mut out = Vec::new();
            for p in parts {
                out.extend(p.sends);
                for (i, r) in p.copy_ops {
                    match r {
                        Some(r) => self.copy_pending.insert(i, r),
                        None => self.copy_pending.remove(&i),
                    };
                }
                for (i, h) in p.held_ops {
                    if h.is_empty() {
                        self.held.remove(&i);
                    } else {
                        self.held.insert(i, h);
                    }
                }
                let g = &mut self.report.grind;
                g.tries += p.grind.tries;
                g.distinct += p.grind.distinct;
                g.predicted_seats += p.grind.predicted_seats;
                g.raises_chosen += p.grind_raises;
                g.candidates += p.grind_candidates;
                self.lists.extend(p.lists);
            }
            out
        };
        let t1 = Instant::now();
        let recent = self.ledger.slot();
        let mut signed = sign_all(&self.keys, out, &self.chain_id, recent, self.cfg.threads);
        signed.append(&mut manager_txs);
        let t2 = Instant::now();
        for tx in signed {
            if self.faults_on
                && self.cfg.loss_bps > 0
                && self.rng.gen_range(0..BPS) < self.cfg.loss_bps
            {
                self.report.txs_lost += 1;
                continue;
            }
            if self.faults_on
                && self.cfg.delay_bps > 0
                && self.rng.gen_range(0..BPS) < self.cfg.delay_bps
            {
                let d = self.rng.gen_range(1..=self.cfg.delay_slots_max);
                self.report.txs_delayed += 1;
                self.delayed.entry(at + d).or_default().push(tx);
                continue;
            }
            self.mempool.push_back(tx);
        }
        while let Some((&due, _)) = self.delayed.first_key_value() {
            if due > at {
                break;
            }
            let txs = self.delayed.remove(&due).expect("listed");
            self.mempool.extend(txs);
        }
        // Fill the block within the genesis limits (SPEC §1 [v2]); the rest waits, as in a
        // validator's mempool.
        let g = self.ledger.genesis();
        let (max_txs, max_bytes) = (g.block_txs_limit(), g.block_bytes_limit());
        let (mut take, mut bytes) = (0, 0u64);
        for tx in self.mempool.iter().take(max_txs) {
            bytes += tx.encode().len() as u64;
            if bytes > max_bytes {
                break;
            }
            take += 1;
        }
        let txs: Vec<Transaction> = self.mempool.drain(..take).collect();
        let n_txs = txs.len() as u64;
        let checked = CheckedTx::check_all(txs, self.cfg.threads);
        let t3 = Instant::now();
        let parent = self.ledger.head_hash();
        let seal = self.ledger.seal(&self.validator, at);
        let out = self
            .ledger
            .apply_block(at, parent, seal, checked)
            .expect("the simulator builds well-formed blocks");
        let t4 = Instant::now();
        self.report.blocks += 1;
        self.report.txs += n_txs;
        self.report.time_nodes_ms += (t1 - t0).as_micros() as u64;
        self.report.time_sign_ms += (t2 - t1).as_micros() as u64;
        self.report.time_verify_ms += (t3 - t2).as_micros() as u64;
        self.report.time_apply_ms += (t4 - t3).as_micros() as u64;
        for (r, tx) in out.receipts.iter().zip(out.block.txs.iter()) {
            if tx.message.signer == self.manager.pubkey() && self.manager_round.is_some() {
                match &r.result {
                    Ok(_) => self.report.manager_txs_ok += 1,
                    Err(e) => self.report.violations.push(format!(
                        "the manager's {} was refused: {e}",
                        tx.message.instruction.name()
                    )),
                }
            }
            if let Err(e) = &r.result {
                let code = e.code();
                if code == "raise_too_late" || code == "too_many_raises" {
                    if let Some(c) = self.class(&tx.message.signer) {
                        if code == "raise_too_late" {
                            c.raises_refused_late += 1;
                        } else {
                            c.raises_refused_too_many += 1;
                        }
                    }
                }
                let kind = match e {
                    gradual_ledger::TxError::VotesRefused { refused, .. } => {
                        let first = refused.first().map(|(_, e)| format!("{e:?}"));
                        format!("VotesRefused/{}", first.unwrap_or_default())
                    }
                    e => format!("{e:?}"),
                };
                let kind = kind
                    .split([' ', '{', '('])
                    .next()
                    .unwrap_or("?")
                    .to_string();
                *self.report.tx_errors.entry(kind).or_insert(0) += 1;
                if self
                    .index
                    .get(&tx.message.signer)
                    .is_some_and(|i| self.strategy[*i as usize] == Strategy::Honest)
                {
                    self.report.honest_tx_errors += 1;
                }
            }
        }
        for ev in &out.events {
            self.on_event(ev);
        }
        self.last_events = out.events;
        if self.cfg.timing {
            let write_bytes = out
                .writes
                .iter()
                .map(|w| (w.key.len() + w.value.as_ref().map_or(0, Vec::len)) as u64)
                .sum();
            self.slot_stats.push(SlotStat {
                slot: at,
                nodes_ns: (t1 - t0).as_nanos() as u64,
                sign_ns: (t2 - t1).as_nanos() as u64,
                verify_ns: (t3 - t2).as_nanos() as u64,
                apply_ns: (t4 - t3).as_nanos() as u64,
                txs: n_txs,
                write_bytes,
            });
        }
        if self.cfg.replay_enabled() {
            self.blocks.push(out.block);
        }
    }

    /// Operator policy (SPEC §7 top-ups): every node's scheduler stakes again when a slash
    /// left it below the minimum. With `adversary_restake` off, an adversary keeps only its
    /// first stake: its top-up is switched off once that stake is on the ledger.
    fn restake_policy(&mut self) {
        if self.cfg.adversary_restake {
            return;
        }
        for i in 0..self.cores.len() {
            if self.restake_off[i] || !self.strategy[i].adversary() {
                continue;
            }
            if self.ledger.stake(&self.task, &self.pubkeys[i]).is_some() {
                self.cores[i].add_task(
                    self.task,
                    TaskConfig {
                        stake_roe: None,
                        url: String::new(),
                        claim_at_roe: None,
                        audit_guard: audit_guard(self.strategy[i]),
                    },
                );
                self.restake_off[i] = true;
            }
        }
    }

    /// The pool grinders predict committees from: the eligible stake of the round whose
    /// audit window is open at this slot (what the ledger will draw from).
    fn grind_pool(&self, round: u64) -> Option<GrindPool> {
        if !self.strategy.contains(&Strategy::Grinder) {
            return None;
        }
        let r = round.checked_sub(1)?;
        let minimum = self
            .ledger
            .round_record(&self.task, r)
            .map_or(MIN_STAKE_ROE, |rec| rec.terms.minimum_stake);
        let pool = self.ledger.eligible_stakers(&self.task, round, minimum);
        let total: u128 = pool.iter().map(|(_, w)| u128::from(*w)).sum();
        let grinder_weight: u128 = pool
            .iter()
            .filter(|(n, _)| {
                self.index
                    .get(n)
                    .is_some_and(|i| self.strategy[*i as usize] == Strategy::Grinder)
            })
            .map(|(_, w)| u128::from(*w))
            .sum();
        Some(GrindPool {
            pool: StakePool::new(&pool),
            seats: self.cfg.committee_size,
            total,
            grinder_weight,
        })
    }

    /// A `manager-updater`'s manager, in the middle of its round: `UpdateTask` (bounty 0, a
    /// minimum stake nobody holds) and `SetActive(false)`. Rounds already started must still
    /// be judged and paid under their own terms (SPEC §2 *Round terms*).
    fn manager_strike(&mut self, at: Slot) -> Vec<Transaction> {
        let Some(r) = self.manager_round else {
            return Vec::new();
        };
        let clock = self.clock();
        if at != clock.start(r) + self.cfg.round_time / 2 {
            return Vec::new();
        }
        let Some(task) = self.ledger.task(&self.task) else {
            return Vec::new();
        };
        let params = TaskParams {
            bounty_per_round: 0,
            minimum_stake: HUGE_MIN_STAKE_ROE,
            ..task.params.clone()
        };
        let recent = self.ledger.slot();
        [
            Instruction::UpdateTask {
                task: self.task,
                params,
            },
            Instruction::SetActive {
                task: self.task,
                active: false,
            },
        ]
        .into_iter()
        .map(|ix| Transaction::new_signed(&self.manager, &self.chain_id, recent, 0, ix))
        .collect()
    }

    fn update_offline(&mut self, round: u64) {
        if self.offline_round == Some(round) {
            return;
        }
        self.offline_round = Some(round);
        for i in 0..self.offline.len() {
            let flaky = self.strategy[i] == Strategy::Flaky;
            self.offline[i] =
                flaky && self.faults_on && self.rng.gen_range(0..BPS) < self.cfg.flaky_rate_bps;
        }
    }

    fn is_honest(&self, node: &Pubkey) -> bool {
        self.index
            .get(node)
            .is_some_and(|i| self.strategy[*i as usize] == Strategy::Honest)
    }

    fn class(&mut self, node: &Pubkey) -> Option<&mut ClassStats> {
        let s = self.strategy[*self.index.get(node)? as usize];
        self.report.classes.get_mut(s.name())
    }

    fn violation(&mut self, what: String) {
        if self.cfg.assert_honest && self.report.violations.len() < 50 {
            self.report.violations.push(what);
        }
    }

    /// Seats of one proof-audit committee, per class, against what each class's share of the
    /// eligible pool (weights at the start of the audit window's round, without the
    /// candidate and the accuser) makes it expect.
    fn count_seats(
        &mut self,
        round: u64,
        candidate: &Pubkey,
        audit: &gradual_ledger::state::AuditRecord,
        correct: bool,
    ) {
        let Some(committee) = audit.committee.as_ref() else {
            return;
        };
        if committee.size == 0 {
            return;
        }
        let minimum = self
            .ledger
            .round_record(&self.task, round)
            .map_or(MIN_STAKE_ROE, |r| r.terms.minimum_stake);
        let pool = self.ledger.eligible_stakers(&self.task, round + 1, minimum);
        // The committee must be exactly what its seed draws from this pool (SPEC §5: anyone
        // holding the stakes reproduces it); a mismatch means the draw used other weights.
        let redraw = gradual_ledger::draw_committee(
            &audit.seed,
            &pool,
            &[*candidate, audit.accuser],
            committee.size,
        );
        if redraw != committee.seats {
            self.report.committees_not_reproduced += 1;
        }
        let mut by_class: BTreeMap<Strategy, u128> = BTreeMap::new();
        let mut total: u128 = 0;
        for (n, w) in &pool {
            if n == candidate || *n == audit.accuser {
                continue;
            }
            let Some(i) = self.index.get(n) else { continue };
            *by_class.entry(self.strategy[*i as usize]).or_default() += u128::from(*w);
            total += u128::from(*w);
        }
        if total == 0 {
            return;
        }
        let k = f64::from(committee.size);
        // An innocent is convicted iff the bloc that votes `Invalid` on every honest proof
        // holds more than K/2 seats: P(X > K/2) at this committee's own pool share.
        if correct {
            let bloc: u128 = by_class
                .iter()
                .filter(|(s, _)| s.votes_invalid_on_honest())
                .map(|(_, w)| *w)
                .sum();
            let p = bloc as f64 / total as f64;
            let kk = u32::from(committee.size);
            self.report.false_upheld_expected += crate::sweep::binom_tail(kk, p, kk / 2 + 1);
            // Dispersion of the bloc's seat count against Binomial(K, p): seats drawn
            // independently give a ratio near 1; correlated seats would fatten the tails.
            let x: u64 = committee
                .seats
                .iter()
                .filter(|(n, _)| {
                    self.strategy_of(n)
                        .is_some_and(Strategy::votes_invalid_on_honest)
                })
                .map(|(_, k)| u64::from(*k))
                .sum();
            let mean = k * p;
            self.report.bloc_seat_sq_dev += (x as f64 - mean).powi(2);
            self.report.bloc_seat_binom_var += mean * (1.0 - p);
        }
        self.report.committees += 1;
        self.report.seats += u64::from(committee.size);
        let grinder_accused = self.strategy_of(&audit.accuser) == Some(Strategy::Grinder);
        for (n, seats) in &committee.seats {
            let s = self.strategy_of(n);
            if let Some(c) = self.class(n) {
                c.seats += u64::from(*seats);
            }
            if grinder_accused && s == Some(Strategy::Grinder) {
                self.report.grind.actual_seats += u64::from(*seats);
            }
        }
        if grinder_accused {
            self.report.grind.committees += 1;
        }
        for (s, w) in by_class {
            let p = w as f64 / total as f64;
            if let Some(c) = self.report.classes.get_mut(s.name()) {
                c.seats_expected += k * p;
                c.seats_var += k * p * (1.0 - p);
            }
            if grinder_accused && s == Strategy::Grinder {
                self.report.grind.expected_seats += k * p;
            }
        }
    }

    /// Seats per strategy and verdict of an audit, for violation messages.
    fn vote_summary(&self, audit: &gradual_ledger::state::AuditRecord) -> String {
        let Some(c) = audit.committee.as_ref() else {
            return "no committee".into();
        };
        let mut by: BTreeMap<(String, String), u32> = BTreeMap::new();
        for (n, v) in &audit.votes {
            let s = self.strategy_of(n).map_or("?", |s| s.name()).to_string();
            *by.entry((s, format!("{v:?}"))).or_default() += u32::from(c.seats_of(n));
        }
        let parts: Vec<String> = by
            .iter()
            .map(|((s, v), k)| format!("{s} {v} {k}"))
            .collect();
        format!(
            "K {}, accuser {}, trigger slot {}, seats voted: {}",
            c.size,
            self.strategy_of(&audit.accuser).map_or("?", |s| s.name()),
            audit.trigger_slot,
            parts.join(", ")
        )
    }

    /// The submitter of a finished distribution attempt took a turn; its committee's seats
    /// per class against each class's share of the pool it was drawn from (stake at the start
    /// of the round of the attempt's audit window, without the submitter).
    fn count_turn(&mut self, round: u64, attempt: u16) {
        let Some(att) = self.ledger.attempt(&self.task, round, attempt).cloned() else {
            return;
        };
        if let Some(c) = self.class(&att.submitter) {
            c.turns += 1;
        }
        let Some(committee) = att.committee.as_ref().filter(|c| c.size > 0) else {
            return;
        };
        let clock = self.clock();
        let weight_round = clock.round(
            clock
                .window(Window::DistributionAudit, round, attempt)
                .opens,
        );
        let minimum = self
            .ledger
            .round_record(&self.task, round)
            .map_or(MIN_STAKE_ROE, |r| r.terms.minimum_stake);
        let pool = self
            .ledger
            .eligible_stakers(&self.task, weight_round, minimum);
        let mut by_class: BTreeMap<Strategy, u128> = BTreeMap::new();
        let mut total: u128 = 0;
        for (n, w) in &pool {
            if *n == att.submitter {
                continue;
            }
            let Some(i) = self.index.get(n) else { continue };
            *by_class.entry(self.strategy[*i as usize]).or_default() += u128::from(*w);
            total += u128::from(*w);
        }
        if total == 0 {
            return;
        }
        self.report.list_seats += u64::from(committee.size);
        for (n, seats) in &committee.seats {
            if let Some(c) = self.class(n) {
                c.list_seats += u64::from(*seats);
            }
        }
        let k = f64::from(committee.size);
        // An honest list is rejected iff the seats that vote `Invalid` on every honest list
        // (bad distributors, colluders) exceed K/2: P(X > K/2) at this pool's share.
        let honest_list = self.lists.get(&(round, attempt)).is_some_and(|f| f.honest);
        if honest_list && att.list.is_some() {
            let bloc: u128 = by_class
                .iter()
                .filter(|(s, _)| matches!(s, Strategy::BadDistributor | Strategy::Colluder))
                .map(|(_, w)| *w)
                .sum();
            let kk = u32::from(committee.size);
            self.report.honest_lists_rejected_expected +=
                crate::sweep::binom_tail(kk, bloc as f64 / total as f64, kk / 2 + 1);
        }
        for (s, w) in by_class {
            if let Some(c) = self.report.classes.get_mut(s.name()) {
                c.list_seats_expected += k * w as f64 / total as f64;
            }
        }
    }

    fn strategy_of(&self, node: &Pubkey) -> Option<Strategy> {
        self.index.get(node).map(|i| self.strategy[*i as usize])
    }

    fn honest_slashed(&mut self, node: &Pubkey, amount: u64, why: &str, round: u64) {
        if amount == 0 {
            return;
        }
        if let Some(c) = self.class(node) {
            c.slashed_roe += amount;
        }
        if self.is_honest(node) {
            self.report.honest_slashed_roe += amount;
            self.report.honest_slash_events += 1;
            self.violation(format!(
                "honest node {node} slashed {amount} ROE ({why}, round {round})"
            ));
        }
    }

    fn on_event(&mut self, ev: &LedgerEvent) {
        let task = self.task;

        match ev {
            LedgerEvent::CandidatesRanked {
                round, candidates, ..
            } => {
                if let Some(c) = candidates.first().and_then(|n| self.class(n)) {
                    c.first_ranked += 1;
                }
                let mut f = RoundFact::default();
                let subs = self.ledger.submissions(&task, *round);
                let unvoided = subs.iter().filter(|(_, s)| !s.voided).count() as u64;
                for (node, sub) in &subs {
                    let correct = sub.value == honest_proof(&task, node, *round);
                    let honest = self.is_honest(node);
                    if let Some(c) = self.class(node) {
                        c.proofs_landed += 1;
                        if !correct {
                            c.bad_proofs += 1;
                            if sub.voided {
                                c.bad_voided += 1;
                            }
                        }
                    }
                    if correct {
                        f.correct += 1;
                        if sub.voided {
                            self.report.good_proofs_voided += 1;
                        }
                        if honest {
                            f.honest_correct += 1;
                            if !sub.voided {
                                f.honest_unvoided.push(*node);
                            }
                        }
                    } else {
                        self.report.bad_proofs += 1;
                        if sub.voided {
                            self.report.bad_proofs_voided += 1;
                        }
                    }
                }
                f.honest_fair_roe =
                    f.honest_correct * self.bounty_per_round.checked_div(f.correct).unwrap_or(0);
                f.honest_list_share = self.bounty_per_round.checked_div(unvoided).unwrap_or(0);
                self.facts.insert(*round, f);
            }
            LedgerEvent::AuditResolved {
                round,
                candidate,
                outcome,
                ..
            } => {
                let Some(audit) = self.ledger.audit(&task, *round, candidate).cloned() else {
                    return;
                };
                let correct = self
                    .ledger
                    .submission(&task, *round, candidate)
                    .is_some_and(|s| s.value == honest_proof(&task, candidate, *round));
                self.count_seats(*round, candidate, &audit, correct);
                if let Some(c) = self.class(&audit.accuser) {
                    c.raises += 1;
                }
                let r = &mut self.report;
                r.audits += 1;
                if correct {
                    r.false_accusations += 1;
                    match outcome {
                        AuditOutcome::Refuted { .. } => r.false_refuted += 1,
                        AuditOutcome::Unresolved => r.false_unresolved += 1,
                        AuditOutcome::Upheld { .. } => r.false_upheld += 1,
                    }
                } else {
                    match outcome {
                        AuditOutcome::Upheld { .. } => r.true_upheld += 1,
                        AuditOutcome::Refuted { .. } => r.true_refuted += 1,
                        AuditOutcome::Unresolved => r.true_unresolved += 1,
                    }
                }
                match outcome {
                    AuditOutcome::Upheld { slashed, .. } => {
                        let why = format!("audit upheld: {}", self.vote_summary(&audit));
                        self.honest_slashed(candidate, *slashed, &why, *round)
                    }
                    AuditOutcome::Refuted { slashed, .. } => {
                        self.honest_slashed(&audit.accuser, *slashed, "accusation refuted", *round)
                    }
                    AuditOutcome::Unresolved => {}
                }
            }
            LedgerEvent::PayoutSuccessful { round, attempt, .. } => {
                self.count_turn(*round, *attempt);
                let list = self.ledger.distribution_list(&task, *round, *attempt);
                let fact = self.lists.get(&(*round, *attempt)).cloned();
                self.report.payouts += 1;
                let honest_list = fact.as_ref().is_none_or(|f| f.honest);
                if !honest_list {
                    self.report.bad_lists_paid += 1;
                }
                let mut paid: HashMap<Pubkey, u64> = HashMap::with_capacity(list.len());
                let mut honest_paid = 0;
                for (node, reward) in &list {
                    paid.insert(*node, *reward);
                    if self.is_honest(node) {
                        honest_paid += reward;
                    }
                    if let Some(c) = self.class(node) {
                        c.rewards_roe += reward;
                    }
                }
                let mut shortchanged = 0u64;
                if let Some(f) = self.facts.get_mut(round) {
                    f.honest_paid_roe = honest_paid;
                    f.settled = Some(true);
                    shortchanged = f
                        .honest_unvoided
                        .iter()
                        .filter(|n| paid.get(*n).copied().unwrap_or(0) < f.honest_list_share)
                        .count() as u64;
                }
                if shortchanged > 0 {
                    self.report.honest_shortchanged += shortchanged;
                    self.violation(format!("round {round} attempt {attempt}: {shortchanged} honest nodes paid less than an equal share"));
                }
            }
            LedgerEvent::PayoutFailed {
                round,
                attempt,
                reason,
                slashed,
                ..
            } => {
                self.count_turn(*round, *attempt);
                let fact = self.lists.get(&(*round, *attempt)).cloned();
                let submitter = self
                    .ledger
                    .attempt(&task, *round, *attempt)
                    .map(|a| a.submitter);
                match reason {
                    FailReason::Rejected => {
                        self.report.lists_rejected += 1;
                        match &fact {
                            Some(f) if !f.honest => self.report.bad_lists_rejected += 1,
                            _ => self.report.honest_lists_rejected += 1,
                        }
                    }
                    FailReason::NotSubmitted => {
                        self.report.lists_missing += 1;
                        if let Some(c) = submitter.and_then(|n| self.class(&n)) {
                            c.missed_turns += 1;
                            c.missed_slashed_roe += *slashed;
                        }
                    }
                    FailReason::NoCommittee => self.report.lists_no_committee += 1,
                }
                if let Some(n) = submitter {
                    self.honest_slashed(&n, *slashed, "missed list turn", *round);
                }
            }
            LedgerEvent::RejectionSlashed {
                round,
                submitter,
                slashed,
                ..
            } => {
                self.honest_slashed(submitter, *slashed, "list rejected", *round);
            }
            LedgerEvent::Vindicated {
                round,
                attempt,
                voters_slashed,
                ..
            } => {
                self.report.vindications += 1;
                self.report.vindicated_slashed_roe += *voters_slashed;
                // The `Invalid` voters of the vindicated attempt were each slashed
                // `false_accusation_bps` of their stake: attribute it (from what is left).
                let bps = self
                    .ledger
                    .round_record(&task, *round)
                    .map_or(0, |r| u64::from(r.terms.false_accusation_bps));
                let voters: Vec<Pubkey> = self
                    .ledger
                    .attempt(&task, *round, *attempt)
                    .map(|a| {
                        a.votes
                            .iter()
                            .filter(|(_, v)| *v == Verdict::Invalid)
                            .map(|(n, _)| *n)
                            .collect()
                    })
                    .unwrap_or_default();
                for n in voters {
                    let left = self.ledger.stake(&task, &n).map_or(0, |s| s.amount);
                    let cut = (u128::from(left) * u128::from(bps)
                        / u128::from(BPS.saturating_sub(bps).max(1)))
                        as u64;
                    self.honest_slashed(&n, cut, "voted against a vindicated list", *round);
                }
            }
            LedgerEvent::RoundSettledUnpaid { round, task } => {
                // Did an honest node get a turn to send the list? Then the round should
                // have paid: only a run of bad candidates may leave it unpaid (SPEC §6).
                let attempts = self
                    .ledger
                    .round_record(task, *round)
                    .map_or(0, |r| r.current_attempt.saturating_add(1));
                let honest_turn = (0..attempts).any(|i| {
                    self.ledger
                        .attempt(task, *round, i)
                        .is_some_and(|a| self.is_honest(&a.submitter))
                });
                if let Some(f) = self.facts.get_mut(round) {
                    f.settled = Some(false);
                    f.unpaid_after_honest_turn = honest_turn;
                }
            }
            LedgerEvent::RoundPruned { .. } => {}
        }
    }

    /// Final checks and the report.
    pub fn finish(mut self) -> Report {
        self.ledger.assert_supply_conserved();
        self.report.supply_conserved = true;
        let held = self.ledger.total_held_roe();
        let minted: u128 = self
            .ledger
            .genesis()
            .accounts
            .iter()
            .map(|(_, b)| u128::from(*b))
            .sum();
        // No fees and no faucet in the simulation: what is gone was burned (the remainder of
        // slashes, SPEC §5 [v2]); the ledger's own `burned_roe` accounting was checked above.
        assert!(held <= minted, "ROE appeared from nowhere");
        self.report.burned_roe = (minted - held) as u64;
        let replay_started = Instant::now();
        if self.cfg.replay_enabled() {
            let mut fresh = Ledger::new(self.ledger.genesis().clone());
            fresh.paranoid = false;
            for b in &self.blocks {
                let txs = CheckedTx::check_all(b.txs.clone(), self.cfg.threads);
                let out = fresh
                    .apply_block(b.header.slot, b.header.parent_hash, b.header.seal(), txs)
                    .expect("replay applies");
                assert_eq!(
                    out.block.header, b.header,
                    "replay diverged at slot {}",
                    b.header.slot
                );
            }
            assert_eq!(
                fresh.state_root(),
                self.ledger.state_root(),
                "replayed root differs from the live root"
            );
            self.report.replay_matches = Some(true);
        }
        self.report.time_replay_ms = replay_started.elapsed().as_millis() as u64;
        // Accumulated in microseconds while running.
        for t in [
            &mut self.report.time_nodes_ms,
            &mut self.report.time_sign_ms,
            &mut self.report.time_verify_ms,
            &mut self.report.time_apply_ms,
        ] {
            *t /= 1_000;
        }
        // Rounds of the safety phase, and which settled.
        let settle_by = u64::from(self.cfg.allowed_failed_distributions) + 1;
        let check_settled = self.cfg.liveness_rounds >= settle_by;
        let facts: Vec<(u64, RoundFact)> = self
            .facts
            .iter()
            .filter(|(r, _)| (1..=self.cfg.rounds).contains(*r))
            .map(|(r, f)| (*r, f.clone()))
            .collect();
        // Rounds whose work period started before the manager struck (1..=m, round 0 has
        // no stake yet): each must be paid under its own terms (SPEC §2 *Round terms*).
        if let Some(m) = self.manager_round {
            for r in 1..=m.min(self.cfg.rounds) {
                self.report.rounds_before_update += 1;
                let paid = self.facts.get(&r).is_some_and(|f| f.settled == Some(true));
                if paid {
                    self.report.rounds_before_update_paid += 1;
                } else {
                    self.violation(format!(
                        "round {r} started before the manager's update (round {m}) but was not paid"
                    ));
                }
            }
        }
        for (r, f) in facts {
            match f.settled {
                Some(paid) => {
                    self.report.rounds_settled += 1;
                    if !paid {
                        self.report.rounds_unpaid += 1;
                        if f.unpaid_after_honest_turn {
                            self.report.rounds_unpaid_after_honest_turn += 1;
                        }
                    }
                    self.report.honest_fair_roe += u128::from(f.honest_fair_roe);
                    if paid {
                        self.report.honest_fair_roe_paid_rounds += u128::from(f.honest_fair_roe);
                    }
                    self.report.honest_paid_roe += u128::from(f.honest_paid_roe);
                }
                None if check_settled => self.violation(format!("round {r} never settled")),
                None => {}
            }
        }
        // Net ROE per class: balance + stake + pending rewards, minus what it started with.
        for (i, pk) in self.pubkeys.iter().enumerate() {
            let held = self.ledger.balance(pk)
                + self.ledger.stake(&self.task, pk).map_or(0, |s| s.amount)
                + self.ledger.pending_reward(&self.task, pk);
            let staked = self.ledger.stake(&self.task, pk).map_or(0, |s| s.amount);
            let c = self
                .report
                .classes
                .get_mut(self.strategy[i].name())
                .expect("class");
            c.final_roe += held;
            c.max_stake_roe = c.max_stake_roe.max(staked);
            c.suspect_rounds += self.cores[i].stats().suspect_rounds;
        }
        let honest_nodes = self
            .report
            .classes
            .get(Strategy::Honest.name())
            .map_or(0, |c| c.nodes);
        self.report.honest_stake_roe = u64::from(honest_nodes) * STAKE_ROE;
        self.report.state_root = self.ledger.state_root().to_string();
        self.report.final_slot = self.ledger.slot();
        self.report.wall_ms = self.started.elapsed().as_millis() as u64;
        self.report.lists_made = self.lists.len() as u64;
        self.report.bad_lists_made = self.lists.values().filter(|f| !f.honest).count() as u64;
        self.report.finalize();
        self.report
    }
}

/// What one slot's node stepping needs (shared, read-only).
struct Env<'a> {
    ctx: Ctx<'a>,
    ledger: &'a Ledger,
    pubkeys: &'a [Pubkey],
    offline: &'a [bool],
    copy_pending: &'a BTreeMap<u32, u64>,
    held: &'a BTreeMap<u32, Vec<Held>>,
    grind_pool: Option<&'a GrindPool>,
    head_randomness: Hash,
    grind_tries: u32,
    flood_raises: usize,
    clock: gradual_ledger::Clock,
    at: Slot,
}

impl Env<'_> {
    /// The last slot at which the ledger takes a raise for round `r` (SPEC §5 *Vote window*).
    fn raise_last(&self, r: u64) -> Slot {
        let w = self.clock.window(Window::ProofAudit, r, 0);
        raise_last_slot(w.opens, self.clock.audit_window, SIM_SLOT_MS)
    }
}

/// What stepping a range of nodes produced, in node order.
#[derive(Default)]
struct StepOut {
    sends: Vec<(u32, Instruction)>,
    /// Copier bookkeeping: `Some(round)` waits for a peer proof, `None` is done.
    copy_ops: Vec<(u32, Option<u64>)>,
    /// Late accusers: the node's held checks after this slot (empty = none left).
    held_ops: Vec<(u32, Vec<Held>)>,
    lists: Vec<((u64, u16), ListFact)>,
    grind: Grind,
    grind_raises: u64,
    grind_candidates: u64,
}

/// Step nodes `first..first + cores.len()`: each core looks at the ledger (re-polled while
/// its task answered something, so votes go out in the same slot) and its strategy answers.
/// The node's audit guard (docs/operator-guide.md): an operator who accuses on purpose runs a
/// node without it; everyone else keeps the default.
fn audit_guard(s: Strategy) -> AuditGuard {
    if s.votes_invalid_on_honest() {
        AuditGuard::OFF
    } else {
        AuditGuard::default()
    }
}

fn drive_nodes(env: &Env, first: u32, cores: &mut [NodeCore]) -> StepOut {
    let view = CachedView::new(env.ledger);
    let ctx = &env.ctx;
    let (at, clock, task) = (env.at, env.clock, ctx.task);
    let mut out = StepOut::default();
    for (j, core) in cores.iter_mut().enumerate() {
        let i = first + j as u32;
        if env.offline[i as usize] {
            continue;
        }
        let me = env.pubkeys[i as usize];
        let s = ctx.strategy[i as usize];
        let mut held: Vec<Held> = env.held.get(&i).cloned().unwrap_or_default();
        let held_before = held.len();
        if s == Strategy::LateAccuser {
            late_accuser(env, &view, i, &me, core, &mut held, &mut out);
        }
        if s == Strategy::RaiseFlood {
            raise_flood(env, &view, i, &me, &mut out);
        }
        if let Some(&r) = env.copy_pending.get(&i) {
            if !clock.window(Window::ProofSubmission, r, 0).contains(at) {
                out.copy_ops.push((i, None));
            } else if let Some(v) = copy_proof(ctx, &view, &me, r, at, &clock) {
                core.handle_proof(&task, r, Some(v), at);
                out.copy_ops.push((i, None));
            }
        }
        for _ in 0..PASSES_MAX {
            core.handle_slot(&view);
            let mut answered = false;
            while let Some(action) = core.poll_action() {
                match action {
                    Action::RunTask { .. } => {}
                    Action::MakeProof { task, round } => {
                        match strategy::proof(s, ctx, &me, round) {
                            Some(v) => {
                                core.handle_proof(&task, round, Some(v), at);
                                answered = true;
                            }
                            None => out.copy_ops.push((i, Some(round))),
                        }
                    }
                    Action::CheckProof {
                        task,
                        round,
                        candidate,
                        value,
                    } => {
                        let raised = view.audit(&task, round, &candidate).is_some();
                        if s == Strategy::LateAccuser && !raised && at < env.raise_last(round) {
                            // Hold the verdict back until the raise cutoff.
                            held.push(Held { round, candidate });
                            continue;
                        }
                        let v = match (s, env.grind_pool) {
                            (Strategy::Grinder, Some(pool))
                                if !raised
                                    && ctx.strategy_of(&candidate) != Some(Strategy::Grinder) =>
                            {
                                let (v, g) = strategy::grind_check(
                                    ctx,
                                    &env.head_randomness,
                                    pool,
                                    &me,
                                    &candidate,
                                    round,
                                    env.grind_tries,
                                );
                                out.grind.tries += g.tries;
                                out.grind.distinct += g.distinct;
                                out.grind.predicted_seats += g.predicted_seats;
                                out.grind_candidates += 1;
                                if v == Verdict::Invalid {
                                    out.grind_raises += 1;
                                }
                                v
                            }
                            _ => strategy::check(s, ctx, &candidate, round, &value),
                        };
                        core.handle_check(&task, round, candidate, v);
                        answered = true;
                    }
                    Action::MakeDistribution {
                        task,
                        round,
                        attempt,
                        purpose,
                        submitters,
                        bounty,
                    } => {
                        let list = match purpose {
                            // A list blocker wins its turn and submits nothing.
                            ListPurpose::Submit if s == Strategy::ListBlocker => continue,
                            ListPurpose::Submit => {
                                let (list, honest) =
                                    strategy::submit_list(s, ctx, &me, round, &submitters, bounty);
                                out.lists.push(((round, attempt), ListFact { honest }));
                                list
                            }
                            ListPurpose::Audit => strategy::audit_list(
                                s,
                                ctx,
                                &me,
                                env.ledger,
                                round,
                                attempt,
                                &submitters,
                                bounty,
                            ),
                        };
                        core.handle_list(&task, round, attempt, purpose, list, &view);
                        answered = true;
                    }
                    Action::Send { ix, .. } => out.sends.push((i, ix)),
                    // The guard's alert: nothing to log here; its effect is in the votes.
                    Action::SuspectAudits { .. } => {}
                }
            }
            if !answered {
                break;
            }
        }
        if s == Strategy::LateAccuser && (held_before > 0 || !held.is_empty()) {
            out.held_ops.push((i, held));
        }
    }
    out
}

/// A `late-accuser` at slot `at`: at the raise cutoff it answers every held check
/// `Invalid` (its scheduler then raises in the last slot the ledger allows); in the slot
/// after the cutoff it tries `LATE_TRIES` more raises on peers nobody has raised, which the
/// ledger must refuse (`RaiseTooLate`).
fn late_accuser(
    env: &Env,
    view: &CachedView,
    i: u32,
    me: &Pubkey,
    core: &mut NodeCore,
    held: &mut Vec<Held>,
    out: &mut StepOut,
) {
    let (at, task) = (env.at, env.ctx.task);
    held.retain(|h| {
        if at >= env.raise_last(h.round) {
            core.handle_check(&task, h.round, h.candidate, Verdict::Invalid);
            false
        } else {
            true
        }
    });
    let Some(r) = env.clock.round(at).checked_sub(1) else {
        return;
    };
    let w = env.clock.window(Window::ProofAudit, r, 0);
    if at != env.raise_last(r) + 1 || !w.contains(at) {
        return;
    }
    let subs = view.submitters(&task, r);
    let mut tried = 0;
    for (cand, _) in subs.iter() {
        if tried == LATE_TRIES {
            break;
        }
        if cand == me || view.audit(&task, r, cand).is_some() {
            continue;
        }
        out.sends.push((
            i,
            Instruction::AuditProof {
                task,
                round: r,
                candidate: *cand,
                verdict: Verdict::Invalid,
            },
        ));
        tried += 1;
    }
}

/// A `raise-flood` node at the first slot of an audit window: one raise transaction on each
/// of up to `flood_raises` peers (beyond what its scheduler raises on its sample). The
/// ledger takes `audit_sample` raises per node and round and refuses the rest
/// (`TooManyRaises`).
fn raise_flood(env: &Env, view: &CachedView, i: u32, me: &Pubkey, out: &mut StepOut) {
    let (at, task) = (env.at, env.ctx.task);
    let Some(r) = env.clock.round(at).checked_sub(1) else {
        return;
    };
    if at != env.clock.window(Window::ProofAudit, r, 0).opens {
        return;
    }
    let subs = view.submitters(&task, r);
    let n = subs.len().max(1) as u64;
    let start = coin(env.ctx.seed, &[&me.0, &r.to_le_bytes(), b"flood"], n) as usize;
    let mut sent = 0;
    for k in 0..subs.len() {
        if sent == env.flood_raises {
            break;
        }
        let cand = subs[(start + k) % subs.len()].0;
        if cand == *me || view.audit(&task, r, &cand).is_some() {
            continue;
        }
        out.sends.push((
            i,
            Instruction::AuditProof {
                task,
                round: r,
                candidate: cand,
                verdict: Verdict::Invalid,
            },
        ));
        sent += 1;
    }
}

/// A copier's proof: a landed peer proof of the same round (picked by a coin), or, in the
/// last slot of the submission window with nothing to copy, garbage.
fn copy_proof(
    ctx: &Ctx,
    view: &CachedView,
    me: &Pubkey,
    round: u64,
    at: Slot,
    clock: &gradual_ledger::Clock,
) -> Option<Vec<u8>> {
    let subs = view.submitters(&ctx.task, round);
    let peers: Vec<&Pubkey> = subs.iter().map(|(p, _)| p).filter(|p| *p != me).collect();
    if !peers.is_empty() {
        let k = coin(
            ctx.seed,
            &[&me.0, &round.to_le_bytes(), b"copy"],
            peers.len() as u64,
        ) as usize;
        return view.submission(&ctx.task, round, peers[k]).map(|s| s.value);
    }
    let window = clock.window(Window::ProofSubmission, round, 0);
    (at + 1 >= window.closes).then(|| strategy::garbage_proof(me, round))
}
