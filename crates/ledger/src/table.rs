//! A typed in-memory table that journals every change.
//!
//! Two journals ride on each table:
//! - a per-transaction undo log, so a rejected transaction is rolled back and changes nothing;
//! - the value each key had when the block first touched it, so at block end the table emits
//!   exactly the records that changed (for the store) and updates the state's lattice hash.

use crate::lthash::LtHash;
use borsh::BorshSerialize;
use std::collections::BTreeMap;
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

    fn touch(&mut self, k: &K) {
        if !self.block_orig.contains_key(k) {
            self.block_orig.insert(k.clone(), self.map.get(k).cloned());
        }
        if let Some(undo) = &mut self.tx_undo {
            undo.push((k.clone(), self.map.get(k).cloned()));
        }
    }

    pub(crate) fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        if !self.map.contains_key(k) {
            return None;
        }
        self.touch(k);
        self.map.get_mut(k)
    }

    pub(crate) fn insert(&mut self, k: K, v: V) {
        self.touch(&k);
        self.map.insert(k, v);
    }

    pub(crate) fn remove(&mut self, k: &K) -> Option<V> {
        if !self.map.contains_key(k) {
            return None;
        }
        self.touch(k);
        self.map.remove(k)
    }

    /// Load a record from the store without journaling (opening a ledger).
    pub(crate) fn load(&mut self, k: K, v: V) {
        self.map.insert(k, v);
    }

    pub(crate) fn begin_tx(&mut self) {
        debug_assert!(self.tx_undo.is_none(), "nested transaction");
        self.tx_undo = Some(Vec::new());
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
                lthash.sub(&LtHash::element(self.tag, &key, &old));
            }
            let value = now.map(|v| borsh::to_vec(v).expect("vec write"));
            if let Some(new) = &value {
                lthash.add(&LtHash::element(self.tag, &key, new));
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
            lthash.add(&LtHash::element(self.tag, &key, &value));
        }
    }
}
