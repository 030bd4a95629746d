//! Creating and opening a store: the genesis written once, the format and protocol versions
//! checked, the ledger rebuilt from its records and write-set log and checked against the head.

use crate::commit::stage_index;
use crate::read::read_receipts;
use crate::*;

impl Store {
    /// Create a store for a new chain at `path` and return it with the genesis ledger.
    /// Fails with [`StoreError::AlreadyExists`] if the file already holds a chain.
    ///
    /// A new file is built under a temporary name next to `path` and renamed into place once
    /// its genesis is durable, so a crash while creating leaves no store at `path`.
    pub fn create(path: &Path, genesis: &Genesis) -> Result<(Store, Ledger), StoreError> {
        Store::create_or(path, genesis, Mode::Create(genesis))
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
        Store::create_or(path, genesis, Mode::OpenOrCreate(genesis))
    }

    /// A new store from `genesis` when nothing is at `path`, else `mode` on the file there.
    fn create_or(
        path: &Path,
        genesis: &Genesis,
        mode: Mode,
    ) -> Result<(Store, Ledger), StoreError> {
        check_genesis(path, genesis)?;
        if !path.exists() {
            return Store::create_fresh(path, genesis);
        }
        let db = open_db(path, true)?;
        Store::start(db, path.to_path_buf(), mode)
    }

    /// Build a new store in `<path>.creating`, then rename it to `path` and sync the
    /// directory: the file appears at `path` only with its genesis durable in it.
    pub(crate) fn create_fresh(
        path: &Path,
        genesis: &Genesis,
    ) -> Result<(Store, Ledger), StoreError> {
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

    pub(crate) fn start(
        db: Database,
        path: PathBuf,
        mode: Mode,
    ) -> Result<(Store, Ledger), StoreError> {
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
    pub(crate) fn init(
        db: Database,
        path: PathBuf,
        genesis: &Genesis,
    ) -> Result<(Store, Ledger), StoreError> {
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
    pub(crate) fn load(
        db: Database,
        path: PathBuf,
        genesis: Genesis,
    ) -> Result<(Store, Ledger), StoreError> {
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
            let PartRow {
                slot,
                part,
                items,
                bytes,
            } = part_row::<LoggedWrite>(&path, "reading writes", "write set", row)?;
            pending.bytes += bytes;
            pending.writes.extend(items);
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
            let PartRow { slot, items, .. } =
                part_row::<Receipt>(&path, "reading recent receipts", "receipts", row)?;
            let ids = items
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
}

/// Cheap consistency checks of the block log against the head: as many blocks as the head's
/// height, the last one at the head's slot with the head's hash.
pub(crate) fn check_block_log(
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
pub(crate) fn read_genesis(db: &Database, path: &Path) -> Result<Option<Genesis>, StoreError> {
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

pub(crate) fn check_genesis(path: &Path, genesis: &Genesis) -> Result<(), StoreError> {
    genesis
        .validate()
        .map_err(|source| StoreError::InvalidGenesis {
            path: path.to_path_buf(),
            source,
        })
}

pub(crate) fn open_db(path: &Path, create: bool) -> Result<Database, StoreError> {
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

pub(crate) fn database_error(path: &Path, e: DatabaseError) -> StoreError {
    match e {
        DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen {
            path: path.to_path_buf(),
        },
        e => redb_error(path, "opening", e),
    }
}
