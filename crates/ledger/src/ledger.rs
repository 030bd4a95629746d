//! `Ledger::apply_block`: the pure function from (state, slot, parent, txs) to the next state.
//!
//! ```text
//!   seal (VRF proof) ────┐ 0. producer in the validator set, randomness verified
//!           parent hash ─┤
//!  slot ─────────────────┼─▶ 1. draw committees triggered in the previous block
//!  txs (sig-checked) ────┘   2. end-of-window work due at or before `slot`, in slot order
//!                            3. transactions, each all-or-nothing
//!                            4. state root (lattice hash of every record) and block hash
//!                                  │
//!                                  ▼
//!                  BlockOutput { block, receipts, events, writes }
//! ```
//! No clock, no I/O, no randomness of its own: every random choice derives from the block's
//! VRF randomness, checked against the producer's key before anything runs (SPEC §1).

use crate::block::{
    tx_root, Block, BlockHeader, BlockOutput, BlockSeal, FailReason, LedgerEvent, Receipt,
};
use crate::committee::{rank_candidates, StakePool};
use crate::error::{BlockError, TxError};
use crate::lthash::LtHash;
use crate::state::*;
use crate::table::{StateWrite, Table};
use crate::window::{Clock, Window};
use gradual_types::constants::{
    vote_window_slots, BLOCK_TXS_MAX, BPS_DENOMINATOR, PRUNE_MARGIN_ROUNDS,
};
use gradual_types::{
    Genesis, Hash, Pubkey, Signature, Slot, TaskId, Transaction, ValidatorInfo, ValidatorKey,
    Verdict, VrfInput,
};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A transaction whose signature has been checked. Only [`CheckedTx::check`] and
/// [`CheckedTx::check_all`] make one, so the ledger never trusts a caller's word.
#[derive(Debug, Clone)]
pub struct CheckedTx {
    tx: Transaction,
    sig_ok: bool,
}

impl CheckedTx {
    pub fn check(tx: Transaction) -> CheckedTx {
        let sig_ok = tx.verify();
        CheckedTx { tx, sig_ok }
    }

    /// Check signatures on `threads` threads (signature checks dominate block cost).
    pub fn check_all(txs: Vec<Transaction>, threads: usize) -> Vec<CheckedTx> {
        let threads = threads.max(1);
        if threads == 1 || txs.len() < 64 {
            return txs.into_iter().map(CheckedTx::check).collect();
        }
        // Threads take small batches from a shared counter rather than one fixed share each,
        // so a thread that loses its core for a while (e.g. to a block being applied) does
        // not leave the others idle at the end.
        const BATCH: usize = 32;
        let next = AtomicUsize::new(0);
        let work = || {
            let mut done: Vec<(usize, bool)> = Vec::new();
            loop {
                let lo = next.fetch_add(BATCH, Ordering::Relaxed);
                if lo >= txs.len() {
                    return done;
                }
                let hi = (lo + BATCH).min(txs.len());
                done.extend((lo..hi).map(|i| (i, txs[i].verify())));
            }
        };
        let parts: Vec<Vec<(usize, bool)>> = std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
            let mut parts = vec![work()];
            parts.extend(
                helpers
                    .into_iter()
                    .map(|h| h.join().expect("verifier thread panicked")),
            );
            parts
        });
        let mut oks = vec![false; txs.len()];
        let mut checked = 0;
        for (i, ok) in parts.into_iter().flatten() {
            oks[i] = ok;
            checked += 1;
        }
        assert_eq!(checked, txs.len(), "every signature checked once");
        txs.into_iter()
            .zip(oks)
            .map(|(tx, sig_ok)| CheckedTx { tx, sig_ok })
            .collect()
    }

    pub fn tx(&self) -> &Transaction {
        &self.tx
    }

    pub fn signature_ok(&self) -> bool {
        self.sig_ok
    }
}

impl TxError {
    /// Whether a tx rejected with this error still used up its signature. Envelope failures
    /// that could pass later (a future `recent_slot`) or that prove nothing (a bad signature)
    /// do not; everything else is processed at most once.
    pub fn marks_seen(&self) -> bool {
        !matches!(
            self,
            TxError::BadSignature { .. }
                | TxError::WrongChain { .. }
                | TxError::Expired { .. }
                | TxError::FutureSlot { .. }
                | TxError::Duplicate
        )
    }
}

/// Apply `$op` to every table, in tag order.
macro_rules! each_table {
    ($self:ident, $t:ident => $op:expr) => {{
        {
            let $t = &mut $self.meta;
            $op;
        }
        {
            let $t = &mut $self.accounts;
            $op;
        }
        {
            let $t = &mut $self.tasks;
            $op;
        }
        {
            let $t = &mut $self.stakes;
            $op;
        }
        {
            let $t = &mut $self.rewards;
            $op;
        }
        {
            let $t = &mut $self.submissions;
            $op;
        }
        {
            let $t = &mut $self.audits;
            $op;
        }
        {
            let $t = &mut $self.rounds;
            $op;
        }
        {
            let $t = &mut $self.attempts;
            $op;
        }
        {
            let $t = &mut $self.chunks;
            $op;
        }
        {
            let $t = &mut $self.schedule;
            $op;
        }
        {
            let $t = &mut $self.draws;
            $op;
        }
        {
            let $t = &mut $self.raises;
            $op;
        }
    }};
}

