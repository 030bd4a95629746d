//! `Ledger::apply_block`: the pure function from (state, slot, parent, txs) to the next state.
//!
//! ```text
//!   seal (VRF proof) ────┐ 0. producer in the validator set, randomness verified;
//!           parent hash ─┤    at most block_max_txs transactions, block_max_bytes bytes
//!  slot ─────────────────┼─▶ 1. the settlement queue: committee draws and end-of-window
//!  txs (sig-checked) ────┘      work due at or before `slot`, one step per task in turn
//!                               (round-robin), within the block's budget (the rest waits)
//!                            2. transactions: the fee (kept even if the instruction fails),
//!                               then the instruction, all-or-nothing (a batch's votes: each
//!                               on its own)
//!                            3. state root (lattice hash of every record) and block hash
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
use crate::table::{encoded_len, AnyTable, StateWrite, Table};
use crate::window::{Clock, Window};
use borsh::BorshSerialize;
use gradual_types::constants::{
    vote_window_slots, AUDITS_PER_STEP, BPS_DENOMINATOR, COMMITTEE_SIZE_MAX, DRAW_SHARE_BYTES,
    DRAW_SHARE_RECORDS, PROMOTIONS_PER_BLOCK, PROMOTIONS_WITH_DRAWS, PRUNE_BYTES_PER_STEP,
    PRUNE_MARGIN_ROUNDS, PRUNE_RECORDS_PER_STEP, SETTLEMENT_BYTES_PER_BLOCK,
    SETTLEMENT_RECORDS_PER_BLOCK,
};
use gradual_types::{
    Genesis, Hash, Pubkey, Signature, Slot, TaskId, Transaction, ValidatorInfo, ValidatorKey,
    Verdict, VrfInput,
};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;
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
                | TxError::CannotPayFee { .. }
        )
    }
}

impl TxError {
    /// Whether the transaction's changes stand although it reports an error: a batch of
    /// votes of which some were counted (SPEC §1 [v2]: each vote succeeds or fails alone),
    /// and a list submission with the wrong digest, which seals the upload with the digest
    /// it computed (so the list is never hashed twice).
    pub fn keeps_changes(&self) -> bool {
        matches!(self, TxError::VotesRefused { applied, .. } if *applied > 0)
            || matches!(self, TxError::DigestMismatch { .. })
    }
}

