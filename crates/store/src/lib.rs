//! Durable block log and ledger state for Gradual Consensus, on redb.
//!
//! The store keeps, in one redb file: the genesis, every committed block with its receipts,
//! the ledger's records, an index from transaction id to block, and the head.
//! [`Store::commit`] writes one block and everything it changed in **one** redb write
//! transaction with `Durability::Immediate`, so after any crash the file holds exactly the
//! blocks whose commit returned (and possibly the one in flight, whole or not at all).
//!
//! It does **not** apply blocks (that is `gradual-ledger`), produce them, talk to the network,
//! keep past states (only the current records), or prune old blocks.
//!
//! ```text
//!   Ledger::apply_block ──▶ BlockOutput ──▶ Store::commit ──▶ one redb write txn (fsync)
//!                                              ├─ blocks    slot → Block
//!                                              ├─ receipts  (slot, part) → [Receipt]
//!                                              ├─ writes    (slot, part) → write set part ┐
//!                                              └─ meta      head                          │
//!         every K blocks or 64 MiB logged, in the same txn:  fold the logged write sets ◀─┘
//!                                              ├─ state     tag‖key → value
//!                                              ├─ tx_index  sig → slot
//!                                              └─ meta      checkpoint = head
//!   Store::open ──▶ state ⊕ logged write sets ──▶ Ledger::from_records ──▶ root == head?
//!                   receipts of the last tx_max_age_slots ──▶ Ledger::restore_recent
//!   Store::replay ──▶ genesis + every block, signatures and VRF seals re-checked ──▶ root == head?
//! ```
//!
//! **Write-set log and checkpoints.** A block's records and transaction ids have random keys,
//! so writing them into the `state` and `tx_index` B-trees block by block copies nearly one
//! leaf page per record per block. Instead each block's write set is logged (`writes`), and
//! every [`Store::set_checkpoint_interval`] blocks (default [`CHECKPOINT_BLOCKS_DEFAULT`],
//! earlier if the log would hold more than [`PENDING_WRITES_MAX`] records or
//! [`PENDING_WRITE_BYTES_MAX`] bytes) the commit instead folds the logged sets and its own,
//! merged and sorted, into `state` and `tx_index`, empties the log and moves the checkpoint,
//! all in the same transaction. Opening applies the logged sets over `state`;
//! [`Store::tx_status`] answers for logged blocks from memory. Every commit is still one
//! atomic, durable transaction holding the whole block.
//!
//! **Bounded values (issue #9).** No value is as large as a block's whole write set: a
//! write set is logged as consecutive parts of at most [`WRITE_LOG_PART_BYTES`] bytes each
//! (a single record larger than that gets a part of its own), keyed `(slot, part)` and read
//! back in key order; the receipts of a block are split the same way, since their size
//! grows with what their transactions did, not only with the block's bytes. All parts of a
//! block are written in its one commit transaction, so a crash never leaves some of them.
//! A `blocks` value is the header and the transactions, and the ledger refuses a block whose
//! encoded transactions pass the genesis `block_max_bytes`, itself at most
//! [`BLOCK_BYTES_MAX`] (64 MiB): a block value is at most that plus its header. The
//! in-memory log is bounded by [`PENDING_WRITE_BYTES_MAX`] encoded bytes and
//! [`PENDING_WRITES_MAX`] records.
//!
//! Table layout (all values borsh unless noted):
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `"format"` | format version, u32 little endian |
//! | `meta` | `"protocol"` | protocol version of the chain's rules, u32 little endian; read before anything else is decoded |
//! | `meta` | `"genesis"` | [`Genesis`] |
//! | `meta` | `"head"` | [`Head`] |
//! | `meta` | `"checkpoint"` | `(slot, height)` of the last block folded into `state` |
//! | `blocks` | slot (u64) | [`Block`] |
//! | `receipts` | (slot (u64), part (u32)) | `Vec<`[`Receipt`]`>`: parts 0, 1, ... hold, in order, one receipt per transaction of the block; each part at most [`WRITE_LOG_PART_BYTES`] unless it holds a single receipt |
//! | `writes` | (slot (u64), part (u32)) | `Vec<(tag ‖ key, Option<value>)>`: parts 0, 1, ... hold, in order, the write set of a block after the checkpoint; each part at most [`WRITE_LOG_PART_BYTES`] unless it holds a single record |
//! | `state` | table tag byte ‖ record key | record value (as [`StateWrite`]) |
//! | `tx_index` | signature (64 bytes) | slot (u64) of the block whose receipt answers for it |
//!
//! A transaction id is indexed with the block of its processing that used it up (success, or
//! an error that [`TxError::marks_seen`]; at most one block can); an attempt that did not use
//! it up (bad signature, expired, duplicate, ...) is indexed only while nothing better is
//! known. [`Store::tx_status`] reads the result from that block's receipts.
//!
//! Crash safety is tested by killing a writer process with SIGKILL over and over
//! (`tests/crash.rs`) and by cutting the power at every sync of a simulated disk, keeping any
//! subset of the unsynced writes (`tests/power_loss.rs`).

mod error;

pub use error::{ChainIdentity, StoreError};
pub use redb::backends::InMemoryBackend;
pub use redb::StorageBackend;

use borsh::{BorshDeserialize, BorshSerialize};
use gradual_ledger::{Block, BlockOutput, CheckedTx, Ledger, Receipt, StateWrite, TxError};
#[cfg(doc)]
use gradual_types::constants::BLOCK_BYTES_MAX;
use gradual_types::constants::PROTOCOL_VERSION;
use gradual_types::{Genesis, Hash, Signature, Slot};
use redb::{
    Database, DatabaseError, Durability, ReadTransaction, ReadableTable, ReadableTableMetadata,
    StorageError, TableDefinition, TableError,
};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Version of the table layout above and of the ledger records in `state`. Bump it when
/// either changes. 2: the settlement queue (ledger tag 11 keyed by `Work`, tag 12 retired,
/// `Meta.queue_cursor`) and the genesis block limits (issue #9). 3: `writes` and `receipts`
/// keyed by `(slot, part)`, each part bounded by [`WRITE_LOG_PART_BYTES`] (issue #9). 4: the
/// settlement queue split into a timer (tag 11) and a ready queue by task (tag 14), the
/// cursor a task (issue #9, fairness across tasks).
pub const FORMAT_VERSION: u32 = 4;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const RECEIPTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("receipts");
const WRITES: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("writes");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const TX_INDEX: TableDefinition<[u8; 64], u64> = TableDefinition::new("tx_index");

