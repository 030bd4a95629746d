//! A typed in-memory table that journals every change.
//!
//! Two journals ride on each table:
//! - a per-transaction undo log, so a rejected transaction is rolled back and changes nothing;
//! - the value each key had when the block first touched it, so at block end the table emits
//!   exactly the records that changed (for the store) and updates the state's lattice hash.

use crate::lthash::LtHash;
use crate::state::{NodeRoundKey, StakeKey};
use borsh::BorshSerialize;
use gradual_types::{Pubkey, TaskId};
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Included};
use std::ops::RangeBounds;

/// One changed record, as the store persists it: `None` deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    pub table: u8,
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

pub(crate) struct Table<K, V> {
    pub(crate) tag: u8,
    map: BTreeMap<K, V>,
    block_orig: BTreeMap<K, Option<V>>,
    /// `Some` while a transaction is open; entries are restored in reverse order on rollback,
    /// so the first entry for a key (its value before the tx) is the one that wins.
    tx_undo: Option<Vec<(K, Option<V>)>>,
}

impl<V: Clone + PartialEq + BorshSerialize> Table<StakeKey, V> {
    /// The records of a task keyed by node, after `after` (or from the first), in node
    /// order.
    pub(crate) fn task_nodes(
        &self,
        task: &TaskId,
        after: Option<Pubkey>,
    ) -> impl Iterator<Item = (Pubkey, &V)> {
        let start = after.map_or(Included((*task, Pubkey([0; 32]))), |n| Excluded((*task, n)));
        self.map
            .range((start, Included((*task, Pubkey([0xff; 32])))))
            .map(|((_, n), v)| (*n, v))
    }
}

impl<V: Clone + PartialEq + BorshSerialize> Table<NodeRoundKey, V> {
    /// The records of one round of a task, keyed by node, after `after` (or from the first),
    /// in node order: what the paged and the whole-list reads walk.
    pub(crate) fn round_nodes(
        &self,
        task: &TaskId,
        round: u64,
        after: Option<Pubkey>,
    ) -> impl Iterator<Item = (Pubkey, &V)> {
        let start = after.map_or(Included((*task, round, Pubkey([0; 32]))), |n| {
            Excluded((*task, round, n))
        });
        self.map
            .range((start, Included((*task, round, Pubkey([0xff; 32])))))
            .map(|((_, _, n), v)| (*n, v))
    }

    /// All the records of one round of a task, cloned, in node order.
    pub(crate) fn round_records(&self, task: &TaskId, round: u64) -> Vec<(Pubkey, V)> {
        self.round_nodes(task, round, None)
            .map(|(n, v)| (n, v.clone()))
            .collect()
    }
}

impl<K: Ord + Clone + BorshSerialize, V: Clone + PartialEq + BorshSerialize> Table<K, V> {
    pub(crate) fn new(tag: u8) -> Self {
        Table {
            tag,
            map: BTreeMap::new(),
            block_orig: BTreeMap::new(),
            tx_undo: None,
        }
    }

    pub(crate) fn get(&self, k: &K) -> Option<&V> {
        self.map.get(k)
    }

    pub(crate) fn contains(&self, k: &K) -> bool {
        self.map.contains_key(k)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn range<R: RangeBounds<K>>(
        &self,
        r: R,
    ) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.map.range(r)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.map.iter()
    }

    pub(crate) fn first_key(&self) -> Option<&K> {
        self.map.keys().next()
    }

