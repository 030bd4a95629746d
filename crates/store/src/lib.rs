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

mod commit;
mod error;
mod open;
mod read;
mod replay;

pub use error::{ChainIdentity, StoreError};
pub use redb::backends::InMemoryBackend;
pub use redb::StorageBackend;

use borsh::{BorshDeserialize, BorshSerialize};
use gradual_ledger::{Block, BlockOutput, Ledger, Receipt, StateWrite, TxError};
#[cfg(doc)]
use gradual_types::constants::BLOCK_BYTES_MAX;
use gradual_types::constants::PROTOCOL_VERSION;
use gradual_types::{Genesis, Hash, Signature, Slot};
use redb::{
    AccessGuard, Database, DatabaseError, Durability, ReadTransaction, ReadableTable,
    ReadableTableMetadata, StorageError, TableDefinition, TableError,
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

/// `map_err` adapter for any redb error.
pub(crate) fn dberr<'a, E: Into<redb::Error>>(
    path: &'a Path,
    doing: &'static str,
) -> impl FnOnce(E) -> StoreError + 'a {
    move |e| redb_error(path, doing, e)
}

pub(crate) fn redb_error(
    path: &Path,
    doing: &'static str,
    e: impl Into<redb::Error>,
) -> StoreError {
    StoreError::Db {
        path: path.to_path_buf(),
        doing,
        source: Box::new(e.into()),
    }
}

pub(crate) fn corrupt(path: &Path, what: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        what,
    }
}

pub(crate) fn decode<T: BorshDeserialize>(
    path: &Path,
    what: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    T::try_from_slice(bytes).map_err(|e| corrupt(path, format!("{what} does not decode: {e}")))
}

/// A row of a table keyed by `(slot, part)` (`writes`, `receipts`), decoded.
pub(crate) struct PartRow<T> {
    pub slot: Slot,
    pub part: u32,
    pub items: Vec<T>,
    /// The stored size of the part.
    pub bytes: u64,
}

/// A row as a `(slot, part)` table's range yields it.
type RawPartRow<'a> =
    Result<(AccessGuard<'a, (u64, u32)>, AccessGuard<'a, &'static [u8]>), StorageError>;

/// Decode a `(slot, part)` row; `doing` names the read for a database error and `what` the
/// table's contents ("receipts", "write set") for a corrupt one.
pub(crate) fn part_row<T: BorshDeserialize>(
    path: &Path,
    doing: &'static str,
    what: &str,
    row: RawPartRow<'_>,
) -> Result<PartRow<T>, StoreError> {
    let (key, bytes) = row.map_err(dberr(path, doing))?;
    let (slot, part) = key.value();
    let items = decode(
        path,
        &format!("part {part} of the {what} of slot {slot}"),
        bytes.value(),
    )?;
    let bytes = bytes.value().len() as u64;
    Ok(PartRow {
        slot,
        part,
        items,
        bytes,
    })
}

pub(crate) fn to_bytes<T: BorshSerialize>(value: &T) -> Vec<u8> {
    borsh::to_vec(value).expect("writing to a Vec cannot fail")
}

/// The `state` key of a record: `tag ‖ key`.
pub(crate) fn full_key(w: &StateWrite) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + w.key.len());
    k.push(w.table);
    k.extend_from_slice(&w.key);
    k
}

/// Whether a receipt's transaction used up its id (see [`TxError::marks_seen`]).
pub(crate) fn used_up(result: &Result<(), TxError>) -> bool {
    result.as_ref().err().is_none_or(TxError::marks_seen)
}

pub(crate) fn read_meta<T: BorshDeserialize>(
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

#[cfg(test)]
mod tests;