const META_FORMAT: &str = "format";
/// The protocol version the chain was made by (SPEC §1 *Versions*): its own small key, so a
/// store of another version is refused before its genesis or blocks are decoded.
const META_PROTOCOL: &str = "protocol";
const META_GENESIS: &str = "genesis";
const META_HEAD: &str = "head";
const META_CHECKPOINT: &str = "checkpoint";

/// Blocks whose write sets are logged before they are folded into `state` and `tx_index`.
/// Larger saves little more (measured with `ledger_bench --checkpoint-every`) and makes
/// opening slower.
pub const CHECKPOINT_BLOCKS_DEFAULT: u64 = 8;
/// Records the write-set log may hold before a fold, whatever the interval: bounds the
/// memory the store keeps for them and the work of opening.
pub const PENDING_WRITES_MAX: usize = 1 << 18;
/// Encoded bytes the write-set log may hold before a fold, whatever the interval: bounds
/// the log on disk and in memory when records are large.
pub const PENDING_WRITE_BYTES_MAX: u64 = 64 << 20;
/// Most bytes of one stored part of a block's write set or receipts (a borsh `Vec` of
/// consecutive items); a single item larger than that is a part of its own.
pub const WRITE_LOG_PART_BYTES: usize = 1 << 20;

/// Blocks read per batch by [`Store::replay`]: bounds its memory, not its work.
const REPLAY_BATCH_BLOCKS: usize = 16;

/// A committed block and the receipt of each of its transactions.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredBlock {
    pub block: Block,
    pub receipts: Vec<Receipt>,
}

/// Where a transaction was processed and how: its block's slot and its receipt's result.
pub type TxStatus = (Slot, Result<(), TxError>);

/// The last committed block (or the genesis, at height 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Head {
    pub slot: Slot,
    pub height: u64,
    /// Hash of the last block's header; the genesis hash at height 0.
    pub hash: Hash,
    pub state_root: Hash,
}

/// The last block whose writes and transaction ids are in `state` and `tx_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Checkpoint {
    slot: Slot,
    height: u64,
}

/// A logged write: `tag ‖ key` and the new value (`None` deletes).
type LoggedWrite = (Vec<u8>, Option<Vec<u8>>);

/// What blocks after the checkpoint changed, kept in memory until the next fold.
#[derive(Debug, Default)]
struct Pending {
    /// Slots of the logged blocks, in order, with the number of parts of each write set.
    slots: Vec<(Slot, u32)>,
    /// Encoded bytes of `writes` (the sum of their parts' lengths).
    bytes: u64,
    /// Their writes, in commit order (a later write to a key wins).
    writes: Vec<LoggedWrite>,
    /// `tx_index` entries (id → slot) not yet folded into it.
    index: HashMap<Signature, Slot>,
}

/// A durable chain: genesis, block log, current state and head, in one redb file.
pub struct Store {
    db: Database,
    /// Where the file is (or, for another backend, the name given); used in errors.
    path: PathBuf,
    genesis: Genesis,
    head: Head,
    checkpoint: Checkpoint,
    pending: Pending,
    /// Fold the write-set log when it holds this many blocks.
    checkpoint_every: u64,
    /// Largest stored part of a write set or receipts ([`WRITE_LOG_PART_BYTES`]; tests
    /// lower it).
    part_bytes: usize,
    /// Fold the write-set log before it passes this many bytes
    /// ([`PENDING_WRITE_BYTES_MAX`]; tests lower it).
    log_bytes_max: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("chain_id", &self.genesis.chain_id)
            .field("head", &self.head)
            .field("checkpoint", &self.checkpoint)
            .field("logged_blocks", &self.pending.slots.len())
            .finish()
    }
}

/// How a store is being opened.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Create(&'a Genesis),
    Open,
    OpenOrCreate(&'a Genesis),
}

impl Store {
    /// Create a store for a new chain at `path` and return it with the genesis ledger.
    /// Fails with [`StoreError::AlreadyExists`] if the file already holds a chain.
    ///
    /// A new file is built under a temporary name next to `path` and renamed into place once
    /// its genesis is durable, so a crash while creating leaves no store at `path`.
    pub fn create(path: &Path, genesis: &Genesis) -> Result<(Store, Ledger), StoreError> {
        check_genesis(path, genesis)?;
        if !path.exists() {
            return Store::create_fresh(path, genesis);
        }
        let db = open_db(path, true)?;
        Store::start(db, path.to_path_buf(), Mode::Create(genesis))
    }

    /// Open an existing store: load its state, check that the recomputed state root equals
    /// the head's, and restore replay protection from its recent blocks.
    pub fn open(path: &Path) -> Result<(Store, Ledger), StoreError> {
        let db = open_db(path, false)?;
        Store::start(db, path.to_path_buf(), Mode::Open)
    }

    /// Open the store at `path` if it holds a chain (whose genesis must equal `genesis`),
    /// otherwise create it from `genesis` (as [`Store::create`] does).
    pub fn open_or_create(path: &Path, genesis: &Genesis) -> Result<(Store, Ledger), StoreError> {
        check_genesis(path, genesis)?;
        if !path.exists() {
            return Store::create_fresh(path, genesis);
        }
        let db = open_db(path, true)?;
        Store::start(db, path.to_path_buf(), Mode::OpenOrCreate(genesis))
    }