    /// Journal `k`'s value before a change: in the transaction's undo log, and as the
    /// block's original value if this is the block's first change to `k`.
    fn record(&mut self, k: &K, old: Option<V>) {
        if let Some(undo) = &mut self.tx_undo {
            undo.push((k.clone(), old.clone()));
        }
        self.block_orig.entry(k.clone()).or_insert(old);
    }

    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let old = self.map.get(k)?.clone();
        self.record(k, Some(old));
        self.map.get_mut(k)
    }

    pub(crate) fn insert(&mut self, k: K, v: V) {
        let old = self.map.insert(k.clone(), v);
        self.record(&k, old);
    }

    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        let old = self.map.remove(k)?;
        self.record(k, Some(old.clone()));
        Some(old)
    }

    /// Remove the records in `range` in key order, while fewer than `max_records` are gone
    /// and their encoded keys and values stay within `max_bytes` (with `force_first`, the
    /// first record goes whatever its size). Returns the records and bytes removed and
    /// whether the range is now empty (bounded pruning).
    pub(crate) fn remove_range<R: RangeBounds<K>>(
        &mut self,
        range: R,
        max_records: u64,
        max_bytes: u64,
        force_first: bool,
    ) -> (u64, u64, bool) {
        let mut keys = Vec::new();
        let mut bytes = 0u64;
        let mut left = false;
        for (k, v) in self.map.range(range) {
            let size = encoded_len(k) + encoded_len(v);
            // A step's first record goes whatever its size, so the step makes progress.
            let over = bytes + size > max_bytes && !(force_first && keys.is_empty());
            if keys.len() as u64 >= max_records || over {
                left = true;
                break;
            }
            bytes += size;
            keys.push(k.clone());
        }
        let removed = keys.len() as u64;
        for k in keys {
            self.remove(&k);
        }
        (removed, bytes, !left)
    }

    /// Load a record from the store without journaling (opening a ledger).
    pub(crate) fn load(&mut self, k: K, v: V) {
        self.map.insert(k, v);
    }

    pub(crate) fn begin_tx(&mut self) {
        debug_assert!(self.tx_undo.is_none(), "nested transaction");
        self.tx_undo = Some(Vec::new());
    }

    /// A point inside the open transaction to roll back to (one vote of a batch).
    pub(crate) fn savepoint(&self) -> usize {
        self.tx_undo.as_ref().map_or(0, Vec::len)
    }

    /// Undo every change made since `savepoint`, keeping the transaction open.
    pub(crate) fn rollback_to(&mut self, savepoint: usize) {
        let undo = self
            .tx_undo
            .as_mut()
            .expect("savepoint inside a transaction");
        while undo.len() > savepoint {
            let (k, old) = undo.pop().expect("longer than the savepoint");
            match old {
                Some(v) => self.map.insert(k, v),
                None => self.map.remove(&k),
            };
        }
    }

    pub(crate) fn commit_tx(&mut self) {
        self.tx_undo = None;
    }

    pub(crate) fn rollback_tx(&mut self) {
        let undo = self.tx_undo.take().expect("rollback without begin");
        for (k, old) in undo.into_iter().rev() {
            match old {
                Some(v) => self.map.insert(k, v),
                None => self.map.remove(&k),
            };
        }
        // block_orig may now hold keys whose value is back to the original; finish_block
        // compares and emits nothing for them.
    }

    /// Emit the block's changed records and fold them into the lattice hash.
    pub(crate) fn finish_block(&mut self, lthash: &mut LtHash, writes: &mut Vec<StateWrite>) {
        assert!(
            self.tx_undo.is_none(),
            "block finished inside a transaction"
        );
        for (k, orig) in std::mem::take(&mut self.block_orig) {
            let now = self.map.get(&k);
            if orig.as_ref() == now {
                continue;
            }
            let key = borsh::to_vec(&k).expect("vec write");
            if let Some(old) = &orig {
                let old = borsh::to_vec(old).expect("vec write");
                lthash.sub_element(self.tag, &key, &old);
            }
            let value = now.map(|v| borsh::to_vec(v).expect("vec write"));
            if let Some(new) = &value {
                lthash.add_element(self.tag, &key, new);
            }
            writes.push(StateWrite {
                table: self.tag,
                key,
                value,
            });
        }
    }

    /// Fold every record into a lattice hash (opening a ledger, checking a root).
    pub(crate) fn hash_all(&self, lthash: &mut LtHash) {
        for (k, v) in &self.map {
            let key = borsh::to_vec(k).expect("vec write");
            let value = borsh::to_vec(v).expect("vec write");
            lthash.add_element(self.tag, &key, &value);
        }
    }
}

