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
//!
//! One file per job: `txs` (one transaction: envelope, fee, instruction), `queue` (the
//! settlement queue and its budget), `draws` (committee draws), `settle` (end-of-window
//! work), `supply` (invariants).

use crate::block::{
    tx_root, Block, BlockHeader, BlockOutput, BlockSeal, FailReason, LedgerEvent, Receipt,
};
use crate::committee::{rank_candidates, StakePool};
use crate::envelope::CheckedTx;
use crate::error::{BlockError, TxError};
use crate::lthash::LtHash;
use crate::state::*;
use crate::table::{encoded_len, AnyTable, StateWrite, Table};
use crate::window::{Clock, Window};
use borsh::BorshSerialize;
use gradual_types::constants::{
    retention_rounds, vote_window_slots, AUDITS_PER_STEP, BPS_DENOMINATOR, COMMITTEE_SIZE_MAX,
    DRAW_SHARE_BYTES, DRAW_SHARE_RECORDS, PROMOTIONS_PER_BLOCK, PROMOTIONS_WITH_DRAWS,
    PRUNE_BYTES_PER_STEP, PRUNE_RECORDS_PER_STEP, SETTLEMENT_BYTES_PER_BLOCK,
    SETTLEMENT_RECORDS_PER_BLOCK,
};
use gradual_types::{
    Genesis, Hash, Pubkey, Signature, Slot, TaskId, Transaction, ValidatorInfo, ValidatorKey,
    Verdict, VrfInput,
};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::ops::Bound;

mod draws;
mod queue;
mod replay;
mod settle;
mod supply;
mod txs;

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

    /// The clock of a task and the record of one of its rounds; `None` if either is gone.
    pub(crate) fn round_clock(&self, task: &TaskId, round: u64) -> Option<(Clock, &RoundRecord)> {
        let t = self.tasks.get(task)?;
        let rec = self.rounds.get(&(*task, round))?;
        Some((self.task_clock(t), rec))
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

const LO: Pubkey = Pubkey([0; 32]);
const HI: Pubkey = Pubkey([0xff; 32]);

pub(crate) fn bps_of(amount: u64, bps: u16) -> u64 {
    (u128::from(amount) * u128::from(bps) / u128::from(BPS_DENOMINATOR)) as u64
}