    /// Build a new store in `<path>.creating`, then rename it to `path` and sync the
    /// directory: the file appears at `path` only with its genesis durable in it.
    fn create_fresh(path: &Path, genesis: &Genesis) -> Result<(Store, Ledger), StoreError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".creating");
        let tmp = PathBuf::from(tmp);
        let io = |doing: &'static str| {
            move |e: std::io::Error| redb_error(path, doing, StorageError::Io(e))
        };
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("removing a half-created store")(e)),
        }
        let db = open_db(&tmp, true)?;
        let (mut store, ledger) = Store::init(db, tmp.clone(), genesis)?;
        std::fs::rename(&tmp, path).map_err(io("moving the new store into place"))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing the store's directory"))?;
        store.path = path.to_path_buf();
        Ok((store, ledger))
    }

    /// [`Store::open_or_create`] on any redb storage backend (e.g. [`InMemoryBackend`], or
    /// a test backend that simulates power loss). With `genesis` `None` the backend must
    /// already hold a chain. `name` stands for the path in errors.
    pub fn with_backend(
        backend: impl StorageBackend,
        name: &str,
        genesis: Option<&Genesis>,
    ) -> Result<(Store, Ledger), StoreError> {
        let path = PathBuf::from(name);
        if let Some(g) = genesis {
            check_genesis(&path, g)?;
        }
        let db = Database::builder()
            .create_with_backend(backend)
            .map_err(|e| database_error(&path, e))?;
        let mode = match genesis {
            Some(g) => Mode::OpenOrCreate(g),
            None => Mode::Open,
        };
        Store::start(db, path, mode)
    }

    fn start(db: Database, path: PathBuf, mode: Mode) -> Result<(Store, Ledger), StoreError> {
        let stored = read_genesis(&db, &path)?;
        match (mode, stored) {
            (Mode::Create(_), Some(stored)) => Err(StoreError::AlreadyExists {
                path,
                chain_id: stored.chain_id,
            }),
            (Mode::Create(genesis) | Mode::OpenOrCreate(genesis), None) => {
                Store::init(db, path, genesis)
            }
            (Mode::Open, None) => Err(StoreError::NoChain { path }),
            (Mode::Open, Some(stored)) => Store::load(db, path, stored),
            (Mode::OpenOrCreate(given), Some(stored)) => {
                if stored != *given {
                    return Err(StoreError::GenesisMismatch {
                        path,
                        stored: Box::new(ChainIdentity::of(&stored)),
                        given: Box::new(ChainIdentity::of(given)),
                    });
                }
                Store::load(db, path, stored)
            }
        }
    }

    /// Write the genesis, its records and the genesis head in one transaction.
    fn init(db: Database, path: PathBuf, genesis: &Genesis) -> Result<(Store, Ledger), StoreError> {
        let ledger = Ledger::new(genesis.clone());
        let head = Head {
            slot: ledger.slot(),
            height: ledger.height(),
            hash: ledger.head_hash(),
            state_root: ledger.state_root(),
        };
        assert_eq!(
            head.hash,
            genesis.hash(),
            "a new ledger's head is its genesis"
        );
        assert_eq!(head.height, 0, "a new ledger has no blocks");
        let checkpoint = Checkpoint {
            slot: head.slot,
            height: head.height,
        };
        let mut txn = db.begin_write().map_err(dberr(&path, "initialising"))?;
        txn.set_durability(Durability::Immediate);
        {
            let mut meta = txn.open_table(META).map_err(dberr(&path, "initialising"))?;
            meta.insert(META_FORMAT, FORMAT_VERSION.to_le_bytes().as_slice())
                .map_err(dberr(&path, "writing the format version"))?;
            meta.insert(
                META_PROTOCOL,
                genesis.protocol_version.to_le_bytes().as_slice(),
            )
            .map_err(dberr(&path, "writing the protocol version"))?;
            meta.insert(META_GENESIS, to_bytes(genesis).as_slice())
                .map_err(dberr(&path, "writing the genesis"))?;
            meta.insert(META_HEAD, to_bytes(&head).as_slice())
                .map_err(dberr(&path, "writing the head"))?;
            meta.insert(META_CHECKPOINT, to_bytes(&checkpoint).as_slice())
                .map_err(dberr(&path, "writing the checkpoint"))?;
            let mut state = txn
                .open_table(STATE)
                .map_err(dberr(&path, "initialising"))?;
            for w in ledger.records() {
                let value = w
                    .value
                    .as_deref()
                    .expect("records() holds only live records");
                state
                    .insert(full_key(&w).as_slice(), value)
                    .map_err(dberr(&path, "writing the genesis state"))?;
            }
            // Create the other tables so that readers never meet a missing table.
            txn.open_table(BLOCKS)
                .map_err(dberr(&path, "initialising"))?;
            txn.open_table(RECEIPTS)
                .map_err(dberr(&path, "initialising"))?;
            txn.open_table(WRITES)
                .map_err(dberr(&path, "initialising"))?;
            txn.open_table(TX_INDEX)
                .map_err(dberr(&path, "initialising"))?;
        }
        txn.commit()
            .map_err(dberr(&path, "committing the genesis"))?;
        let store = Store {
            db,
            path,
            genesis: genesis.clone(),
            head,
            checkpoint,
            pending: Pending::default(),
            checkpoint_every: CHECKPOINT_BLOCKS_DEFAULT,
            part_bytes: WRITE_LOG_PART_BYTES,
            log_bytes_max: PENDING_WRITE_BYTES_MAX,
        };
        Ok((store, ledger))
    }

    /// Rebuild the ledger from the stored records and the logged write sets, check it
    /// against the head, and restore replay protection and the pending index.
    fn load(db: Database, path: PathBuf, genesis: Genesis) -> Result<(Store, Ledger), StoreError> {
        let read = db.begin_read().map_err(dberr(&path, "opening"))?;
        let meta = read
            .open_table(META)
            .map_err(dberr(&path, "opening the meta table"))?;
        let head: Head = read_meta(&meta, &path, META_HEAD, "the head record")?;
        let checkpoint: Checkpoint =
            read_meta(&meta, &path, META_CHECKPOINT, "the checkpoint record")?;
        if checkpoint.height > head.height || checkpoint.slot > head.slot {
            return Err(corrupt(
                &path,
                format!("its checkpoint {checkpoint:?} is past its head {head:?}"),
            ));
        }

        // The write-set log: exactly the blocks after the checkpoint.
        let mut pending = Pending::default();
        let log = read
            .open_table(WRITES)
            .map_err(dberr(&path, "opening writes"))?;
        for row in log.iter().map_err(dberr(&path, "reading writes"))? {
            let (key, bytes) = row.map_err(dberr(&path, "reading writes"))?;
            let (slot, part) = key.value();
            let writes: Vec<LoggedWrite> = decode(
                &path,
                &format!("part {part} of the write set of slot {slot}"),
                bytes.value(),
            )?;
            pending.bytes += bytes.value().len() as u64;
            pending.writes.extend(writes);
            // Parts come in key order: 0, 1, ... of each slot in turn.
            if let Some((last, parts)) = pending.slots.last_mut() {
                if *last == slot {
                    if part != *parts {
                        return Err(corrupt(
                            &path,
                            format!("the write set of slot {slot} lacks part {parts}"),
                        ));
                    }
                    *parts += 1;
                    continue;
                }
            }
            if part != 0 {
                return Err(corrupt(
                    &path,
                    format!("the write set of slot {slot} lacks part 0"),
                ));
            }
            if slot <= checkpoint.slot || slot > head.slot {
                return Err(corrupt(
                    &path,
                    format!(
                        "it logs a write set for slot {slot}, outside the blocks after its \
                         checkpoint (slots {}..={})",
                        checkpoint.slot + 1,
                        head.slot
                    ),
                ));
            }
            pending.slots.push((slot, 1));
        }
        if pending.slots.len() as u64 != head.height - checkpoint.height {
            return Err(corrupt(
                &path,
                format!(
                    "it logs {} write sets, {} blocks follow its checkpoint",
                    pending.slots.len(),
                    head.height - checkpoint.height
                ),
            ));
        }

        // Records: the folded state with the logged writes over it.
        let state = read
            .open_table(STATE)
            .map_err(dberr(&path, "opening the state table"))?;
        let mut folded: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for row in state.iter().map_err(dberr(&path, "reading the state"))? {
            let (k, v) = row.map_err(dberr(&path, "reading the state"))?;
            folded.insert(k.value().to_vec(), v.value().to_vec());
        }
        for (k, v) in &pending.writes {
            match v {
                Some(v) => folded.insert(k.clone(), v.clone()),
                None => folded.remove(k),
            };
        }
        let mut records = Vec::with_capacity(folded.len());
        for (k, v) in folded {
            let Some((&tag, key)) = k.split_first() else {
                return Err(corrupt(&path, "a state record has an empty key".into()));
            };
            records.push((tag, key.to_vec(), v));
        }
        let mut ledger = Ledger::from_records(genesis.clone(), records, head.hash)
            .map_err(|e| corrupt(&path, format!("state records do not load: {e}")))?;
        if ledger.state_root() != head.state_root {
            return Err(StoreError::StateRootMismatch {
                path,
                slot: head.slot,
                stored: head.state_root,
                computed: ledger.state_root(),
            });
        }
        if (ledger.slot(), ledger.height()) != (head.slot, head.height) {
            return Err(corrupt(
                &path,
                format!(
                    "the state is at slot {} height {}, the head at slot {} height {}",
                    ledger.slot(),
                    ledger.height(),
                    head.slot,
                    head.height
                ),
            ));
        }
        check_block_log(&read, &path, &genesis, &head)?;

        let receipts = read
            .open_table(RECEIPTS)
            .map_err(dberr(&path, "opening the receipts table"))?;
        // Transaction ids of the logged blocks, not yet in tx_index.
        let index = read
            .open_table(TX_INDEX)
            .map_err(dberr(&path, "opening tx_index"))?;
        for &(slot, _) in &pending.slots {
            let list = read_receipts(&receipts, &path, slot)?
                .ok_or_else(|| corrupt(&path, format!("receipts of slot {slot} are missing")))?;
            let staged = stage_index(&pending.index, &index, &path, slot, &list)?;
            pending.index.extend(staged);
        }
        // Replay protection: ids used up in the blocks the next block can still see.
        let from = head.slot.saturating_sub(genesis.tx_max_age_slots);
        let mut recent: Option<(Slot, Vec<Signature>)> = None;
        for row in receipts
            .range((from, 0)..=(head.slot, u32::MAX))
            .map_err(dberr(&path, "reading recent receipts"))?
        {
            let (key, bytes) = row.map_err(dberr(&path, "reading recent receipts"))?;
            let (slot, part) = key.value();
            let list: Vec<Receipt> = decode(
                &path,
                &format!("part {part} of the receipts of slot {slot}"),
                bytes.value(),
            )?;
            let ids = list
                .into_iter()
                .filter(|r| used_up(&r.result))
                .map(|r| r.tx);
            match &mut recent {
                Some((at, all)) if *at == slot => all.extend(ids),
                _ => {
                    if let Some((at, all)) = recent.take() {
                        ledger.restore_recent(at, all);
                    }
                    recent = Some((slot, ids.collect()));
                }
            }
        }
        if let Some((at, all)) = recent {
            ledger.restore_recent(at, all);
        }
        drop((index, receipts, state, log, meta, read));
        let store = Store {
            db,
            path,
            genesis,
            head,
            checkpoint,
            pending,
            checkpoint_every: CHECKPOINT_BLOCKS_DEFAULT,
            part_bytes: WRITE_LOG_PART_BYTES,
            log_bytes_max: PENDING_WRITE_BYTES_MAX,
        };
        Ok((store, ledger))
    }

    /// Persist one applied block: the block, its receipts, its write set and the new head,
    /// in one durable redb transaction (which also folds the write-set log into `state` and
    /// `tx_index` when the checkpoint interval is reached). Blocks must be committed in the
    /// order `apply_block` produced them.
    ///
    /// On an error nothing of the block is stored, but the ledger that produced `out` has
    /// already applied it: drop that ledger and reopen the store to continue from its head.
    pub fn commit(&mut self, out: &BlockOutput) -> Result<(), StoreError> {
        let header = &out.block.header;
        if header.height != self.head.height + 1
            || header.slot <= self.head.slot
            || header.parent_hash != self.head.hash
        {
            return Err(StoreError::NotNextBlock {
                slot: header.slot,
                height: header.height,
                parent: header.parent_hash,
                head_slot: self.head.slot,
                head_height: self.head.height,
                head_hash: self.head.hash,
            });
        }
        assert_eq!(
            out.receipts.len(),
            out.block.txs.len(),
            "one receipt per transaction"
        );
        assert_eq!(
            header.tx_count as usize,
            out.block.txs.len(),
            "header counts the block's transactions"
        );
        let head = Head {
            slot: header.slot,
            height: header.height,
            hash: header.hash(),
            state_root: header.state_root,
        };
        let block_bytes = to_bytes(&out.block);
        // The ledger keeps a block's encoded transactions within the genesis block_max_bytes
        // (at most BLOCK_BYTES_MAX): the value is that, the header and a length.
        debug_assert!(
            block_bytes.len() as u64
                <= self.genesis.block_max_bytes + borsh::object_length(header).unwrap() as u64 + 4,
            "a block's value is bounded by the genesis block_max_bytes"
        );
        let receipt_parts = encode_parts(&out.receipts, self.part_bytes);
        let writes: Vec<LoggedWrite> = out
            .writes
            .iter()
            .map(|w| (full_key(w), w.value.clone()))
            .collect();
        let write_parts = encode_parts(&writes, self.part_bytes);
        let write_bytes: u64 = write_parts.iter().map(|p| p.len() as u64).sum();
        let fold = self.pending.slots.len() as u64 + 1 >= self.checkpoint_every
            || self.pending.writes.len() + writes.len() > PENDING_WRITES_MAX
            || self.pending.bytes + write_bytes > self.log_bytes_max;

        let path = &self.path;
        let mut txn = self
            .db
            .begin_write()
            .map_err(dberr(path, "starting a commit"))?;
        txn.set_durability(Durability::Immediate);
        let staged = {
            let mut blocks = txn
                .open_table(BLOCKS)
                .map_err(dberr(path, "opening blocks"))?;
            let prev = blocks
                .insert(head.slot, block_bytes.as_slice())
                .map_err(dberr(path, "writing the block"))?;
            assert!(prev.is_none(), "slot {} committed twice", head.slot);
            drop(prev);
            let mut receipts = txn
                .open_table(RECEIPTS)
                .map_err(dberr(path, "opening receipts"))?;
            for (part, bytes) in (0u32..).zip(&receipt_parts) {
                receipts
                    .insert((head.slot, part), bytes.as_slice())
                    .map_err(dberr(path, "writing the receipts"))?;
            }
            let mut index = txn
                .open_table(TX_INDEX)
                .map_err(dberr(path, "opening tx_index"))?;
            let staged = stage_index(&self.pending.index, &index, path, head.slot, &out.receipts)?;
            let mut log = txn
                .open_table(WRITES)
                .map_err(dberr(path, "opening writes"))?;
            let mut meta = txn.open_table(META).map_err(dberr(path, "opening meta"))?;
            if fold {
                let mut state = txn
                    .open_table(STATE)
                    .map_err(dberr(path, "opening state"))?;
                fold_writes(
                    &mut state,
                    path,
                    self.pending.writes.iter().chain(writes.iter()),
                )?;
                fold_index(&mut index, path, &self.pending.index, &staged)?;
                empty_log(&mut log, path, &self.pending.slots)?;
                let checkpoint = Checkpoint {
                    slot: head.slot,
                    height: head.height,
                };
                meta.insert(META_CHECKPOINT, to_bytes(&checkpoint).as_slice())
                    .map_err(dberr(path, "writing the checkpoint"))?;
            } else {
                for (part, bytes) in (0u32..).zip(&write_parts) {
                    log.insert((head.slot, part), bytes.as_slice())
                        .map_err(dberr(path, "writing the write set"))?;
                }
            }
            meta.insert(META_HEAD, to_bytes(&head).as_slice())
                .map_err(dberr(path, "writing the head"))?;
            staged
        };
        txn.commit().map_err(dberr(path, "committing a block"))?;
        self.head = head;
        if fold {
            self.pending = Pending::default();
            self.checkpoint = Checkpoint {
                slot: head.slot,
                height: head.height,
            };
        } else {
            let parts = u32::try_from(write_parts.len()).expect("parts fit a u32");
            self.pending.slots.push((head.slot, parts));
            self.pending.bytes += write_bytes;
            self.pending.writes.extend(writes);
            self.pending.index.extend(staged);
        }
        Ok(())
    }

    /// Fold the write-set log into `state` and `tx_index` now, in one durable transaction
    /// (a no-op when nothing is logged). Commits do this by themselves every
    /// [`Store::set_checkpoint_interval`] blocks; call it to make opening cheaper, e.g.
    /// before a planned shutdown.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        if self.pending.slots.is_empty() {
            return Ok(());
        }
        let path = &self.path;
        let checkpoint = Checkpoint {
            slot: self.head.slot,
            height: self.head.height,
        };
        let mut txn = self
            .db
            .begin_write()
            .map_err(dberr(path, "starting a checkpoint"))?;
        txn.set_durability(Durability::Immediate);
        {
            let mut state = txn
                .open_table(STATE)
                .map_err(dberr(path, "opening state"))?;
            fold_writes(&mut state, path, self.pending.writes.iter())?;
            let mut index = txn
                .open_table(TX_INDEX)
                .map_err(dberr(path, "opening tx_index"))?;
            fold_index(&mut index, path, &self.pending.index, &[])?;
            let mut log = txn
                .open_table(WRITES)
                .map_err(dberr(path, "opening writes"))?;
            empty_log(&mut log, path, &self.pending.slots)?;
            let mut meta = txn.open_table(META).map_err(dberr(path, "opening meta"))?;
            meta.insert(META_CHECKPOINT, to_bytes(&checkpoint).as_slice())
                .map_err(dberr(path, "writing the checkpoint"))?;
        }
        txn.commit()
            .map_err(dberr(path, "committing a checkpoint"))?;
        self.pending = Pending::default();
        self.checkpoint = checkpoint;
        Ok(())
    }

    /// Fold the write-set log every `blocks` blocks (at least 1; 1 writes every block's
    /// records and ids straight into `state` and `tx_index`). Larger intervals make commits
    /// cheaper and opening slower; the log never holds more than [`PENDING_WRITES_MAX`]
    /// records or [`PENDING_WRITE_BYTES_MAX`] bytes either way.
    pub fn set_checkpoint_interval(&mut self, blocks: u64) {
        self.checkpoint_every = blocks.max(1);
    }

    /// Blocks committed since the last fold (their write sets are in the log).
    pub fn logged_blocks(&self) -> u64 {
        self.pending.slots.len() as u64
    }

    /// The last committed block.
    pub fn head(&self) -> Head {
        self.head
    }

    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// Where the store is (or the name given to [`Store::with_backend`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The block committed at `slot`, if any.
    pub fn block(&self, slot: Slot) -> Result<Option<StoredBlock>, StoreError> {
        let read = self.read()?;
        let blocks = self.blocks_table(&read)?;
        let Some(bytes) = blocks
            .get(slot)
            .map_err(|e| redb_error(&self.path, "reading a block", e))?
        else {
            return Ok(None);
        };
        let receipts = self.receipts_table(&read)?;
        self.stored_block(&receipts, slot, bytes.value()).map(Some)
    }

    /// Up to `limit` committed blocks at slots `from` and later, in slot order.
    pub fn blocks_from(&self, from: Slot, limit: usize) -> Result<Vec<StoredBlock>, StoreError> {
        let read = self.read()?;
        let blocks = self.blocks_table(&read)?;
        let receipts = self.receipts_table(&read)?;
        let mut out = Vec::new();
        for row in blocks
            .range(from..)
            .map_err(|e| redb_error(&self.path, "reading blocks", e))?
            .take(limit)
        {
            let (slot, bytes) = row.map_err(|e| redb_error(&self.path, "reading blocks", e))?;
            out.push(self.stored_block(&receipts, slot.value(), bytes.value())?);
        }
        Ok(out)
    }

    /// The slot and result of the transaction with this id, if the store has seen it.
    pub fn tx_status(&self, id: &Signature) -> Result<Option<TxStatus>, StoreError> {
        let read = self.read()?;
        let slot = match self.pending.index.get(id) {
            Some(slot) => *slot,
            None => {
                let index = read
                    .open_table(TX_INDEX)
                    .map_err(|e| redb_error(&self.path, "opening tx_index", e))?;
                let slot = index
                    .get(&id.0)
                    .map_err(|e| redb_error(&self.path, "reading tx_index", e))?;
                match slot {
                    Some(slot) => slot.value(),
                    None => return Ok(None),
                }
            }
        };
        // The block's receipt for it: the one that used the id up, else the first.
        let receipts = self.receipts_table(&read)?;
        let list = read_receipts(&receipts, &self.path, slot)?.ok_or_else(|| {
            corrupt(
                &self.path,
                format!("tx_index points at slot {slot}, which has no receipts"),
            )
        })?;
        let mine = || list.iter().filter(|r| r.tx == *id);
        let Some(r) = mine()
            .find(|r| used_up(&r.result))
            .or_else(|| mine().next())
        else {
            return Err(corrupt(
                &self.path,
                format!("tx_index points at slot {slot}, whose block does not hold {id}"),
            ));
        };
        Ok(Some((slot, r.result.clone())))
    }

    /// Re-apply every stored block to a fresh ledger from the genesis, re-checking every
    /// signature and every block's seal (producer in the validator set, VRF proof of its
    /// randomness), and check each replayed header and receipt against the stored one.
    /// Returns the final state root (which equals the head's).
    pub fn replay(&self) -> Result<Hash, StoreError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut ledger = Ledger::new(self.genesis.clone());
        let mut next: Slot = 0;
        loop {
            let batch = self.blocks_from(next, REPLAY_BATCH_BLOCKS)?;
            let Some(last) = batch.last() else {
                break;
            };
            next = last.block.header.slot + 1;
            for stored in batch {
                let header = stored.block.header;
                let checked = CheckedTx::check_all(stored.block.txs, threads);
                let out = ledger
                    .apply_block(header.slot, header.parent_hash, header.seal(), checked)
                    .map_err(|source| StoreError::ReplayFailed {
                        path: self.path.clone(),
                        slot: header.slot,
                        source,
                    })?;
                let diverged = |what, stored: String, replayed: String| {
                    Err(StoreError::ReplayDiverged {
                        path: self.path.clone(),
                        slot: header.slot,
                        what,
                        stored,
                        replayed,
                    })
                };
                if out.block.header.state_root != header.state_root {
                    return diverged(
                        "state root",
                        header.state_root.to_string(),
                        out.block.header.state_root.to_string(),
                    );
                }
                if out.block.header != header {
                    return diverged(
                        "header",
                        format!("{header:?}"),
                        format!("{:?}", out.block.header),
                    );
                }
                if out.receipts != stored.receipts {
                    return diverged(
                        "receipts",
                        format!("{:?}", stored.receipts),
                        format!("{:?}", out.receipts),
                    );
                }
            }
        }
        let replayed = Head {
            slot: ledger.slot(),
            height: ledger.height(),
            hash: ledger.head_hash(),
            state_root: ledger.state_root(),
        };
        if replayed != self.head {
            return Err(StoreError::ReplayDiverged {
                path: self.path.clone(),
                slot: replayed.slot,
                what: "head",
                stored: format!("{:?}", self.head),
                replayed: format!("{replayed:?}"),
            });
        }
        Ok(replayed.state_root)
    }

    fn read(&self) -> Result<ReadTransaction, StoreError> {
        self.db
            .begin_read()
            .map_err(|e| redb_error(&self.path, "starting a read", e))
    }

    fn blocks_table(
        &self,
        read: &ReadTransaction,
    ) -> Result<redb::ReadOnlyTable<u64, &'static [u8]>, StoreError> {
        read.open_table(BLOCKS)
            .map_err(|e| redb_error(&self.path, "opening blocks", e))
    }

    fn receipts_table(
        &self,
        read: &ReadTransaction,
    ) -> Result<redb::ReadOnlyTable<(u64, u32), &'static [u8]>, StoreError> {
        read.open_table(RECEIPTS)
            .map_err(|e| redb_error(&self.path, "opening receipts", e))
    }

    fn stored_block(
        &self,
        receipts: &redb::ReadOnlyTable<(u64, u32), &'static [u8]>,
        slot: Slot,
        block_bytes: &[u8],
    ) -> Result<StoredBlock, StoreError> {
        let block: Block = decode(&self.path, &format!("block at slot {slot}"), block_bytes)?;
        let receipts = read_receipts(receipts, &self.path, slot)?
            .ok_or_else(|| corrupt(&self.path, format!("receipts of slot {slot} are missing")))?;
        if block.header.slot != slot || receipts.len() != block.txs.len() {
            return Err(corrupt(
                &self.path,
                format!(
                    "block stored at slot {slot} says slot {}, has {} transactions and {} receipts",
                    block.header.slot,
                    block.txs.len(),
                    receipts.len()
                ),
            ));
        }
        Ok(StoredBlock { block, receipts })
    }
}