pub struct Ledger {
    pub(crate) genesis: Genesis,
    pub(crate) meta: Table<(), Meta>,
    pub(crate) accounts: Table<Pubkey, u64>,
    pub(crate) tasks: Table<TaskId, TaskRecord>,
    pub(crate) stakes: Table<StakeKey, StakeRecord>,
    pub(crate) rewards: Table<StakeKey, u64>,
    pub(crate) submissions: Table<NodeRoundKey, SubmissionRecord>,
    pub(crate) audits: Table<NodeRoundKey, AuditRecord>,
    pub(crate) rounds: Table<RoundKey, RoundRecord>,
    pub(crate) attempts: Table<AttemptKey, AttemptRecord>,
    pub(crate) chunks: Table<ChunkKey, Vec<(Pubkey, u64)>>,
    pub(crate) schedule: Table<ScheduleKey, ()>,
    pub(crate) draws: Table<Draw, ()>,
    /// Audits each node raised per round of a task (SPEC §5 *Bounded work*).
    pub(crate) raises: Table<NodeRoundKey, u16>,
    pub(crate) lthash: LtHash,
    pub(crate) head_hash: Hash,
    pub(crate) state_root: Hash,
    /// Replay protection, derived from the last `tx_max_age_slots` blocks (not state).
    /// The set is only ever queried for membership, never iterated.
    recent: VecDeque<(Slot, Vec<Signature>)>,
    seen: HashSet<Signature>,
    /// Slot of the block being applied.
    pub(crate) slot: Slot,
    /// Randomness of the block being applied (verified from its seal before anything runs).
    pub(crate) randomness: Hash,
    pub(crate) events: Vec<LedgerEvent>,
    /// Check supply conservation over the whole state after every block (O(state)).
    pub paranoid: bool,
}

impl Ledger {
    /// A ledger at genesis (slot 0, height 0). The genesis must pass [`Genesis::validate`]
    /// (the shells check it and report a readable error first).
    pub fn new(genesis: Genesis) -> Ledger {
        if let Err(e) = genesis.validate() {
            panic!("invalid genesis reached the ledger: {e}");
        }
        let mut l = Ledger::empty(genesis.clone());
        let mut minted: u64 = 0;
        for (acct, amount) in &genesis.accounts {
            minted = minted
                .checked_add(*amount)
                .expect("genesis balances exceed u64 ROE");
            let bal = l.accounts.get(acct).copied().unwrap_or(0);
            l.accounts.insert(*acct, bal + amount);
        }
        l.meta.insert(
            (),
            Meta {
                slot: 0,
                height: 0,
                minted_roe: minted,
                burned_roe: 0,
                randomness: genesis.hash(),
                validators: genesis.validators.clone(),
                next_validators: None,
            },
        );
        let mut writes = Vec::new();
        l.finish_tables(&mut writes);
        l.state_root = l.lthash.checksum();
        l.head_hash = genesis.hash();
        l
    }

    fn empty(genesis: Genesis) -> Ledger {
        Ledger {
            genesis,
            meta: Table::new(tag::META),
            accounts: Table::new(tag::ACCOUNTS),
            tasks: Table::new(tag::TASKS),
            stakes: Table::new(tag::STAKES),
            rewards: Table::new(tag::REWARDS),
            submissions: Table::new(tag::SUBMISSIONS),
            audits: Table::new(tag::AUDITS),
            rounds: Table::new(tag::ROUNDS),
            attempts: Table::new(tag::ATTEMPTS),
            chunks: Table::new(tag::CHUNKS),
            schedule: Table::new(tag::SCHEDULE),
            draws: Table::new(tag::DRAWS),
            raises: Table::new(tag::RAISES),
            lthash: LtHash::default(),
            head_hash: Hash::ZERO,
            state_root: Hash::ZERO,
            recent: VecDeque::new(),
            seen: HashSet::new(),
            slot: 0,
            randomness: Hash::ZERO,
            events: Vec::new(),
            paranoid: cfg!(debug_assertions),
        }
    }

    /// Every record as the store holds it: `(table tag, key, value)`. Used to write a
    /// genesis state and by tests; blocks emit only their changes.
    pub fn records(&self) -> Vec<StateWrite> {
        let mut out = Vec::new();
        fn dump<K: borsh::BorshSerialize, V: borsh::BorshSerialize>(
            tag: u8,
            it: impl Iterator<Item = (K, V)>,
            out: &mut Vec<StateWrite>,
        ) {
            for (k, v) in it {
                out.push(StateWrite {
                    table: tag,
                    key: borsh::to_vec(&k).expect("vec write"),
                    value: Some(borsh::to_vec(&v).expect("vec write")),
                });
            }
        }
        dump(tag::META, self.meta.iter(), &mut out);
        dump(tag::ACCOUNTS, self.accounts.iter(), &mut out);
        dump(tag::TASKS, self.tasks.iter(), &mut out);
        dump(tag::STAKES, self.stakes.iter(), &mut out);
        dump(tag::REWARDS, self.rewards.iter(), &mut out);
        dump(tag::SUBMISSIONS, self.submissions.iter(), &mut out);
        dump(tag::AUDITS, self.audits.iter(), &mut out);
        dump(tag::ROUNDS, self.rounds.iter(), &mut out);
        dump(tag::ATTEMPTS, self.attempts.iter(), &mut out);
        dump(tag::CHUNKS, self.chunks.iter(), &mut out);
        dump(tag::SCHEDULE, self.schedule.iter(), &mut out);
        dump(tag::DRAWS, self.draws.iter(), &mut out);
        dump(tag::RAISES, self.raises.iter(), &mut out);
        out
    }

    /// Rebuild a ledger from stored records (see [`Ledger::records`]) and the hash of the
    /// last block. The state root is recomputed from the records; the caller compares it
    /// with the stored one. Replay protection must then be restored with
    /// [`Ledger::restore_recent`].
    pub fn from_records(
        genesis: Genesis,
        records: impl IntoIterator<Item = (u8, Vec<u8>, Vec<u8>)>,
        head_hash: Hash,
    ) -> Result<Ledger, LoadError> {
        let mut l = Ledger::empty(genesis);
        fn put<K: borsh::BorshDeserialize + Ord + Clone + borsh::BorshSerialize, V>(
            t: &mut Table<K, V>,
            key: &[u8],
            value: &[u8],
        ) -> Result<(), LoadError>
        where
            V: borsh::BorshDeserialize + Clone + PartialEq + borsh::BorshSerialize,
        {
            let k = K::try_from_slice(key).map_err(|e| LoadError::Corrupt {
                table: t.tag,
                reason: e.to_string(),
            })?;
            let v = V::try_from_slice(value).map_err(|e| LoadError::Corrupt {
                table: t.tag,
                reason: e.to_string(),
            })?;
            t.load(k, v);
            Ok(())
        }
        for (tg, key, value) in records {
            match tg {
                tag::META => put(&mut l.meta, &key, &value)?,
                tag::ACCOUNTS => put(&mut l.accounts, &key, &value)?,
                tag::TASKS => put(&mut l.tasks, &key, &value)?,
                tag::STAKES => put(&mut l.stakes, &key, &value)?,
                tag::REWARDS => put(&mut l.rewards, &key, &value)?,
                tag::SUBMISSIONS => put(&mut l.submissions, &key, &value)?,
                tag::AUDITS => put(&mut l.audits, &key, &value)?,
                tag::ROUNDS => put(&mut l.rounds, &key, &value)?,
                tag::ATTEMPTS => put(&mut l.attempts, &key, &value)?,
                tag::CHUNKS => put(&mut l.chunks, &key, &value)?,
                tag::SCHEDULE => put(&mut l.schedule, &key, &value)?,
                tag::DRAWS => put(&mut l.draws, &key, &value)?,
                tag::RAISES => put(&mut l.raises, &key, &value)?,
                other => return Err(LoadError::UnknownTable(other)),
            }
        }
        if l.meta.get(&()).is_none() {
            return Err(LoadError::Corrupt {
                table: tag::META,
                reason: "no meta record".into(),
            });
        }
        l.lthash = l.recompute_lthash();
        l.state_root = l.lthash.checksum();
        l.head_hash = head_hash;
        l.slot = l.meta().slot;
        Ok(l)
    }