/// What the ledger does with every table alike, whatever its key and value types: the
/// tables are declared once (`ledger_tables!` in `ledger/mod.rs`) and walked through this.
pub(crate) trait AnyTable {
    fn tag(&self) -> u8;
    /// Records in the table.
    fn records(&self) -> usize;
    fn begin_tx(&mut self);
    fn savepoint(&self) -> usize;
    fn rollback_to(&mut self, savepoint: usize);
    fn commit_tx(&mut self);
    fn rollback_tx(&mut self);
    fn finish_block(&mut self, lthash: &mut LtHash, writes: &mut Vec<StateWrite>);
    fn hash_all(&self, lthash: &mut LtHash);
    /// Every record, encoded as the store holds it.
    fn dump(&self, out: &mut Vec<StateWrite>);
    /// Load one stored record (opening a ledger); why it does not decode otherwise.
    fn load_encoded(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
}

impl<K, V> AnyTable for Table<K, V>
where
    K: Ord + Clone + BorshSerialize + borsh::BorshDeserialize,
    V: Clone + PartialEq + BorshSerialize + borsh::BorshDeserialize,
{
    fn tag(&self) -> u8 {
        self.tag
    }
    fn records(&self) -> usize {
        self.len()
    }
    fn begin_tx(&mut self) {
        Table::begin_tx(self)
    }
    fn savepoint(&self) -> usize {
        Table::savepoint(self)
    }
    fn rollback_to(&mut self, savepoint: usize) {
        Table::rollback_to(self, savepoint)
    }
    fn commit_tx(&mut self) {
        Table::commit_tx(self)
    }
    fn rollback_tx(&mut self) {
        Table::rollback_tx(self)
    }
    fn finish_block(&mut self, lthash: &mut LtHash, writes: &mut Vec<StateWrite>) {
        Table::finish_block(self, lthash, writes)
    }
    fn hash_all(&self, lthash: &mut LtHash) {
        Table::hash_all(self, lthash)
    }
    fn dump(&self, out: &mut Vec<StateWrite>) {
        for (k, v) in &self.map {
            out.push(StateWrite {
                table: self.tag,
                key: borsh::to_vec(k).expect("vec write"),
                value: Some(borsh::to_vec(v).expect("vec write")),
            });
        }
    }
    fn load_encoded(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        let k = K::try_from_slice(key).map_err(|e| format!("key: {e}"))?;
        let v = V::try_from_slice(value).map_err(|e| format!("value: {e}"))?;
        self.load(k, v);
        Ok(())
    }
}

/// Bytes of a record's borsh encoding.
pub(crate) fn encoded_len<T: BorshSerialize>(value: &T) -> u64 {
    borsh::object_length(value).expect("vec write") as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journals: a rolled-back transaction leaves nothing behind, and a block emits
    /// exactly the records whose value changed, with the lattice hash kept in step.
    #[test]
    fn rollback_restores_and_finish_emits_only_changes() {
        let mut t: Table<u32, u64> = Table::new(9);
        t.load(1, 10);
        t.load(2, 20);
        t.load(3, 30);
        let mut h = LtHash::default();
        t.hash_all(&mut h);

        // A transaction that touches every key several ways, then is rolled back.
        t.begin_tx();
        t.insert(1, 11);
        t.insert(1, 12);
        *t.get_mut(&2).unwrap() += 5;
        assert_eq!(t.remove(&3), Some(30));
        assert_eq!(t.remove(&3), None);
        t.insert(4, 40);
        assert_eq!(t.get_mut(&5), None);
        t.rollback_tx();
        let loaded: Vec<(u32, u64)> = t.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(loaded, vec![(1, 10), (2, 20), (3, 30)]);

        // A committed transaction: 1 changes, 2 changes and changes back, 3 goes, 4 comes.
        t.begin_tx();
        t.insert(1, 15);
        t.insert(2, 21);
        t.insert(2, 20);
        t.remove(&3);
        t.insert(4, 40);
        t.commit_tx();
        let mut writes = Vec::new();
        t.finish_block(&mut h, &mut writes);
        let enc = |x: u64| borsh::to_vec(&x).unwrap();
        let key = |k: u32| borsh::to_vec(&k).unwrap();
        assert_eq!(
            writes,
            vec![
                StateWrite {
                    table: 9,
                    key: key(1),
                    value: Some(enc(15))
                },
                StateWrite {
                    table: 9,
                    key: key(3),
                    value: None
                },
                StateWrite {
                    table: 9,
                    key: key(4),
                    value: Some(enc(40))
                },
            ]
        );
        let mut fresh = LtHash::default();
        t.hash_all(&mut fresh);
        assert_eq!(h, fresh, "incremental hash equals a full recompute");

        // The next block starts with clean journals.
        let mut writes = Vec::new();
        t.finish_block(&mut h, &mut writes);
        assert!(writes.is_empty());
    }
}