/// Cheap consistency checks of the block log against the head: as many blocks as the head's
/// height, the last one at the head's slot with the head's hash.
fn check_block_log(
    read: &ReadTransaction,
    path: &Path,
    genesis: &Genesis,
    head: &Head,
) -> Result<(), StoreError> {
    let blocks = read
        .open_table(BLOCKS)
        .map_err(dberr(path, "opening blocks"))?;
    let count = blocks.len().map_err(dberr(path, "counting blocks"))?;
    if count != head.height {
        return Err(corrupt(
            path,
            format!(
                "it holds {count} blocks, its head is at height {}",
                head.height
            ),
        ));
    }
    match blocks
        .last()
        .map_err(dberr(path, "reading the last block"))?
    {
        None => {
            if head.hash != genesis.hash() {
                return Err(corrupt(
                    path,
                    "it holds no blocks, but its head is not the genesis".into(),
                ));
            }
        }
        Some((slot, bytes)) => {
            let block: Block = decode(path, "the last block", bytes.value())?;
            if slot.value() != head.slot || block.header.hash() != head.hash {
                return Err(corrupt(
                    path,
                    format!(
                        "its last block (slot {}, hash {}) is not its head (slot {}, hash {})",
                        slot.value(),
                        block.header.hash(),
                        head.slot,
                        head.hash
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The stored genesis, or `None` if the database holds no chain yet.
fn read_genesis(db: &Database, path: &Path) -> Result<Option<Genesis>, StoreError> {
    let read = db
        .begin_read()
        .map_err(|e| redb_error(path, "opening", e))?;
    let meta = match read.open_table(META) {
        Ok(t) => t,
        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(redb_error(path, "opening the meta table", e)),
    };
    let format = meta
        .get(META_FORMAT)
        .map_err(|e| redb_error(path, "reading the format version", e))?;
    let Some(format) = format else {
        return Ok(None);
    };
    // The protocol version first: a store of another version is refused before anything
    // of it (genesis, head, blocks) is decoded under this version's rules.
    let protocol = meta
        .get(META_PROTOCOL)
        .map_err(|e| redb_error(path, "reading the protocol version", e))?;
    let protocol = match protocol {
        None => None,
        Some(v) => Some(
            <[u8; 4]>::try_from(v.value())
                .map(u32::from_le_bytes)
                .map_err(|_| corrupt(path, "the protocol version is not 4 bytes".into()))?,
        ),
    };
    if protocol != Some(PROTOCOL_VERSION) {
        return Err(StoreError::ProtocolVersion {
            path: path.to_path_buf(),
            got: protocol,
            expected: PROTOCOL_VERSION,
        });
    }
    let got = <[u8; 4]>::try_from(format.value())
        .map(u32::from_le_bytes)
        .map_err(|_| corrupt(path, "the format version is not 4 bytes".into()))?;
    if got != FORMAT_VERSION {
        return Err(StoreError::UnsupportedFormat {
            path: path.to_path_buf(),
            got,
            expected: FORMAT_VERSION,
        });
    }
    let bytes = meta
        .get(META_GENESIS)
        .map_err(|e| redb_error(path, "reading the genesis", e))?
        .ok_or_else(|| corrupt(path, "the genesis record is missing".into()))?;
    let genesis: Genesis = decode(path, "the genesis record", bytes.value())?;
    genesis
        .validate()
        .map_err(|e| corrupt(path, format!("the stored genesis is invalid: {e}")))?;
    Ok(Some(genesis))
}

fn check_genesis(path: &Path, genesis: &Genesis) -> Result<(), StoreError> {
    genesis
        .validate()
        .map_err(|source| StoreError::InvalidGenesis {
            path: path.to_path_buf(),
            source,
        })
}

fn open_db(path: &Path, create: bool) -> Result<Database, StoreError> {
    let builder = Database::builder();
    let result = if create {
        builder.create(path)
    } else {
        builder.open(path)
    };
    result.map_err(|e| match e {
        DatabaseError::Storage(StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::NotFound =>
        {
            StoreError::NotFound {
                path: path.to_path_buf(),
            }
        }
        e => database_error(path, e),
    })
}

fn database_error(path: &Path, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen {
            path: path.to_path_buf(),
        },
        e => redb_error(path, "opening", e),
    }
}

/// `map_err` adapter for any redb error.
fn dberr<'a, E: Into<redb::Error>>(
    path: &'a Path,
    doing: &'static str,
) -> impl FnOnce(E) -> StoreError + 'a {
    move |e| redb_error(path, doing, e)
}

fn redb_error(path: &Path, doing: &'static str, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db {
        path: path.to_path_buf(),
        doing,
        source: Box::new(e.into()),
    }
}

fn corrupt(path: &Path, what: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        what,
    }
}

fn decode<T: BorshDeserialize>(path: &Path, what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    T::try_from_slice(bytes).map_err(|e| corrupt(path, format!("{what} does not decode: {e}")))
}

fn to_bytes<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("writing to a Vec cannot fail")
}

/// The `state` key of a record: `tag ‖ key`.
fn full_key(w: &StateWrite) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + w.key.len());
    k.push(w.table);
    k.extend_from_slice(&w.key);
    k
}

