//! The driver: one process, virtual slots, one PRNG. Each slot every online node's
//! [`NodeCore`] looks at the ledger through one shared [`gradual_node_proto::CachedView`], its
//! strategy answers the core's actions (`nodes.rs`, through the shared driver loop), the
//! instructions are signed (ed25519, in parallel, `keys.rs`), pass the network fault model,
//! and the validator (the real [`Ledger`]) applies the block; `events.rs` learns from its
//! events and makes the report.

mod events;
mod keys;
mod nodes;

use self::keys::{make_keys, sign_all};
use self::nodes::{audit_guard, drive_nodes, Env, StepOut};
use crate::config::{SimConfig, Strategy, BPS};
use crate::report::Report;
use crate::strategy::{Ctx, GrindPool};
use gradual_ledger::{Block, CheckedTx, Ledger, LedgerEvent, StakePool};
use gradual_node_proto::{NodeCore, TaskConfig};
use gradual_types::constants::{BLOCK_BYTES_MAX, ROE_PER_KOII};
use gradual_types::{
    Genesis, Hash, Instruction, Keypair, Pubkey, Slot, TaskId, TaskParams, Transaction,
    ValidatorKey,
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
/// Re-poll a node in the same slot while it answered something, so votes go out at once
/// (`gradual_node_proto::driver::step`'s `passes`).
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
}
