//! Committing blocks: one durable redb transaction per block, the write-set log and its
//! folding into `state` and `tx_index` at checkpoints.

use crate::*;

impl Store {
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
}

/// The `tx_index` entries a block adds, in order (a later entry for an id replaces an
/// earlier one), given what is pending and what is folded: an id that was used up always
/// takes its block; any other attempt only fills a gap.
pub(crate) fn stage_index(
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
pub(crate) fn encode_parts<T: BorshSerialize>(items: &[T], max: usize) -> Vec<Vec<u8>> {
    pub(crate) fn finish(part: &mut [u8], count: u32) {
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

/// Remove the logged write sets of these blocks (slot, number of parts) from `writes`.
pub(crate) fn empty_log(
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
pub(crate) fn fold_writes<'a>(
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
pub(crate) fn fold_index(
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