/// Whether a receipt's transaction used up its id (see [`TxError::marks_seen`]).
fn used_up(result: &Result<(), TxError>) -> bool {
    result.as_ref().err().is_none_or(TxError::marks_seen)
}

fn read_meta<T: BorshDeserialize>(
    meta: &impl ReadableTable<&'static str, &'static [u8]>,
    path: &Path,
    key: &str,
    what: &str,
) -> Result<T, StoreError> {
    let bytes = meta
        .get(key)
        .map_err(dberr(path, "reading meta"))?
        .ok_or_else(|| corrupt(path, format!("{what} is missing")))?;
    decode(path, what, bytes.value())
}

/// The `tx_index` entries a block adds, in order (a later entry for an id replaces an
/// earlier one), given what is pending and what is folded: an id that was used up always
/// takes its block; any other attempt only fills a gap.
fn stage_index(
    pending: &HashMap<Signature, Slot>,
    folded: &impl ReadableTable<[u8; 64], u64>,
    path: &Path,
    slot: Slot,
    receipts: &[Receipt],
) -> Result<Vec<(Signature, Slot)>, StoreError> {
    let mut staged = Vec::with_capacity(receipts.len());
    // Ids staged so far; built only if the block has an attempt that did not use its id up.
    let mut seen: Option<std::collections::HashSet<Signature>> = None;
    for r in receipts {
        if used_up(&r.result) {
            if let Some(seen) = &mut seen {
                seen.insert(r.tx);
            }
            staged.push((r.tx, slot));
            continue;
        }
        let seen = seen.get_or_insert_with(|| staged.iter().map(|(id, _)| *id).collect());
        // Keep what is known (e.g. the original of a duplicate).
        let known = seen.contains(&r.tx)
            || pending.contains_key(&r.tx)
            || folded
                .get(&r.tx.0)
                .map_err(dberr(path, "reading tx_index"))?
                .is_some();
        if !known {
            seen.insert(r.tx);
            staged.push((r.tx, slot));
        }
    }
    Ok(staged)
}