    /// Mark the tx ids of a past block as processed (restoring replay protection after a
    /// restart). Pass the blocks of the last `tx_max_age_slots` slots in order, with the ids
    /// whose receipts [`TxError::marks_seen`] (or succeeded).
    pub fn restore_recent(&mut self, slot: Slot, ids: Vec<Signature>) {
        for id in &ids {
            self.seen.insert(*id);
        }
        self.recent.push_back((slot, ids));
    }

    pub(crate) fn recompute_lthash(&self) -> LtHash {
        let mut h = LtHash::default();
        self.meta.hash_all(&mut h);
        self.accounts.hash_all(&mut h);
        self.tasks.hash_all(&mut h);
        self.stakes.hash_all(&mut h);
        self.rewards.hash_all(&mut h);
        self.submissions.hash_all(&mut h);
        self.audits.hash_all(&mut h);
        self.rounds.hash_all(&mut h);
        self.attempts.hash_all(&mut h);
        self.chunks.hash_all(&mut h);
        self.schedule.hash_all(&mut h);
        self.draws.hash_all(&mut h);
        self.raises.hash_all(&mut h);
        h
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    pub(crate) fn meta(&self) -> &Meta {
        self.meta.get(&()).expect("meta record always exists")
    }

    /// Slot of the last applied block (0 at genesis).
    pub fn slot(&self) -> Slot {
        self.meta().slot
    }

    pub fn height(&self) -> u64 {
        self.meta().height
    }

    /// ROE created since genesis (genesis balances and faucet mints).
    pub fn minted_roe(&self) -> u64 {
        self.meta().minted_roe
    }

    /// ROE burned since genesis: fees and the unpaid parts of slashes.
    pub fn burned_roe(&self) -> u64 {
        self.meta().burned_roe
    }

    /// Hash of the last applied block (the genesis hash before the first block).
    pub fn head_hash(&self) -> Hash {
        self.head_hash
    }

    pub fn state_root(&self) -> Hash {
        self.state_root
    }

    /// Randomness of the last applied block (the genesis hash before the first block).
    pub fn head_randomness(&self) -> Hash {
        self.meta().randomness
    }

    /// The validator set in force for a block at `slot`.
    pub fn validators_at(&self, slot: Slot) -> &[ValidatorInfo] {
        let m = self.meta();
        match &m.next_validators {
            Some((from, next)) if *from <= slot => next,
            _ => &m.validators,
        }
    }

    /// The VRF input of a block at `slot` on top of the current head.
    pub fn vrf_input(&self, slot: Slot) -> VrfInput {
        VrfInput {
            chain_id: self.genesis.chain_id.clone(),
            slot,
            parent_randomness: self.head_randomness(),
        }
    }

    /// The seal `key` puts on a block at `slot` on top of the current head.
    pub fn seal(&self, key: &ValidatorKey, slot: Slot) -> BlockSeal {
        let (_, vrf_proof) = key.prove(&self.vrf_input(slot));
        BlockSeal {
            producer: key.id(),
            vrf_proof,
        }
    }

    /// Apply one block. Fails only if the block as a whole is out of place; a bad
    /// transaction is a failed receipt instead.
    pub fn apply_block(
        &mut self,
        slot: Slot,
        parent_hash: Hash,
        seal: BlockSeal,
        txs: Vec<CheckedTx>,
    ) -> Result<BlockOutput, BlockError> {
        let head = self.meta().slot;
        if slot <= head {
            return Err(BlockError::SlotNotAfterHead { slot, head });
        }
        if txs.len() > BLOCK_TXS_MAX {
            return Err(BlockError::TooManyTxs {
                got: txs.len(),
                max: BLOCK_TXS_MAX,
            });
        }
        if parent_hash != self.head_hash {
            return Err(BlockError::WrongParent {
                got: parent_hash,
                expected: self.head_hash,
            });
        }
        // SPEC §1 *Randomness*: the producer must be in the validator set and its VRF proof
        // must hold for (chain_id, slot, parent randomness); that output is the block's
        // only randomness.
        let producer = self
            .validators_at(slot)
            .iter()
            .find(|v| v.id == seal.producer)
            .copied()
            .ok_or(BlockError::UnknownProducer {
                producer: seal.producer,
            })?;
        let randomness = self
            .vrf_input(slot)
            .verify(&producer.vrf_key, &seal.vrf_proof)
            .ok_or(BlockError::BadRandomness {
                producer: seal.producer,
            })?;
        self.slot = slot;
        self.randomness = randomness;
        self.events.clear();
        self.expire_recent(slot);
        {
            let meta = self.meta.get_mut(&()).expect("meta");
            if meta
                .next_validators
                .as_ref()
                .is_some_and(|(from, _)| *from <= slot)
            {
                let (_, next) = meta.next_validators.take().expect("checked");
                meta.validators = next;
            }
            meta.randomness = randomness;
        }

        self.draw_committees();
        self.run_due_events(slot);

        let mut receipts = Vec::with_capacity(txs.len());
        let mut ids = Vec::with_capacity(txs.len());
        for checked in &txs {
            let result = self.apply_tx(checked);
            if result.as_ref().err().is_none_or(TxError::marks_seen) {
                ids.push(checked.tx.signature);
            }
            receipts.push(Receipt {
                tx: checked.tx.signature,
                result,
            });
        }
        self.recent.push_back((slot, ids));

        let meta = self.meta.get_mut(&()).expect("meta");
        meta.slot = slot;
        meta.height += 1;
        let height = meta.height;

        let mut writes = Vec::new();
        self.finish_tables(&mut writes);
        self.state_root = self.lthash.checksum();
        let txs: Vec<Transaction> = txs.into_iter().map(|c| c.tx).collect();
        let header = BlockHeader {
            slot,
            height,
            parent_hash,
            producer: seal.producer,
            randomness,
            vrf_proof: seal.vrf_proof,
            tx_root: tx_root(&txs),
            state_root: self.state_root,
            tx_count: txs.len() as u32,
        };
        self.head_hash = header.hash();
        if self.paranoid {
            self.assert_supply_conserved();
        }
        Ok(BlockOutput {
            block: Block { header, txs },
            receipts,
            events: std::mem::take(&mut self.events),
            writes,
        })
    }

    fn finish_tables(&mut self, writes: &mut Vec<StateWrite>) {
        let mut h = std::mem::take(&mut self.lthash);
        each_table!(self, t => t.finish_block(&mut h, writes));
        self.lthash = h;
    }

    fn expire_recent(&mut self, slot: Slot) {
        let max_age = self.genesis.tx_max_age_slots;
        while let Some((s, _)) = self.recent.front() {
            if s.saturating_add(max_age) >= slot {
                break;
            }
            let (_, ids) = self.recent.pop_front().expect("front exists");
            for id in ids {
                self.seen.remove(&id);
            }
        }
    }

    fn apply_tx(&mut self, checked: &CheckedTx) -> Result<(), TxError> {
        let tx = &checked.tx;
        let m = &tx.message;
        if !checked.sig_ok {
            return Err(TxError::BadSignature { signer: m.signer });
        }
        if m.chain_id != self.genesis.chain_id {
            return Err(TxError::WrongChain {
                got: m.chain_id.clone(),
                expected: self.genesis.chain_id.clone(),
            });
        }
        if m.recent_slot > self.slot {
            return Err(TxError::FutureSlot {
                recent_slot: m.recent_slot,
                slot: self.slot,
            });
        }
        let max_age = self.genesis.tx_max_age_slots;
        if m.recent_slot.saturating_add(max_age) < self.slot {
            return Err(TxError::Expired {
                recent_slot: m.recent_slot,
                slot: self.slot,
                max_age,
            });
        }
        if self.seen.contains(&tx.signature) {
            return Err(TxError::Duplicate);
        }
        self.seen.insert(tx.signature);
        // Limits were checked at decode; a block built in-process may skip decode.
        tx.check_limits()
            .map_err(|e| TxError::Limits(e.to_string()))?;
        if m.fee < self.genesis.fee_roe {
            return Err(TxError::FeeTooLow {
                offered: m.fee,
                required: self.genesis.fee_roe,
            });
        }
        each_table!(self, t => t.begin_tx());
        let result = self
            .charge_fee(&m.signer)
            .and_then(|()| self.execute(&m.signer, &m.instruction));
        match result {
            Ok(()) => each_table!(self, t => t.commit_tx()),
            Err(_) => each_table!(self, t => t.rollback_tx()),
        }
        result
    }

    fn charge_fee(&mut self, signer: &Pubkey) -> Result<(), TxError> {
        let fee = self.genesis.fee_roe;
        if fee == 0 {
            return Ok(());
        }
        self.debit(signer, fee)?;
        let meta = self.meta.get_mut(&()).expect("meta");
        meta.burned_roe += fee;
        Ok(())
    }

    pub(crate) fn debit(&mut self, account: &Pubkey, amount: u64) -> Result<(), TxError> {
        let available = self.accounts.get(account).copied().unwrap_or(0);
        if available < amount {
            return Err(TxError::InsufficientFunds {
                account: *account,
                needed: amount,
                available,
            });
        }
        let left = available - amount;
        if left == 0 {
            self.accounts.remove(account);
        } else {
            self.accounts.insert(*account, left);
        }
        Ok(())
    }

    pub(crate) fn credit(&mut self, account: &Pubkey, amount: u64) -> Result<(), TxError> {
        if amount == 0 {
            return Ok(());
        }
        let bal = self.accounts.get(account).copied().unwrap_or(0);
        let new = bal.checked_add(amount).ok_or(TxError::Overflow)?;
        self.accounts.insert(*account, new);
        Ok(())
    }

    /// Credit claimable rewards (SPEC §7). Cannot overflow: supply fits in u64.
    pub(crate) fn add_reward(&mut self, task: &TaskId, node: &Pubkey, amount: u64) {
        if amount == 0 {
            return;
        }
        let key = (*task, *node);
        let cur = self.rewards.get(&key).copied().unwrap_or(0);
        self.rewards.insert(
            key,
            cur.checked_add(amount)
                .expect("rewards exceed total supply"),
        );
    }

    pub(crate) fn task_clock(&self, task: &TaskRecord) -> Clock {
        Clock::new(task.starting_slot, &task.params)
    }

    // ----- committees ---------------------------------------------------------------------

    /// Nodes eligible for seats in a draw whose weights are taken at the start of `round`
    /// (SPEC §5 *Committee weights*): staked at least `minimum` by then, no unstake
    /// requested before it; weight = stake at that round's start.
    pub fn eligible_stakers(&self, task: &TaskId, round: u64, minimum: u64) -> Vec<(Pubkey, u64)> {
        self.stakes
            .range((*task, Pubkey([0; 32]))..=(*task, Pubkey([0xff; 32])))
            .filter_map(|((_, n), s)| s.eligible_weight(round, minimum).map(|w| (*n, w)))
            .collect()
    }

    /// Draw the committees of audits raised and lists submitted in the previous block; each
    /// seed was fixed by the randomness of the block that holds its trigger (SPEC §5–6).
    fn draw_committees(&mut self) {
        let draws: Vec<Draw> = self.draws.iter().map(|(d, _)| *d).collect();
        // Pools per (task, weight round, minimum): built once per block.
        let mut pools: BTreeMap<(TaskId, u64, u64), StakePool> = BTreeMap::new();
        for d in draws {
            self.draws.remove(&d);
            let (task_id, round) = match d {
                Draw::Audit { task, round, .. } | Draw::Distribution { task, round, .. } => {
                    (task, round)
                }
            };
            let (Some(task), Some(rec)) =
                (self.tasks.get(&task_id), self.rounds.get(&(task_id, round)))
            else {
                continue;
            };
            let terms = rec.terms.clone();
            let clock = self.task_clock(task);
            // Weights at the start of the round in which the voting window lies. A committee
            // is drawn only while it can still vote: an audit's before its window closes; a
            // list's with at least V slots left (SPEC §6 [v2]: acceptance needs a committee
            // that had time to vote; the validator may have been down since the submission).
            let v = vote_window_slots(self.genesis.slot_ms, task.params.audit_window);
            let (weight_round, exclude, seed) = match d {
                Draw::Audit { candidate, .. } => {
                    let Some(audit) = self.audits.get(&(task_id, round, candidate)) else {
                        continue;
                    };
                    let w = clock.window(Window::ProofAudit, round, 0);
                    if self.slot >= w.closes {
                        continue;
                    }
                    (
                        clock.round(w.opens),
                        vec![candidate, audit.accuser],
                        audit.seed,
                    )
                }
                Draw::Distribution { attempt, .. } => {
                    let Some(att) = self.attempts.get(&(task_id, round, attempt)) else {
                        continue;
                    };
                    let Some(list) = &att.list else {
                        continue;
                    };
                    let w = clock.window(Window::DistributionAudit, round, attempt);
                    if self.slot.saturating_add(v) > w.closes {
                        continue;
                    }
                    (clock.round(w.opens), vec![att.submitter], list.seed)
                }
            };
            let pool = pools
                .entry((task_id, weight_round, terms.minimum_stake))
                .or_insert_with(|| {
                    StakePool::new(&self.eligible_stakers(
                        &task_id,
                        weight_round,
                        terms.minimum_stake,
                    ))
                });
            let seats = pool.draw(&seed, terms.committee_size, &exclude);
            let committee = committee_of(seed, terms.committee_size, seats);
            match d {
                Draw::Audit { candidate, .. } => {
                    let key = (task_id, round, candidate);
                    self.audits.get_mut(&key).expect("exists").committee = Some(committee);
                }
                Draw::Distribution { attempt, .. } => {
                    let key = (task_id, round, attempt);
                    self.attempts.get_mut(&key).expect("exists").committee = Some(committee);
                }
            }
        }
    }

    // ----- end-of-window work -----------------------------------------------------------------

    fn run_due_events(&mut self, slot: Slot) {
        while let Some(&(due, task, event)) = self.schedule.first_key() {
            if due > slot {
                break;
            }
            self.schedule.remove(&(due, task, event));
            match event {
                Event::ApplyUpdate => self.apply_update(&task, due),
                Event::ProofAuditClose { round } => self.close_proof_audit(&task, round),
                Event::DistributionClose { round, attempt } => {
                    self.close_distribution(&task, round, attempt)
                }
                Event::Prune { round } => self.prune(&task, round),
            }
        }
    }

    pub(crate) fn schedule_at(&mut self, slot: Slot, task: TaskId, event: Event) {
        self.schedule.insert((slot, task, event), ());
    }

    /// Pending parameters take effect at `start(r)`, before round r's terms are fixed.
    fn apply_update(&mut self, task_id: &TaskId, due: Slot) {
        let Some(t) = self.tasks.get(task_id) else {
            return;
        };
        let round = self.task_clock(t).round(due);
        let t = self.tasks.get_mut(task_id).expect("checked");
        if let Some(p) = t.pending_params.take() {
            t.params = p;
        }
        let current = self.slot_round(task_id);
        record_terms(
            self.tasks.get_mut(task_id).expect("checked"),
            round,
            current,
        );
    }

    /// Round of the block being applied, on a task's clock.
    pub(crate) fn slot_round(&self, task_id: &TaskId) -> u64 {
        self.tasks
            .get(task_id)
            .map_or(0, |t| self.task_clock(t).round(self.slot))
    }

    /// Proof audit window of `round` closed: verdicts (SPEC §5), then rank candidates (§6).
    fn close_proof_audit(&mut self, task_id: &TaskId, round: u64) {
        let lo = (*task_id, round, Pubkey([0; 32]));
        let hi = (*task_id, round, Pubkey([0xff; 32]));
        let audit_keys: Vec<NodeRoundKey> = self.audits.range(lo..=hi).map(|(k, _)| *k).collect();
        for key in audit_keys {
            self.resolve_audit(key);
        }
        let (Some(task), Some(rec)) =
            (self.tasks.get(task_id), self.rounds.get(&(*task_id, round)))
        else {
            return;
        };
        let terms = rec.terms.clone();
        let attempts = usize::from(terms.allowed_failed_distributions) + 1;
        let clock = self.task_clock(task);
        // Ranking weights: stakes at the start of the round of the audit window just closed.
        let weight_round = clock.round(clock.window(Window::ProofAudit, round, 0).opens);
        // "Also submitted" means a proof that stood: a voided proof earns no preference.
        let submitted = |l: &Ledger, r: u64, n: &Pubkey| {
            l.submissions
                .get(&(*task_id, r, *n))
                .is_some_and(|s| !s.voided)
        };
        let candidates: Vec<(Pubkey, u8, u64)> = self
            .submissions
            .range(lo..=hi)
            .filter(|(_, s)| !s.voided)
            .map(|((_, _, n), _)| {
                let steady = (round < 1 || submitted(self, round - 1, n))
                    && (round < 2 || submitted(self, round - 2, n));
                let weight = self
                    .stakes
                    .get(&(*task_id, *n))
                    .map_or(0, |s| s.amount_at_start(weight_round));
                (*n, if steady { 0 } else { 1 }, weight)
            })
            .collect();
        // seed_r: the randomness of this block, the first after the window closed.
        let seed = self.randomness;
        let ranked = rank_candidates(&seed, &candidates, attempts);
        self.events.push(LedgerEvent::CandidatesRanked {
            task: *task_id,
            round,
            candidates: ranked.clone(),
        });
        let rk = (*task_id, round);
        let rec = self.rounds.get_mut(&rk).expect("checked");
        rec.seed = Some(seed);
        rec.candidates = ranked.clone();
        if ranked.is_empty() {
            rec.status = RoundStatus::NoCandidates;
            self.settle_round(task_id, round);
            return;
        }
        rec.status = RoundStatus::Distributing;
        rec.current_attempt = 0;
        self.open_attempt(task_id, round, 0, ranked[0], &clock);
    }

    fn open_attempt(
        &mut self,
        task_id: &TaskId,
        round: u64,
        attempt: u16,
        submitter: Pubkey,
        clock: &Clock,
    ) {
        self.attempts.insert(
            (*task_id, round, attempt),
            AttemptRecord {
                submitter,
                upload: UploadProgress::default(),
                list: None,
                committee: None,
                votes: Vec::new(),
                outcome: None,
            },
        );
        let close = clock
            .window(Window::DistributionAudit, round, attempt)
            .closes;
        self.schedule_at(close, *task_id, Event::DistributionClose { round, attempt });
    }

    /// A round is settled: apply the slashes that waited for it (SPEC §6 *Vindication*),
    /// release the nodes it locked, schedule its pruning.
    fn settle_round(&mut self, task_id: &TaskId, round: u64) {
        self.settle_rejections(task_id, round);
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        task.open_rounds -= 1;
        let keep = u64::from(task.params.allowed_failed_distributions) + PRUNE_MARGIN_ROUNDS + 1;
        let clock = Clock::new(task.starting_slot, &task.params);
        let at = clock.start(round.saturating_add(keep)).max(self.slot + 1);
        self.schedule_at(at, *task_id, Event::Prune { round });
        if !matches!(
            self.rounds.get(&(*task_id, round)).map(|r| &r.status),
            Some(RoundStatus::Paid { .. })
        ) {
            self.events.push(LedgerEvent::RoundSettledUnpaid {
                task: *task_id,
                round,
            });
        }
    }

    /// Rejected attempts of a settling round: vindicated when a later attempt was accepted
    /// by a `Valid` majority with the same digest (their `Invalid` voters are slashed
    /// instead), otherwise their submitter is slashed now. Then unlock every submitter and
    /// voter of the round's attempts.
    fn settle_rejections(&mut self, task_id: &TaskId, round: u64) {
        let Some(rec) = self.rounds.get(&(*task_id, round)) else {
            return;
        };
        let terms = rec.terms.clone();
        let attempts: Vec<(u16, AttemptRecord)> = self
            .attempts
            .range((*task_id, round, 0)..=(*task_id, round, u16::MAX))
            .map(|((_, _, a), r)| (*a, r.clone()))
            .collect();
        // The digest of a list accepted by more than K/2 `Valid` seats, if any.
        let proven: Option<Hash> = attempts.iter().find_map(|(_, a)| {
            let list = a.list.as_ref()?;
            let (t, k) = tally(&a.committee, &a.votes);
            (matches!(a.outcome, Some(AttemptOutcome::PayoutSuccessful { .. }))
                && k > 0
                && 2 * u64::from(t.valid) > u64::from(k))
            .then_some(list.digest)
        });
        for (attempt, a) in &attempts {
            if !matches!(a.outcome, Some(AttemptOutcome::FailedRejected { .. })) {
                continue;
            }
            let digest = a.list.as_ref().map(|l| l.digest);
            let outcome = if digest.is_some() && digest == proven {
                let right = seats_voting(&a.committee, &a.votes, Verdict::Valid);
                let mut voters_slashed = 0;
                for (wrong, _) in seats_voting(&a.committee, &a.votes, Verdict::Invalid) {
                    let (slashed, _, _) = self.slash(
                        task_id,
                        &wrong,
                        terms.false_accusation_bps,
                        None,
                        &right,
                        terms.voter_bps,
                    );
                    voters_slashed += slashed;
                }
                self.events.push(LedgerEvent::Vindicated {
                    task: *task_id,
                    round,
                    attempt: *attempt,
                    voters_slashed,
                });
                AttemptOutcome::FailedRejected {
                    slashed: None,
                    vindicated: true,
                }
            } else {
                let voters = seats_voting(&a.committee, &a.votes, Verdict::Invalid);
                let first_invalid = a
                    .votes
                    .iter()
                    .find(|(_, v)| *v == Verdict::Invalid)
                    .map(|(n, _)| (*n, terms.accuser_bps));
                let (slashed, _, _) = self.slash(
                    task_id,
                    &a.submitter,
                    terms.slash_bps,
                    first_invalid,
                    &voters,
                    terms.voter_bps,
                );
                self.events.push(LedgerEvent::RejectionSlashed {
                    task: *task_id,
                    round,
                    attempt: *attempt,
                    submitter: a.submitter,
                    slashed,
                });
                AttemptOutcome::FailedRejected {
                    slashed: Some(slashed),
                    vindicated: false,
                }
            };
            self.attempts
                .get_mut(&(*task_id, round, *attempt))
                .expect("listed")
                .outcome = Some(outcome);
        }
        for (_, a) in &attempts {
            if a.list.is_some() {
                self.unlock(task_id, &a.submitter);
            }
            for (voter, _) in &a.votes {
                self.unlock(task_id, voter);
            }
        }
    }

    /// Hold a node's stake until a round it took part in as list submitter or voter settles.
    pub(crate) fn lock(&mut self, task_id: &TaskId, node: &Pubkey) {
        if let Some(s) = self.stakes.get_mut(&(*task_id, *node)) {
            s.settlement_locks = s.settlement_locks.saturating_add(1);
        }
    }

    fn unlock(&mut self, task_id: &TaskId, node: &Pubkey) {
        if let Some(s) = self.stakes.get_mut(&(*task_id, *node)) {
            s.settlement_locks = s.settlement_locks.saturating_sub(1);
        }
    }

    fn resolve_audit(&mut self, key: NodeRoundKey) {
        let (task_id, round, candidate) = key;
        let audit = self.audits.get(&key).expect("listed").clone();
        let (tally, k) = tally(&audit.committee, &audit.votes);
        let Some(rec) = self.rounds.get(&(task_id, round)) else {
            return;
        };
        let p = rec.terms.clone();
        let outcome = if 2 * u64::from(tally.invalid) > u64::from(k) && k > 0 {
            if let Some(sub) = self.submissions.get_mut(&key) {
                sub.voided = true;
            }
            let voters = seats_voting(&audit.committee, &audit.votes, Verdict::Invalid);
            let (slashed, acc, vot) = self.slash(
                &task_id,
                &candidate,
                p.slash_bps,
                Some((audit.accuser, p.accuser_bps)),
                &voters,
                p.voter_bps,
            );
            AuditOutcome::Upheld {
                slashed,
                accuser_reward: acc,
                voter_rewards: vot,
            }
        } else if 2 * u64::from(tally.valid) > u64::from(k) && k > 0 {
            let voters = seats_voting(&audit.committee, &audit.votes, Verdict::Valid);
            let (slashed, _, vot) = self.slash(
                &task_id,
                &audit.accuser,
                p.false_accusation_bps,
                None,
                &voters,
                p.voter_bps,
            );
            AuditOutcome::Refuted {
                slashed,
                voter_rewards: vot,
            }
        } else {
            AuditOutcome::Unresolved
        };
        self.audits.get_mut(&key).expect("listed").outcome = Some(outcome.clone());
        self.events.push(LedgerEvent::AuditResolved {
            task: task_id,
            round,
            candidate,
            outcome,
        });
    }

    /// Slash `bps` of `offender`'s stake; pay the accuser share and the voters' share (split
    /// per seat, floor); the remainder is **burned** (SPEC §5 [v2]: returning it to the
    /// bounty would let a manager profit from slashing its own nodes). Returns
    /// `(slashed, accuser reward, voter rewards)`.
    pub(crate) fn slash(
        &mut self,
        task_id: &TaskId,
        offender: &Pubkey,
        bps: u16,
        accuser: Option<(Pubkey, u16)>,
        voters: &[(Pubkey, u16)],
        voter_bps: u16,
    ) -> (u64, u64, u64) {
        let current = self.slot_round(task_id);
        let Some(stake) = self.stakes.get_mut(&(*task_id, *offender)) else {
            return (0, 0, 0);
        };
        let slashed = bps_of(stake.amount, bps);
        if slashed == 0 {
            return (0, 0, 0);
        }
        stake.note_change(current);
        stake.amount -= slashed;
        let acc = accuser.map(|(_, abps)| bps_of(slashed, abps)).unwrap_or(0);
        if let Some((who, _)) = accuser {
            self.add_reward(task_id, &who, acc);
        }
        let pool = bps_of(slashed, voter_bps);
        let seats: u64 = voters.iter().map(|(_, s)| u64::from(*s)).sum();
        let mut paid = 0;
        if let Some(per_seat) = pool.checked_div(seats) {
            for (v, s) in voters {
                let r = per_seat * u64::from(*s);
                self.add_reward(task_id, v, r);
                paid += r;
            }
        }
        self.burn(slashed - acc - paid);
        (slashed, acc, paid)
    }

    pub(crate) fn burn(&mut self, amount: u64) {
        let meta = self.meta.get_mut(&()).expect("meta");
        meta.burned_roe = meta
            .burned_roe
            .checked_add(amount)
            .expect("burned ROE exceeds what was minted");
    }

    /// Distribution audit window of `attempt` closed: pay or fail (SPEC §6).
    fn close_distribution(&mut self, task_id: &TaskId, round: u64, attempt: u16) {
        let akey = (*task_id, round, attempt);
        let Some(att) = self.attempts.get(&akey).cloned() else {
            return;
        };
        let (Some(task), Some(rec)) =
            (self.tasks.get(task_id), self.rounds.get(&(*task_id, round)))
        else {
            return;
        };
        let p = rec.terms.clone();
        let clock = self.task_clock(task);
        let outcome = match &att.list {
            // Skipping a turn is not free (SPEC §6 [v2]): it could block a vindication.
            None => {
                let (slashed, _, _) =
                    self.slash(task_id, &att.submitter, p.missed_list_bps, None, &[], 0);
                AttemptOutcome::FailedNotSubmitted { slashed }
            }
            Some(list) => {
                let t = self.tasks.get_mut(task_id).expect("task");
                t.reserved_bounty -= list.total_roe;
                let (tally, k) = tally(&att.committee, &att.votes);
                if att.committee.is_none() {
                    // No committee had time to vote: acceptance by nobody proves nothing.
                    AttemptOutcome::FailedNoCommittee
                } else if 2 * u64::from(tally.invalid) > u64::from(k) && k > 0 {
                    AttemptOutcome::FailedRejected {
                        slashed: None,
                        vindicated: false,
                    }
                } else {
                    self.pay_out(task_id, round, attempt, list.total_roe);
                    AttemptOutcome::PayoutSuccessful {
                        total_roe: list.total_roe,
                    }
                }
            }
        };
        self.attempts.get_mut(&akey).expect("attempt").outcome = Some(outcome.clone());
        let rk = (*task_id, round);
        let (reason, slashed) = match outcome {
            AttemptOutcome::PayoutSuccessful { total_roe } => {
                let entries = att.list.as_ref().map(|l| l.count).unwrap_or(0);
                self.events.push(LedgerEvent::PayoutSuccessful {
                    task: *task_id,
                    round,
                    attempt,
                    total_roe,
                    entries,
                });
                self.rounds.get_mut(&rk).expect("round").status =
                    RoundStatus::Paid { attempt, total_roe };
                self.settle_round(task_id, round);
                return;
            }
            AttemptOutcome::FailedNotSubmitted { slashed } => (FailReason::NotSubmitted, slashed),
            AttemptOutcome::FailedNoCommittee => (FailReason::NoCommittee, 0),
            AttemptOutcome::FailedRejected { .. } => (FailReason::Rejected, 0),
        };
        self.events.push(LedgerEvent::PayoutFailed {
            task: *task_id,
            round,
            attempt,
            reason,
            slashed,
        });
        let rec = self.rounds.get(&rk).expect("round");
        let next = attempt + 1;
        if let Some(&who) = rec.candidates.get(usize::from(next)) {
            self.rounds.get_mut(&rk).expect("round").current_attempt = next;
            self.open_attempt(task_id, round, next, who, &clock);
        } else {
            self.rounds.get_mut(&rk).expect("round").status = RoundStatus::Failed;
            self.settle_round(task_id, round);
        }
    }

    fn pay_out(&mut self, task_id: &TaskId, round: u64, attempt: u16, total: u64) {
        let lo = (*task_id, round, attempt, 0u32);
        let hi = (*task_id, round, attempt, u32::MAX);
        let entries: Vec<(Pubkey, u64)> = self
            .chunks
            .range(lo..=hi)
            .flat_map(|(_, e)| e.iter().copied())
            .collect();
        let mut sum = 0u64;
        for (node, reward) in entries {
            self.add_reward(task_id, &node, reward);
            sum += reward;
        }
        assert_eq!(
            sum, total,
            "paid list differs from the list checked at submission"
        );
        let t = self.tasks.get_mut(task_id).expect("task");
        t.total_bounty -= total;
        // A running total over the task's life; it may outgrow any one moment's supply.
        t.paid_total_roe = t.paid_total_roe.saturating_add(total);
    }

    fn prune(&mut self, task_id: &TaskId, round: u64) {
        let lo = (*task_id, round, Pubkey([0; 32]));
        let hi = (*task_id, round, Pubkey([0xff; 32]));
        let subs: Vec<_> = self.submissions.range(lo..=hi).map(|(k, _)| *k).collect();
        for k in subs {
            self.submissions.remove(&k);
        }
        let audits: Vec<_> = self.audits.range(lo..=hi).map(|(k, _)| *k).collect();
        for k in audits {
            self.audits.remove(&k);
        }
        let raises: Vec<_> = self.raises.range(lo..=hi).map(|(k, _)| *k).collect();
        for k in raises {
            self.raises.remove(&k);
        }
        let atts: Vec<_> = self
            .attempts
            .range((*task_id, round, 0)..=(*task_id, round, u16::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in atts {
            self.attempts.remove(&k);
        }
        let chunks: Vec<_> = self
            .chunks
            .range((*task_id, round, 0, 0)..=(*task_id, round, u16::MAX, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in chunks {
            self.chunks.remove(&k);
        }
        self.rounds.remove(&(*task_id, round));
        self.events.push(LedgerEvent::RoundPruned {
            task: *task_id,
            round,
        });
    }

    // ----- invariants ------------------------------------------------------------------------

    /// Sum of every ROE held anywhere: balances, stakes, bounties, pending rewards.
    pub fn total_held_roe(&self) -> u128 {
        let balances: u128 = self.accounts.iter().map(|(_, b)| u128::from(*b)).sum();
        let stakes: u128 = self.stakes.iter().map(|(_, s)| u128::from(s.amount)).sum();
        let bounties: u128 = self
            .tasks
            .iter()
            .map(|(_, t)| u128::from(t.total_bounty))
            .sum();
        let rewards: u128 = self.rewards.iter().map(|(_, r)| u128::from(*r)).sum();
        balances + stakes + bounties + rewards
    }

    /// SPEC §1: supply changes only by fees burned and faucet mints.
    pub fn assert_supply_conserved(&self) {
        let m = self.meta();
        let expected = u128::from(m.minted_roe) - u128::from(m.burned_roe);
        assert_eq!(
            self.total_held_roe(),
            expected,
            "supply not conserved at slot {}",
            m.slot
        );
        for (id, t) in self.tasks.iter() {
            assert!(
                t.reserved_bounty <= t.total_bounty,
                "task {id} reserves more than its bounty"
            );
        }
    }
}

/// Record the terms in force from the start of `from_round` on (SPEC §2 *Round terms*),
/// keeping only what rounds that can still receive proofs (`current − 1` on) need.
pub(crate) fn record_terms(t: &mut TaskRecord, from_round: u64, current_round: u64) {
    let terms = RoundTerms::of(&t.params, t.is_active);
    match t.terms_log.last_mut() {
        Some((from, last)) if *from == from_round => *last = terms,
        _ => t.terms_log.push((from_round, terms)),
    }
    // Drop entries superseded before the oldest round that may still need its terms.
    let oldest_needed = current_round.saturating_sub(1);
    while t.terms_log.len() > 1 && t.terms_log[1].0 <= oldest_needed {
        t.terms_log.remove(0);
    }
}

/// Why stored records could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("record of unknown table {0}")]
    UnknownTable(u8),
    #[error("record of table {table} does not decode: {reason}")]
    Corrupt { table: u8, reason: String },
}

pub(crate) fn bps_of(amount: u64, bps: u16) -> u64 {
    (u128::from(amount) * u128::from(bps) / u128::from(BPS_DENOMINATOR)) as u64
}

fn committee_of(seed: Hash, size: u16, seats: Vec<(Pubkey, u16)>) -> Committee {
    let drawn = if seats.is_empty() { 0 } else { size };
    Committee {
        seed,
        size: drawn,
        seats,
    }
}

/// Seats voting each way, and the committee size `K` (0 if no committee).
pub fn tally(committee: &Option<Committee>, votes: &[(Pubkey, Verdict)]) -> (Tally, u16) {
    let Some(c) = committee else {
        return (Tally::default(), 0);
    };
    let mut t = Tally::default();
    for (node, v) in votes {
        let s = u32::from(c.seats_of(node));
        match v {
            Verdict::Valid => t.valid += s,
            Verdict::Invalid => t.invalid += s,
            Verdict::Abstain => t.abstain += s,
        }
    }
    (t, c.size)
}

fn seats_voting(
    committee: &Option<Committee>,
    votes: &[(Pubkey, Verdict)],
    want: Verdict,
) -> Vec<(Pubkey, u16)> {
    let Some(c) = committee else {
        return Vec::new();
    };
    votes
        .iter()
        .filter(|(_, v)| *v == want)
        .map(|(n, _)| (*n, c.seats_of(n)))
        .filter(|(_, s)| *s > 0)
        .collect()
}