/// Apply `$op` to every table, in tag order.
/// The ledger's state tables, declared once (issue #11): this list makes the `Ledger` struct
/// (with the other fields given after it), `Ledger::empty`, and `Ledger::tables{,_mut}`, which
/// every walk over the tables goes through (transactions, block end, records, loading, the
/// lattice hash, counts). Adding a table is a line here and its tag in `state::tag`.
macro_rules! ledger_tables {
    (
        tables { $( $(#[$tdoc:meta])* $t:ident : $k:ty => $v:ty = $tag:expr, )* }
        empty($g:ident) { $( $(#[$fdoc:meta])* $fvis:vis $f:ident : $fty:ty = $init:expr, )* }
    ) => {
        pub struct Ledger {
            $( $(#[$tdoc])* pub(crate) $t: Table<$k, $v>, )*
            $( $(#[$fdoc])* $fvis $f: $fty, )*
        }

        /// Number of state tables.
        const TABLES: usize = [$(stringify!($t)),*].len();

        impl Ledger {
            fn empty($g: Genesis) -> Ledger {
                Ledger {
                    $( $t: Table::new($tag), )*
                    $( $f: $init, )*
                }
            }

            /// Every state table, in declaration order.
            pub(crate) fn tables(&self) -> [&dyn AnyTable; TABLES] {
                [$( &self.$t as &dyn AnyTable ),*]
            }

            pub(crate) fn tables_mut(&mut self) -> [&mut dyn AnyTable; TABLES] {
                [$( &mut self.$t as &mut dyn AnyTable ),*]
            }
        }
    };
}

ledger_tables! {
    tables {
        meta: () => Meta = tag::META,
        accounts: Pubkey => u64 = tag::ACCOUNTS,
        tasks: TaskId => TaskRecord = tag::TASKS,
        stakes: StakeKey => StakeRecord = tag::STAKES,
        rewards: StakeKey => u64 = tag::REWARDS,
        submissions: NodeRoundKey => SubmissionRecord = tag::SUBMISSIONS,
        audits: NodeRoundKey => AuditRecord = tag::AUDITS,
        rounds: RoundKey => RoundRecord = tag::ROUNDS,
        attempts: AttemptKey => AttemptRecord = tag::ATTEMPTS,
        chunks: ChunkKey => Vec<(Pubkey, u64)> = tag::CHUNKS,
        /// Committee draws and end-of-window work (SPEC §1 [v2] *Bounded settlement*): the
        /// timer holds work until it is due, then it waits in `ready`, by lane and task.
        queue: QueueKey => () = tag::QUEUE,
        ready: ReadyKey => () = tag::READY,
        /// Audits each node raised per round of a task (SPEC §5 *Bounded work*).
        raises: NodeRoundKey => u16 = tag::RAISES,
        /// Faucet windows per recipient, and `(expiry slot, recipient)` to prune them by.
        faucet_windows: Pubkey => FaucetWindow = tag::FAUCET_WINDOWS,
        faucet_expiry: (Slot, Pubkey) => () = tag::FAUCET_EXPIRY,
    }
    empty(genesis) {
        pub(crate) genesis: Genesis = genesis,
        pub(crate) lthash: LtHash = LtHash::default(),
        pub(crate) head_hash: Hash = Hash::ZERO,
        pub(crate) state_root: Hash = Hash::ZERO,
        /// Replay protection, derived from the last `tx_max_age_slots` blocks (not state).
        /// The set is only ever queried for membership, never iterated.
        recent: VecDeque<(Slot, Vec<Signature>)> = VecDeque::new(),
        seen: HashSet<Signature> = HashSet::new(),
        /// Slot of the block being applied.
        pub(crate) slot: Slot = 0,
        /// Randomness of the block being applied (verified from its seal before anything
        /// runs).
        pub(crate) randomness: Hash = Hash::ZERO,
        pub(crate) events: Vec<LedgerEvent> = Vec::new(),
        /// Stake pools of committee draws per (task, weight round, minimum stake), kept while
        /// their round lasts (not state: always equal to a fresh scan, see [`Ledger::draw`]).
        pools: BTreeMap<(TaskId, u64, u64), StakePool> = BTreeMap::new(),
        /// Stake pools built (scans of a task's stakes) since this ledger was made; a
        /// measurement, not state.
        pub(crate) pool_builds: u64 = 0,
        /// Check supply conservation over the whole state after every block (O(state)).
        pub paranoid: bool = cfg!(debug_assertions),
    }
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
                queue_cursor: None,
                draw_cursor: None,
                faucet_minted_roe: 0,
            },
        );
        let mut writes = Vec::new();
        l.finish_tables(&mut writes);
        l.state_root = l.lthash.checksum();
        l.head_hash = genesis.hash();
        l
    }

    /// Every record as the store holds it: `(table tag, key, value)`. Used to write a
    /// genesis state and by tests; blocks emit only their changes.
    pub fn records(&self) -> Vec<StateWrite> {
        let mut out = Vec::new();
        for t in self.tables() {
            t.dump(&mut out);
        }
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
        for (tg, key, value) in records {
            let table = l
                .tables_mut()
                .into_iter()
                .find(|t| t.tag() == tg)
                .ok_or(LoadError::UnknownTable(tg))?;
            table
                .load_encoded(&key, &value)
                .map_err(|reason| LoadError::Corrupt { table: tg, reason })?;
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
        for t in self.tables() {
            t.hash_all(&mut h);
        }
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
        // SPEC §1 [v2]: a block is bounded by count and by bytes.
        let max_txs = self.genesis.block_txs_limit();
        if txs.len() > max_txs {
            return Err(BlockError::TooManyTxs {
                got: txs.len(),
                max: max_txs,
            });
        }
        let max_bytes = self.genesis.block_bytes_limit();
        let bytes = txs
            .iter()
            .map(|c| crate::table::encoded_len(&c.tx))
            .fold(0u64, u64::saturating_add);
        if bytes > max_bytes {
            return Err(BlockError::TooManyBytes {
                got: bytes,
                max: max_bytes,
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

        self.run_queue(slot);

        let mut receipts = Vec::with_capacity(txs.len());
        let mut ids = Vec::with_capacity(txs.len());
        for checked in &txs {
            let mut fee_charged = 0;
            let result = self.apply_tx(checked, &mut fee_charged);
            if result.as_ref().err().is_none_or(TxError::marks_seen) {
                ids.push(checked.tx.signature);
            }
            receipts.push(Receipt {
                tx: checked.tx.signature,
                result,
                fee_charged,
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
        for t in self.tables_mut() {
            t.finish_block(&mut h, writes);
        }
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

    /// Apply one transaction; `fee_charged` receives the ROE it burned as its fee (receipts
    /// carry it, so clients never re-derive the fee rule).
    fn apply_tx(&mut self, checked: &CheckedTx, fee_charged: &mut u64) -> Result<(), TxError> {
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
        // SPEC §1 [v2]: block space is never free. The envelope is valid, so the fee is
        // charged (and burned) before the instruction runs and stays charged if the
        // instruction is rejected; a signer that cannot pay it is refused with no change.
        match self.charge_fee(&m.signer, &m.instruction) {
            Ok(charged) => *fee_charged = charged,
            Err(e) => {
                // Nothing happened: the same transaction may pass once the signer is funded.
                self.seen.remove(&tx.signature);
                return Err(e);
            }
        }
        for t in self.tables_mut() {
            t.begin_tx();
        }
        let result = self.execute(&m.signer, &m.instruction);
        match &result {
            Ok(()) => self.tables_mut().into_iter().for_each(|t| t.commit_tx()),
            Err(e) if e.keeps_changes() => {
                self.tables_mut().into_iter().for_each(|t| t.commit_tx())
            }
            Err(_) => self.tables_mut().into_iter().for_each(|t| t.rollback_tx()),
        }
        // A faucet mint pays its fee out of what it mints, and only when it mints.
        if result.is_ok() && self.genesis.fee_paid_by_mint(&m.signer, &m.instruction) {
            *fee_charged = self.genesis.fee_roe;
        }
        result
    }

    /// A point inside the open transaction to roll back to: one vote of a batch stands or
    /// falls on its own (SPEC §1 [v2]).
    pub(crate) fn savepoint(&mut self) -> Vec<usize> {
        self.tables().iter().map(|t| t.savepoint()).collect()
    }

    /// Undo what happened since `points` ([`Ledger::savepoint`]); the transaction stays open.
    pub(crate) fn rollback_to(&mut self, points: &[usize]) {
        let mut it = points.iter();
        for t in self.tables_mut() {
            t.rollback_to(*it.next().expect("a point per table"));
        }
    }

    fn charge_fee(
        &mut self,
        signer: &Pubkey,
        ix: &gradual_types::Instruction,
    ) -> Result<u64, TxError> {
        let fee = self.genesis.fee_roe;
        // The faucet authority holds nothing: its mint pays the fee (exec.rs `faucet_mint`).
        if fee == 0 || self.genesis.fee_paid_by_mint(signer, ix) {
            return Ok(0);
        }
        let available = self.balance(signer);
        if available < fee {
            return Err(TxError::CannotPayFee {
                account: *signer,
                fee,
                available,
            });
        }
        self.debit(signer, fee).expect("balance checked");
        self.burn(fee);
        Ok(fee)
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

    // ----- the settlement queue (SPEC §1 [v2] *Bounded settlement*) ---------------------------

    /// Queue `work` of `task`, due at `slot`: in the timer while it is not due, else at once
    /// among its task's ready work.
    pub(crate) fn schedule_at(&mut self, slot: Slot, task: TaskId, work: Work) {
        let queued = self.is_queued(slot, &task, &work);
        if let Some(seats) = self.draw_seats(&task, &work).filter(|_| !queued) {
            if let Some(t) = self.tasks.get_mut(&task) {
                t.queued_draws = t.queued_draws.saturating_add(1);
                t.queued_draw_seats = t.queued_draw_seats.saturating_add(seats);
            }
        }
        if slot > self.slot {
            self.queue.insert((slot, task, work), ());
        } else {
            self.ready.insert((work.lane(), task, slot, work), ());
        }
    }

    fn is_queued(&self, slot: Slot, task: &TaskId, work: &Work) -> bool {
        self.queue.contains(&(slot, *task, *work))
            || self.ready.contains(&(work.lane(), *task, slot, *work))
    }

    /// The seats a queued committee draw will fill (its round's `committee_size`); `None`
    /// for other work. The same before and after the draw waits: round terms are fixed.
    fn draw_seats(&self, task: &TaskId, work: &Work) -> Option<u64> {
        let round = match *work {
            Work::DrawAudit { round, .. } | Work::DrawDistribution { round, .. } => round,
            _ => return None,
        };
        let k = self
            .rounds
            .get(&(*task, round))
            .map_or(0, |r| u64::from(r.terms.committee_size));
        Some(k)
    }

    /// The slot by which one more committee draw of `task` with `seats` seats, queued now,
    /// is drawn when no other task is drawing: the draw turn gives draws their share of
    /// every block whatever else is due ([`Ledger::run_queue`]), and the task's queued draws
    /// come in order, each priced exactly as [`Ledger::step_cost`] prices it (SPEC §5
    /// *Bounded work*). Only the task's own backlog counts, so no task can get another's raises
    /// refused; while other tasks draw too they share the turn and a draw may come later
    /// than this. Deterministic.
    pub(crate) fn next_draw_slot(&self, task: &TaskId, seats: u64) -> Slot {
        let (queued, queued_seats) = self
            .tasks
            .get(task)
            .map_or((0, 0), |t| (t.queued_draws, t.queued_draw_seats));
        let cost = draws_cost(queued.saturating_add(1), queued_seats.saturating_add(seats));
        // The draw turn's share of every block, whatever else is due, less what it may leave
        // unused: it stops at the first draw that does not fit, at most one draw's cost.
        let share = draw_turn_share();
        let waste = draws_cost(1, u64::from(COMMITTEE_SIZE_MAX));
        let usable = Cost::new(share.records - waste.records, share.bytes - waste.bytes);
        let blocks = cost
            .records
            .div_ceil(usable.records)
            .max(cost.bytes.div_ceil(usable.bytes))
            .max(1);
        self.slot.saturating_add(blocks)
    }

    /// Run the block's share of the settlement queue (SPEC §1 [v2] *Bounded settlement*):
    /// move the work that came due from the timer to the ready queue (at most
    /// [`PROMOTIONS_PER_BLOCK`], [`PROMOTIONS_WITH_DRAWS`] while draws wait, earliest
    /// first); then the *draw turn* serves committee
    /// draws round-robin across tasks, up to [`DRAW_SHARE_RECORDS`] and
    /// [`DRAW_SHARE_BYTES`] (committees have `V` slots to vote: no number of closing tasks
    /// can take that share); then the *task turn* serves the tasks with other ready work
    /// round-robin, one step each (window closes first, then bulk work), while the budget
    /// lasts. What does not fit waits for the next block, which goes on where the turns
    /// stopped. Each step's cost is bounded before it runs ([`Ledger::step_cost`]), and
    /// promotions, the draw share and the largest step fit in one budget (asserted in
    /// `constants`): every block runs at least one task step, so nothing stalls, and no
    /// block exceeds the budget.
    fn run_queue(&mut self, slot: Slot) {
        let mut budget = Budget::full();
        // No draw is scheduled while the queue runs (only transactions schedule them), so
        // whether the draw turn has work is known now.
        let draws_waiting = self.next_in_lane(Lane::Draw, None).is_some();
        let promotions = if draws_waiting {
            PROMOTIONS_WITH_DRAWS
        } else {
            PROMOTIONS_PER_BLOCK
        };
        self.promote_due(slot, promotions, &mut budget);
        let start = (self.meta().queue_cursor, self.meta().draw_cursor);
        let (mut tasks, mut draws) = start;
        self.draw_turn(&mut budget, &mut draws);
        self.task_turn(&mut budget, &mut tasks);
        if (tasks, draws) != start {
            let meta = self.meta.get_mut(&()).expect("meta");
            meta.queue_cursor = tasks;
            meta.draw_cursor = draws;
        }
    }

    /// Committee draws, one per drawing task in turn, within the draw share.
    fn draw_turn(&mut self, budget: &mut Budget, cursor: &mut Option<TaskId>) {
        let mut share = Budget {
            left: draw_turn_share(),
        };
        while let Some(key) = self.next_in_lane(Lane::Draw, *cursor) {
            let cost = self.step_cost(&key.1, &key.3);
            if !share.fits(cost) || !budget.fits(cost) {
                break;
            }
            share.take(cost);
            *cursor = Some(key.1);
            self.run_step(key, cost, budget);
        }
    }

    /// Every task with ready work other than draws in turn, one step each, while the budget
    /// lasts. Its first step always fits (see [`Ledger::run_queue`]).
    fn task_turn(&mut self, budget: &mut Budget, cursor: &mut Option<TaskId>) {
        while let Some(key) = self.next_task_work(*cursor) {
            let cost = self.step_cost(&key.1, &key.3);
            if !budget.fits(cost) {
                break;
            }
            *cursor = Some(key.1);
            self.run_step(key, cost, budget);
        }
    }

    fn run_step(&mut self, key: ReadyKey, cost: Cost, budget: &mut Budget) {
        let (_, task, due, work) = key;
        budget.take(cost);
        self.ready.remove(&key);
        if let Some(seats) = self.draw_seats(&task, &work) {
            if let Some(t) = self.tasks.get_mut(&task) {
                t.queued_draws = t.queued_draws.saturating_sub(1);
                t.queued_draw_seats = t.queued_draw_seats.saturating_sub(seats);
            }
        }
        self.run_work(due, task, work, budget);
    }

    /// Move timer entries due at or before `slot` to the ready queue, in due order, at most
    /// `max` of them.
    fn promote_due(&mut self, slot: Slot, max: u64, budget: &mut Budget) {
        for _ in 0..max {
            let Some(&(due, task, work)) = self.queue.first_key() else {
                break;
            };
            if due > slot {
                break;
            }
            self.queue.remove(&(due, task, work));
            self.ready.insert((work.lane(), task, due, work), ());
            budget.take(PROMOTION_COST);
        }
    }

    /// The first ready work in `lane` of the first task after `after` (or of any task).
    fn first_in_lane(&self, lane: Lane, after: Option<TaskId>) -> Option<ReadyKey> {
        let lo = match after {
            // Every key of task `t` in `lane` is below this (`ApplyUpdate` is the largest work).
            Some(t) => Bound::Excluded((lane, t, Slot::MAX, Work::ApplyUpdate)),
            None => Bound::Included((lane, Hash([0; 32]), 0, WORK_MIN)),
        };
        let hi = Bound::Included((lane, Hash([0xff; 32]), Slot::MAX, Work::ApplyUpdate));
        self.ready.range((lo, hi)).next().map(|(k, _)| *k)
    }

    /// Round-robin within a lane: the first work of the next task after `cursor` that has
    /// work in `lane`, wrapping to the first.
    fn next_in_lane(&self, lane: Lane, cursor: Option<TaskId>) -> Option<ReadyKey> {
        self.first_in_lane(lane, cursor)
            .or_else(|| cursor.and_then(|_| self.first_in_lane(lane, None)))
    }

    /// Round-robin across tasks: the next task after `cursor` with ready work in a lane of
    /// the task turn (wrapping), and its first work by lane. Draws have their own turn.
    fn next_task_work(&self, cursor: Option<TaskId>) -> Option<ReadyKey> {
        let next_task = |after: Option<TaskId>| {
            TASK_TURN_LANES
                .iter()
                .filter_map(|l| self.first_in_lane(*l, after).map(|k| k.1))
                .min()
        };
        let task = next_task(cursor).or_else(|| cursor.and_then(|_| next_task(None)))?;
        TASK_TURN_LANES.iter().find_map(|l| {
            let lo = (*l, task, 0, WORK_MIN);
            let hi = (*l, task, Slot::MAX, Work::ApplyUpdate);
            self.ready.range(lo..=hi).next().map(|(k, _)| *k)
        })
    }

    fn run_work(&mut self, due: Slot, task: TaskId, work: Work, budget: &mut Budget) {
        match work {
            Work::DrawAudit { round, candidate } => self.draw_audit(&task, round, candidate),
            Work::DrawDistribution { round, attempt } => {
                self.draw_distribution(&task, round, attempt)
            }
            Work::DistributionClose { round, attempt } => {
                self.close_distribution(due, &task, round, attempt)
            }
            Work::Payout {
                round,
                attempt,
                next_chunk,
            } => self.pay_chunk(due, &task, round, attempt, next_chunk),
            Work::ProofAuditClose { round, after } => {
                self.close_proof_audit(due, &task, round, after)
            }
            Work::Settle {
                round,
                next_attempt,
            } => self.settle_step(due, &task, round, next_attempt),
            Work::Prune { round } => {
                // Pruning takes what the budget has left, up to its step maximum: its cost
                // paid for its first record (and the round record); the rest is charged as
                // it is used.
                let first = self.first_prune_bytes(&task, round);
                let extra = Cost::new(
                    (PRUNE_RECORDS_PER_STEP - 1).min(budget.left.records),
                    PRUNE_BYTES_PER_STEP
                        .saturating_sub(first)
                        .min(budget.left.bytes),
                );
                let allowance = Cost::new(1 + extra.records, first + extra.bytes);
                let used = self.prune(due, &task, round, allowance);
                budget.take(Cost::new(
                    used.records.saturating_sub(1),
                    used.bytes.saturating_sub(first),
                ));
            }
            Work::ApplyUpdate => self.apply_update(&task, due),
        }
    }

    /// An upper bound of the records and bytes (keys and values, encoded) one step of `work`
    /// writes, computed before it runs from the records it will touch. The step's own queue
    /// entry (removed, perhaps re-queued with its progress) and what it queues next are in.
    fn step_cost(&self, task_id: &TaskId, work: &Work) -> Cost {
        let k = |round: u64| {
            self.rounds
                .get(&(*task_id, round))
                .map_or(0, |r| u64::from(r.terms.committee_size))
        };
        let task = self.tasks.get(task_id).map_or(0, encoded_len);
        let round_rec = |round: u64| self.rounds.get(&(*task_id, round)).map_or(0, encoded_len);
        let attempt_rec = |round: u64, attempt: u16| {
            self.attempts
                .get(&(*task_id, round, attempt))
                .map_or(0, encoded_len)
        };
        let base = Cost::new(QUEUE_RECORDS_PER_STEP, QUEUE_BYTES_PER_STEP);
        let step = match *work {
            // Priced by the committee size alone, so the raise door can price its backlog
            // ([`Ledger::next_draw_slot`]).
            Work::DrawAudit { round, .. } => return draws_cost(1, k(round)),
            // A list collects no votes before its draw (only an audit's racing raisers do).
            Work::DrawDistribution { round, .. } => {
                let audit_price = draws_cost(1, k(round));
                return Cost::new(
                    audit_price.records,
                    audit_price.bytes - VOTE_BYTES * k(round),
                );
            }
            // The attempt, task and round records, a missed-turn slash (a stake), the next
            // attempt.
            Work::DistributionClose { round, attempt } => Cost::new(
                5,
                2 * attempt_rec(round, attempt) + task + round_rec(round) + SMALL_RECORD_BYTES,
            ),
            // One reward per entry of the chunk, the task, round and attempt records.
            Work::Payout {
                round,
                attempt,
                next_chunk,
            } => {
                let entries = self
                    .chunks
                    .get(&(*task_id, round, attempt, next_chunk))
                    .map_or(0, |c| c.len() as u64);
                Cost::new(
                    entries + 3,
                    entries * REWARD_RECORD_BYTES
                        + task
                        + round_rec(round)
                        + attempt_rec(round, attempt),
                )
            }
            // Per audit: the audit, the submission, the slashed stake, the accuser's and each
            // seat's reward. Then the ranking: the round record and the first attempt.
            Work::ProofAuditClose { round, after } => {
                let lo = match after {
                    Some(p) => Bound::Excluded((*task_id, round, p)),
                    None => Bound::Included((*task_id, round, LO)),
                };
                let hi = Bound::Included((*task_id, round, HI));
                let mut c = Cost::new(2, 2 * round_rec(round) + SMALL_RECORD_BYTES);
                for (_, a) in self.audits.range((lo, hi)).take(AUDITS_PER_STEP as usize) {
                    let seats = k(round) + 3;
                    c = c.plus(Cost::new(
                        seats + 1,
                        encoded_len(a) + seats * SMALL_RECORD_BYTES,
                    ));
                }
                c
            }
            // One attempt: its submitter's or its wrong voters' stakes, the rewards of the
            // seats paid, the unlocked stakes (at most every seat twice), the attempt; the
            // last step the task record and the prune.
            Work::Settle {
                round,
                next_attempt,
            } => {
                let seats = 2 * k(round) + 3;
                Cost::new(
                    seats + 2,
                    seats * SMALL_RECORD_BYTES + attempt_rec(round, next_attempt) + task,
                )
            }
            // One record of any size and the round record; what else the step prunes is
            // charged as it goes (`run_work`).
            Work::Prune { round } => {
                Cost::new(2, self.first_prune_bytes(task_id, round) + round_rec(round))
            }
            Work::ApplyUpdate => Cost::new(1, 2 * task),
        };
        // Keys: every record written carries its key too.
        base.plus(Cost::new(
            step.records,
            step.bytes + step.records * KEY_BYTES_MAX,
        ))
    }

    // ----- committees -----------------------------------------------------------------------

    /// Nodes eligible for seats in a draw whose weights are taken at the start of `round`
    /// (SPEC §5 *Committee weights*): staked at least `minimum` by then, no unstake
    /// requested before it; weight = stake at that round's start.
    pub fn eligible_stakers(&self, task: &TaskId, round: u64, minimum: u64) -> Vec<(Pubkey, u64)> {
        self.stakes
            .range((*task, LO)..=(*task, HI))
            .filter_map(|((_, n), s)| s.eligible_weight(round, minimum).map(|w| (*n, w)))
            .collect()
    }

    /// Draw `terms.committee_size` seats from the task's pool weighted at the start of
    /// `weight_round`, minus `exclude` (SPEC §5: O(K log stakers) per draw).
    ///
    /// The pool (prefix sums over the eligible stakes, [`StakePool`]) is built once per task
    /// and round and kept across blocks: draws happen only while their voting window is open,
    /// so their weights are those at the start of the *current* round, and those cannot
    /// change during the round (a change records the amount at the round's start first; a
    /// stake created in the round weighs 0; an unstake counts from the next round; only a
    /// node unstaked before the round, which is not eligible, can withdraw). The kept pool
    /// is therefore exactly what a fresh scan gives, so it is a function of the state, and a
    /// restarted ledger rebuilds the same one; `paranoid` checks this on every draw.
    fn draw(
        &mut self,
        task_id: &TaskId,
        weight_round: u64,
        terms: &RoundTerms,
        seed: Hash,
        exclude: &[Pubkey],
    ) -> Committee {
        let scan = |l: &Ledger| {
            StakePool::new(&l.eligible_stakers(task_id, weight_round, terms.minimum_stake))
        };
        let current = self.slot_round(task_id);
        let seats = if weight_round == current {
            let key = (*task_id, weight_round, terms.minimum_stake);
            if !self.pools.contains_key(&key) {
                // Pools of past rounds are dead; the bound keeps memory in check.
                self.pools
                    .retain(|(t, r, _), _| t != task_id || *r >= current);
                if self.pools.len() >= POOLS_KEPT_MAX {
                    self.pools.clear();
                }
                let pool = scan(self);
                self.pools.insert(key, pool);
                self.pool_builds += 1;
            }
            if self.paranoid {
                assert!(
                    self.pools[&key] == scan(self),
                    "kept stake pool of task {task_id} round {weight_round} differs from the stakes"
                );
            }
            self.pools[&key].draw(&seed, terms.committee_size, exclude)
        } else {
            self.pool_builds += 1;
            scan(self).draw(&seed, terms.committee_size, exclude)
        };
        committee_of(seed, terms.committee_size, seats)
    }

    /// Draw the committee of the audit raised against `candidate` (SPEC §5). Only while it
    /// can still vote: before the audit window closes.
    fn draw_audit(&mut self, task_id: &TaskId, round: u64, candidate: Pubkey) {
        let key = (*task_id, round, candidate);
        let (Some(task), Some(rec), Some(audit)) = (
            self.tasks.get(task_id),
            self.rounds.get(&(*task_id, round)),
            self.audits.get(&key),
        ) else {
            return;
        };
        let clock = self.task_clock(task);
        let w = clock.window(Window::ProofAudit, round, 0);
        if self.slot >= w.closes {
            return;
        }
        let terms = rec.terms.clone();
        let (seed, accuser) = (audit.seed, audit.accuser);
        let committee = self.draw(
            task_id,
            clock.round(w.opens),
            &terms,
            seed,
            &[candidate, accuser],
        );
        let audit = self.audits.get_mut(&key).expect("checked");
        // Raises that lost a race to the accuser were kept as votes; they count for seats.
        audit.votes.retain(|(n, _)| committee.seats_of(n) > 0);
        audit.committee = Some(committee);
    }

    /// Draw the committee of a submitted list (SPEC §6): only with at least V slots of its
    /// audit window left (acceptance needs a committee that had time to vote; the validator
    /// may have been down since the submission, or the queue backed up).
    fn draw_distribution(&mut self, task_id: &TaskId, round: u64, attempt: u16) {
        let key = (*task_id, round, attempt);
        let (Some(task), Some(rec), Some(att)) = (
            self.tasks.get(task_id),
            self.rounds.get(&(*task_id, round)),
            self.attempts.get(&key),
        ) else {
            return;
        };
        let Some(list) = &att.list else {
            return;
        };
        let clock = self.task_clock(task);
        let v = vote_window_slots(self.genesis.slot_ms, task.params.audit_window);
        let w = clock.window(Window::DistributionAudit, round, attempt);
        if self.slot.saturating_add(v) > w.closes {
            return;
        }
        let terms = rec.terms.clone();
        let (seed, submitter) = (list.seed, att.submitter);
        let committee = self.draw(task_id, clock.round(w.opens), &terms, seed, &[submitter]);
        self.attempts.get_mut(&key).expect("checked").committee = Some(committee);
    }

    // ----- end-of-window work -----------------------------------------------------------------

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

    /// Proof audit window of `round` closed: verdicts (SPEC §5), a few audits per step, then
    /// rank candidates (§6) in the last step.
    fn close_proof_audit(
        &mut self,
        due: Slot,
        task_id: &TaskId,
        round: u64,
        after: Option<Pubkey>,
    ) {
        let from = match after {
            Some(p) => Bound::Excluded((*task_id, round, p)),
            None => Bound::Included((*task_id, round, LO)),
        };
        let to = Bound::Included((*task_id, round, HI));
        let step = AUDITS_PER_STEP as usize;
        let audit_keys: Vec<NodeRoundKey> = self
            .audits
            .range((from, to))
            .take(step + 1)
            .map(|(k, _)| *k)
            .collect();
        for key in audit_keys.iter().take(step) {
            self.resolve_audit(*key);
        }
        if audit_keys.len() > step {
            let after = Some(audit_keys[step - 1].2);
            self.schedule_at(due, *task_id, Work::ProofAuditClose { round, after });
            return;
        }
        let lo = (*task_id, round, LO);
        let hi = (*task_id, round, HI);
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
            self.settle_round(due, task_id, round);
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
        self.schedule_at(close, *task_id, Work::DistributionClose { round, attempt });
    }

    /// A round is settled (paid in full, failed, or without candidates): queue the slashes
    /// that waited for it (SPEC §6 *Vindication*), the release of the nodes it locked and its
    /// pruning, one attempt per step.
    fn settle_round(&mut self, due: Slot, task_id: &TaskId, round: u64) {
        self.schedule_at(
            due,
            *task_id,
            Work::Settle {
                round,
                next_attempt: 0,
            },
        );
    }

    /// One step of a round's settlement: attempt `attempt`'s delayed verdict and unlocks;
    /// after the last attempt, the round leaves the task's open rounds and its pruning is
    /// scheduled.
    fn settle_step(&mut self, due: Slot, task_id: &TaskId, round: u64, attempt: u16) {
        if self.attempts.contains(&(*task_id, round, attempt)) {
            self.settle_attempt(task_id, round, attempt);
            if let Some(next_attempt) = attempt.checked_add(1) {
                self.schedule_at(
                    due,
                    *task_id,
                    Work::Settle {
                        round,
                        next_attempt,
                    },
                );
                return;
            }
        }
        let Some(task) = self.tasks.get_mut(task_id) else {
            return;
        };
        task.open_rounds -= 1;
        let keep = u64::from(task.params.allowed_failed_distributions) + PRUNE_MARGIN_ROUNDS + 1;
        let clock = Clock::new(task.starting_slot, &task.params);
        let at = clock
            .start(round.saturating_add(keep))
            .max(self.slot.saturating_add(1));
        self.schedule_at(at, *task_id, Work::Prune { round });
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

    /// A rejected attempt of a settling round: vindicated when a later attempt was accepted
    /// by a `Valid` majority with the same digest (its `Invalid` voters are slashed instead),
    /// otherwise its submitter is slashed now. Then its submitter and voters are unlocked.
    fn settle_attempt(&mut self, task_id: &TaskId, round: u64, attempt: u16) {
        let Some(rec) = self.rounds.get(&(*task_id, round)) else {
            return;
        };
        let terms = rec.terms.clone();
        let a = self
            .attempts
            .get(&(*task_id, round, attempt))
            .expect("checked")
            .clone();
        if matches!(a.outcome, Some(AttemptOutcome::FailedRejected { .. })) {
            // The digest of a list accepted by more than K/2 `Valid` seats, if any.
            let proven: Option<Hash> = self
                .attempts
                .range((*task_id, round, 0)..=(*task_id, round, u16::MAX))
                .find_map(|(_, a)| {
                    let list = a.list.as_ref()?;
                    let (t, k) = tally(&a.committee, &a.votes);
                    (matches!(a.outcome, Some(AttemptOutcome::PayoutSuccessful { .. }))
                        && t.valid_majority(k))
                    .then_some(list.digest)
                });
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
                    attempt,
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
                    attempt,
                    submitter: a.submitter,
                    slashed,
                });
                AttemptOutcome::FailedRejected {
                    slashed: Some(slashed),
                    vindicated: false,
                }
            };
            self.attempts
                .get_mut(&(*task_id, round, attempt))
                .expect("checked")
                .outcome = Some(outcome);
        }
        if a.list.is_some() {
            self.unlock(task_id, &a.submitter);
        }
        for (voter, _) in &a.votes {
            self.unlock(task_id, voter);
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
        let outcome = if tally.invalid_majority(k) {
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
        } else if tally.valid_majority(k) {
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

    /// Distribution audit window of `attempt` closed: pay or fail (SPEC §6). An accepted list
    /// is credited one chunk per step ([`Work::Payout`]); its round is paid when the last
    /// chunk is.
    fn close_distribution(&mut self, due: Slot, task_id: &TaskId, round: u64, attempt: u16) {
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
                let (tally, k) = tally(&att.committee, &att.votes);
                let outcome = if att.committee.is_none() {
                    // No committee had time to vote: acceptance by nobody proves nothing.
                    AttemptOutcome::FailedNoCommittee
                } else if tally.invalid_majority(k) {
                    AttemptOutcome::FailedRejected {
                        slashed: None,
                        vindicated: false,
                    }
                } else {
                    AttemptOutcome::PayoutSuccessful {
                        total_roe: list.total_roe,
                    }
                };
                // An accepted list keeps its reservation until each chunk is paid.
                if !matches!(outcome, AttemptOutcome::PayoutSuccessful { .. }) {
                    let t = self.tasks.get_mut(task_id).expect("task");
                    t.reserved_bounty -= list.total_roe;
                }
                outcome
            }
        };
        self.attempts.get_mut(&akey).expect("attempt").outcome = Some(outcome.clone());
        let rk = (*task_id, round);
        let (reason, slashed) = match outcome {
            AttemptOutcome::PayoutSuccessful { .. } => {
                self.schedule_at(
                    due,
                    *task_id,
                    Work::Payout {
                        round,
                        attempt,
                        next_chunk: 0,
                    },
                );
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
            self.settle_round(due, task_id, round);
        }
    }

    /// Credit chunk `chunk` of the accepted list of `attempt` to pending rewards (SPEC §6
    /// *Payout*, in chunks across blocks: SPEC §1 [v2] *Bounded settlement*). After the last
    /// chunk the round is paid and settles.
    fn pay_chunk(&mut self, due: Slot, task_id: &TaskId, round: u64, attempt: u16, chunk: u32) {
        let akey = (*task_id, round, attempt);
        let Some(list) = self.attempts.get(&akey).and_then(|a| a.list.clone()) else {
            return;
        };
        let entries = self
            .chunks
            .get(&(*task_id, round, attempt, chunk))
            .cloned()
            .unwrap_or_default();
        let mut sum = 0u64;
        for (node, reward) in entries {
            self.add_reward(task_id, &node, reward);
            sum += reward;
        }
        let t = self.tasks.get_mut(task_id).expect("task");
        t.reserved_bounty = t
            .reserved_bounty
            .checked_sub(sum)
            .expect("a paid chunk was reserved at submission");
        t.total_bounty -= sum;
        // A running total over the task's life; it may outgrow any one moment's supply.
        t.paid_total_roe = t.paid_total_roe.saturating_add(sum);
        let next_chunk = chunk + 1;
        if next_chunk < list.chunks {
            let work = Work::Payout {
                round,
                attempt,
                next_chunk,
            };
            self.schedule_at(due, *task_id, work);
            return;
        }
        self.events.push(LedgerEvent::PayoutSuccessful {
            task: *task_id,
            round,
            attempt,
            total_roe: list.total_roe,
            entries: list.count,
        });
        self.rounds
            .get_mut(&(*task_id, round))
            .expect("round")
            .status = RoundStatus::Paid {
            attempt,
            total_roe: list.total_roe,
        };
        self.settle_round(due, task_id, round);
    }

    /// Encoded size of the first record a pruning step of `round` removes.
    fn first_prune_bytes(&self, task_id: &TaskId, round: u64) -> u64 {
        fn first<K: Ord + Clone + BorshSerialize, V: Clone + PartialEq + BorshSerialize>(
            t: &Table<K, V>,
            range: impl std::ops::RangeBounds<K>,
        ) -> Option<u64> {
            t.range(range)
                .next()
                .map(|(k, v)| encoded_len(k) + encoded_len(v))
        }
        let (lo, hi) = ((*task_id, round, LO), (*task_id, round, HI));
        first(&self.submissions, lo..=hi)
            .or_else(|| first(&self.audits, lo..=hi))
            .or_else(|| first(&self.raises, lo..=hi))
            .or_else(|| {
                first(
                    &self.attempts,
                    (*task_id, round, 0)..=(*task_id, round, u16::MAX),
                )
            })
            .or_else(|| {
                let range = (*task_id, round, 0, 0)..=(*task_id, round, u16::MAX, u32::MAX);
                first(&self.chunks, range)
            })
            .unwrap_or(0)
    }

    /// Drop a settled round's data, at most `allowance` records and bytes per step (at most
    /// [`PRUNE_RECORDS_PER_STEP`] and [`PRUNE_BYTES_PER_STEP`]); the round record goes last.
    /// Returns what the step removed.
    fn prune(&mut self, due: Slot, task_id: &TaskId, round: u64, allowance: Cost) -> Cost {
        let full = (allowance.records, allowance.bytes);
        let mut left = full;
        let mut done = true;
        // Each table in turn, while the previous ones are done and the allowance lasts; a step
        // that has removed nothing yet always removes at least one record, so pruning moves on.
        macro_rules! drop_range {
            ($table:expr, $range:expr) => {
                if done {
                    let (r, b, d) = $table.remove_range($range, left.0, left.1, left == full);
                    left = (left.0.saturating_sub(r), left.1.saturating_sub(b));
                    done &= d;
                }
            };
        }
        let (lo, hi) = ((*task_id, round, LO), (*task_id, round, HI));
        drop_range!(self.submissions, lo..=hi);
        drop_range!(self.audits, lo..=hi);
        drop_range!(self.raises, lo..=hi);
        drop_range!(
            self.attempts,
            (*task_id, round, 0)..=(*task_id, round, u16::MAX)
        );
        drop_range!(
            self.chunks,
            (*task_id, round, 0, 0)..=(*task_id, round, u16::MAX, u32::MAX)
        );
        let used = Cost::new(allowance.records - left.0, allowance.bytes - left.1);
        if !done {
            self.schedule_at(due, *task_id, Work::Prune { round });
            return used;
        }
        self.rounds.remove(&(*task_id, round));
        self.events.push(LedgerEvent::RoundPruned {
            task: *task_id,
            round,
        });
        used
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
        let mut counted: BTreeMap<TaskId, (u64, u64)> = BTreeMap::new();
        let timer = self.queue.iter().map(|((_, t, w), _)| (t, w));
        let ready = self.ready.iter().map(|((_, t, _, w), _)| (t, w));
        for (task, work) in timer.chain(ready) {
            if let Some(seats) = self.draw_seats(task, work) {
                let c = counted.entry(*task).or_default();
                *c = (c.0 + 1, c.1 + seats);
            }
        }
        for (id, t) in self.tasks.iter() {
            assert_eq!(
                (t.queued_draws, t.queued_draw_seats),
                counted.get(id).copied().unwrap_or_default(),
                "task {id}: queued draw counters disagree with the queue"
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

/// Stake pools kept for committee draws at most (one per task drawing in its current round).
const POOLS_KEPT_MAX: usize = 4_096;

const LO: Pubkey = Pubkey([0; 32]);
const HI: Pubkey = Pubkey([0xff; 32]);

/// Cost bounds of settlement steps (SPEC §1 [v2] *Bounded settlement*), in encoded bytes of
/// key and value. A stake or submission record with its key stays under 1 KiB (a URL of
/// `URL_BYTES_MAX`, a proof of `PROOF_BYTES_MAX`, a few history entries).
const SMALL_RECORD_BYTES: u64 = 1024;
/// A pending-rewards record: key `(task, node)` and a u64.
const REWARD_RECORD_BYTES: u64 = 32 + 32 + 8;
/// One committee seat in a record: a node and its seat count.
const SEAT_BYTES: u64 = 32 + 2;
/// The longest record key: a queue key `(slot, task, Work)` of 8 + 32 + 42 bytes.
const KEY_BYTES_MAX: u64 = 96;
/// Queue entries a step removes and adds (its own, a continuation or the next work).
const QUEUE_RECORDS_PER_STEP: u64 = 2;
const QUEUE_BYTES_PER_STEP: u64 = 2 * 128;
/// One vote in a record: a node and its verdict.
const VOTE_BYTES: u64 = 32 + 1;
/// What the draw turn may use of a block.
fn draw_turn_share() -> Cost {
    Cost::new(DRAW_SHARE_RECORDS, DRAW_SHARE_BYTES)
}

/// The lanes the task turn serves, in a task's order (draws have their own turn).
const TASK_TURN_LANES: [Lane; 2] = [Lane::Window, Lane::Bulk];

/// The smallest `Work` (a key bound).
const WORK_MIN: Work = Work::DrawAudit {
    round: 0,
    candidate: LO,
};

/// Moving one entry from the timer to the ready queue: a key removed, a key written.
const PROMOTION_COST: Cost = Cost {
    records: 2,
    bytes: 2 * KEY_BYTES_MAX,
};

/// What `draws` committee draws filling `seats` seats in all write, queue entries and keys
/// included: each writes its audit or attempt record (at most [`SMALL_RECORD_BYTES`]
/// without seats and votes) with the committee, and keeps at most one vote per seat holder
/// (race votes of nodes without a seat are dropped). One price for the step budget and the
/// raise door's backlog estimate (which prices a queued list's draw as an audit's, higher).
fn draws_cost(draws: u64, seats: u64) -> Cost {
    Cost::new(
        draws.saturating_mul(QUEUE_RECORDS_PER_STEP + 1),
        draws
            .saturating_mul(QUEUE_BYTES_PER_STEP + SMALL_RECORD_BYTES + KEY_BYTES_MAX)
            .saturating_add(seats.saturating_mul(SEAT_BYTES + VOTE_BYTES)),
    )
}

/// Records and bytes a settlement step may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cost {
    records: u64,
    bytes: u64,
}

impl Cost {
    fn new(records: u64, bytes: u64) -> Cost {
        Cost { records, bytes }
    }

    /// `limit` covers `self` (this is the smaller or equal cost).
    fn fits_within(self, limit: Cost) -> bool {
        self.records <= limit.records && self.bytes <= limit.bytes
    }

    fn plus(self, o: Cost) -> Cost {
        Cost::new(
            self.records.saturating_add(o.records),
            self.bytes.saturating_add(o.bytes),
        )
    }
}

/// What is left of a block's settlement budget.
struct Budget {
    left: Cost,
}

impl Budget {
    fn full() -> Budget {
        Budget {
            left: Cost::new(SETTLEMENT_RECORDS_PER_BLOCK, SETTLEMENT_BYTES_PER_BLOCK),
        }
    }

    fn fits(&self, c: Cost) -> bool {
        c.fits_within(self.left)
    }

    fn take(&mut self, c: Cost) {
        self.left.records = self.left.records.saturating_sub(c.records);
        self.left.bytes = self.left.bytes.saturating_sub(c.bytes);
    }
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
