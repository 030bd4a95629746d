//! The driver: one process, virtual slots, one PRNG. Each slot every online node's
//! [`NodeCore`] looks at the ledger through one shared [`CachedView`], its strategy answers
//! the core's actions, the instructions are signed (ed25519, in parallel), pass the network
//! fault model, and the validator (the real [`Ledger`]) applies the block.

use crate::config::{SimConfig, Strategy, BPS};
use crate::report::{ClassStats, Report};
use crate::strategy::{self, coin, honest_proof, Ctx};
use gradual_ledger::state::AuditOutcome;
use gradual_ledger::{Block, CheckedTx, Ledger, LedgerEvent, Window};
use gradual_node_proto::{Action, CachedView, LedgerView, ListPurpose, NodeCore, TaskConfig};
use gradual_types::constants::{BLOCK_TXS_MAX, ROE_PER_KOII};
use gradual_types::{
    Genesis, Hash, Instruction, Keypair, Pubkey, Slot, TaskId, TaskParams, Transaction,
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
    /// Honest nodes with a correct, non-voided proof, and the equal share an honest list pays.
    honest_unvoided: Vec<Pubkey>,
    honest_list_share: u64,
}

#[derive(Debug, Clone)]
struct ListFact {
    honest: bool,
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
            accounts,
            ..Genesis::default()
        };
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
        let out = ledger
            .apply_block(1, parent, vec![CheckedTx::check(create)])
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
        Sim {
            offline: vec![false; n as usize],
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
                self.lists.extend(p.lists);
            }
            out
        };
        let t1 = Instant::now();
        let recent = self.ledger.slot();
        let signed = sign_all(&self.keys, out, &self.chain_id, recent, self.cfg.threads);
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
        let take = self.mempool.len().min(BLOCK_TXS_MAX);
        let txs: Vec<Transaction> = self.mempool.drain(..take).collect();
        let n_txs = txs.len() as u64;
        let checked = CheckedTx::check_all(txs, self.cfg.threads);
        let t3 = Instant::now();
        let parent = self.ledger.head_hash();
        let out = self
            .ledger
            .apply_block(at, parent, checked)
            .expect("the simulator builds well-formed blocks");
        let t4 = Instant::now();
        self.report.blocks += 1;
        self.report.txs += n_txs;
        self.report.time_nodes_ms += (t1 - t0).as_micros() as u64;
        self.report.time_sign_ms += (t2 - t1).as_micros() as u64;
        self.report.time_verify_ms += (t3 - t2).as_micros() as u64;
        self.report.time_apply_ms += (t4 - t3).as_micros() as u64;
        for (r, tx) in out.receipts.iter().zip(out.block.txs.iter()) {
            if let Err(e) = &r.result {
                let kind = match e {
                    gradual_ledger::TxError::InBatch { error, .. } => format!("InBatch/{error:?}"),
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
            LedgerEvent::CandidatesRanked { round, .. } => {
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
                        self.honest_slashed(candidate, *slashed, "audit upheld", *round)
                    }
                    AuditOutcome::Refuted { slashed, .. } => {
                        self.honest_slashed(&audit.accuser, *slashed, "accusation refuted", *round)
                    }
                    AuditOutcome::Unresolved => {}
                }
            }
            LedgerEvent::PayoutSuccessful { round, attempt, .. } => {
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
                rejected,
                slashed,
                ..
            } => {
                let fact = self.lists.get(&(*round, *attempt)).cloned();
                if *rejected {
                    self.report.lists_rejected += 1;
                    match &fact {
                        Some(f) if !f.honest => self.report.bad_lists_rejected += 1,
                        _ => self.report.honest_lists_rejected += 1,
                    }
                } else {
                    self.report.lists_missing += 1;
                }
                if let Some(att) = self.ledger.attempt(&task, *round, *attempt).cloned() {
                    self.honest_slashed(&att.submitter, *slashed, "list rejected", *round);
                }
            }
            LedgerEvent::RoundSettledUnpaid { round, .. } => {
                if let Some(f) = self.facts.get_mut(round) {
                    f.settled = Some(false);
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
        assert_eq!(held, minted, "supply changed without fees or mints");
        let replay_started = Instant::now();
        if self.cfg.replay_enabled() {
            let mut fresh = Ledger::new(self.ledger.genesis().clone());
            fresh.paranoid = false;
            for b in &self.blocks {
                let txs = CheckedTx::check_all(b.txs.clone(), self.cfg.threads);
                let out = fresh
                    .apply_block(b.header.slot, b.header.parent_hash, txs)
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
        for (r, f) in facts {
            match f.settled {
                Some(paid) => {
                    self.report.rounds_settled += 1;
                    if !paid {
                        self.report.rounds_unpaid += 1;
                    }
                    self.report.honest_fair_roe += u128::from(f.honest_fair_roe);
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
            let c = self
                .report
                .classes
                .get_mut(self.strategy[i].name())
                .expect("class");
            c.final_roe += held;
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
    clock: gradual_ledger::Clock,
    at: Slot,
}

/// What stepping a range of nodes produced, in node order.
#[derive(Default)]
struct StepOut {
    sends: Vec<(u32, Instruction)>,
    /// Copier bookkeeping: `Some(round)` waits for a peer proof, `None` is done.
    copy_ops: Vec<(u32, Option<u64>)>,
    lists: Vec<((u64, u16), ListFact)>,
}

/// Step nodes `first..first + cores.len()`: each core looks at the ledger (re-polled while
/// its task answered something, so votes go out in the same slot) and its strategy answers.
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
                        let v = strategy::check(s, ctx, &candidate, round, &value);
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
                            ListPurpose::Submit => {
                                let (list, honest) =
                                    strategy::submit_list(s, ctx, &me, round, &submitters, bounty);
                                out.lists.push(((round, attempt), ListFact { honest }));
                                list
                            }
                            ListPurpose::Audit => strategy::audit_list(
                                s,
                                ctx,
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
                }
            }
            if !answered {
                break;
            }
        }
    }
    out
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