/// Encode `items` as consecutive parts, each a borsh `Vec<T>` of at most `max` bytes unless
/// it holds a single larger item; concatenated in order they are `items`. Always at least
/// one part (empty for no items), so every block has part 0.
fn encode_parts<T: BorshSerialize>(items: &[T], max: usize) -> Vec<Vec<u8>> {
    fn finish(part: &mut [u8], count: u32) {
        part[..4].copy_from_slice(&count.to_le_bytes());
    }
    let mut parts = Vec::new();
    let mut part = vec![0u8; 4];
    let mut count = 0u32;
    for item in items {
        let start = part.len();
        item.serialize(&mut part)
            .expect("writing to a Vec cannot fail");
        if count > 0 && part.len() > max {
            // This item starts the next part.
            let item_bytes = part.split_off(start);
            finish(&mut part, count);
            parts.push(std::mem::replace(&mut part, vec![0u8; 4]));
            part.extend_from_slice(&item_bytes);
            count = 0;
        }
        count += 1;
    }
    finish(&mut part, count);
    parts.push(part);
    parts
}

/// The receipts of the block at `slot`, read from its parts in order; `None` if it has
/// none stored.
fn read_receipts(
    table: &impl ReadableTable<(u64, u32), &'static [u8]>,
    path: &Path,
    slot: Slot,
) -> Result<Option<Vec<Receipt>>, StoreError> {
    let mut list: Option<Vec<Receipt>> = None;
    for (next, row) in (0u32..).zip(
        table
            .range((slot, 0)..=(slot, u32::MAX))
            .map_err(dberr(path, "reading receipts"))?,
    ) {
        let (key, bytes) = row.map_err(dberr(path, "reading receipts"))?;
        let (_, part) = key.value();
        if part != next {
            return Err(corrupt(
                path,
                format!("the receipts of slot {slot} lack part {next}"),
            ));
        }
        let items: Vec<Receipt> = decode(
            path,
            &format!("part {part} of the receipts of slot {slot}"),
            bytes.value(),
        )?;
        list.get_or_insert_with(Vec::new).extend(items);
    }
    Ok(list)
}

