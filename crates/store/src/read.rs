//! Reads of committed blocks, receipts and transaction statuses.

use crate::*;

impl Store {
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

    pub(crate) fn read(&self) -> Result<ReadTransaction, StoreError> {
        self.db
            .begin_read()
            .map_err(|e| redb_error(&self.path, "starting a read", e))
    }

    pub(crate) fn blocks_table(
        &self,
        read: &ReadTransaction,
    ) -> Result<redb::ReadOnlyTable<u64, &'static [u8]>, StoreError> {
        read.open_table(BLOCKS)
            .map_err(|e| redb_error(&self.path, "opening blocks", e))
    }

    pub(crate) fn receipts_table(
        &self,
        read: &ReadTransaction,
    ) -> Result<redb::ReadOnlyTable<(u64, u32), &'static [u8]>, StoreError> {
        read.open_table(RECEIPTS)
            .map_err(|e| redb_error(&self.path, "opening receipts", e))
    }

    pub(crate) fn stored_block(
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

/// The receipts of the block at `slot`, read from its parts in order; `None` if it has
/// none stored.
pub(crate) fn read_receipts(
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
        let PartRow { part, items, .. } =
            part_row::<Receipt>(path, "reading receipts", "receipts", row)?;
        if part != next {
            return Err(corrupt(
                path,
                format!("the receipts of slot {slot} lack part {next}"),
            ));
        }
        list.get_or_insert_with(Vec::new).extend(items);
    }
    Ok(list)
}