/// Remove the logged write sets of these blocks (slot, number of parts) from `writes`.
fn empty_log(
    log: &mut redb::Table<(u64, u32), &'static [u8]>,
    path: &Path,
    slots: &[(Slot, u32)],
) -> Result<(), StoreError> {
    for &(slot, parts) in slots {
        for part in 0..parts {
            log.remove((slot, part))
                .map_err(dberr(path, "emptying writes"))?;
        }
    }
    Ok(())
}

/// Write logged writes into `state`, each key once with its last value, in key order (so
/// neighbouring writes share B-tree pages).
fn fold_writes<'a>(
    state: &mut redb::Table<&'static [u8], &'static [u8]>,
    path: &Path,
    writes: impl Iterator<Item = &'a LoggedWrite>,
) -> Result<(), StoreError> {
    let mut sorted: Vec<&LoggedWrite> = writes.collect();
    // Stable: writes to one key stay in commit order, and the last one wins.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (i, (key, value)) in sorted.iter().enumerate() {
        if sorted.get(i + 1).is_some_and(|next| next.0 == *key) {
            continue; // a later write to this key follows
        }
        match value {
            Some(v) => state.insert(key.as_slice(), v.as_slice()).map(drop),
            None => state.remove(key.as_slice()).map(drop),
        }
        .map_err(dberr(path, "writing state"))?;
    }
    Ok(())
}

/// Write pending and then staged `tx_index` entries (a later entry for an id wins), in key
/// order.
fn fold_index(
    index: &mut redb::Table<[u8; 64], u64>,
    path: &Path,
    pending: &HashMap<Signature, Slot>,
    staged: &[(Signature, Slot)],
) -> Result<(), StoreError> {
    let mut entries: Vec<(&Signature, &Slot)> = pending
        .iter()
        .chain(staged.iter().map(|(id, slot)| (id, slot)))
        .collect();
    // Stable: of two entries for one id, the later (staged) one stays last.
    entries.sort_by_key(|(id, _)| **id);
    for (i, (id, slot)) in entries.iter().enumerate() {
        if entries.get(i + 1).is_some_and(|next| next.0 == *id) {
            continue;
        }
        index
            .insert(&id.0, **slot)
            .map_err(dberr(path, "writing tx_index"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
