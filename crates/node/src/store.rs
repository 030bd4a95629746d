//! The node's own durable state in `<data_dir>/node.redb`:
//!
//! - `kv`: each task's key-value store (`/node/v1/kv/<key>`), keyed `task id ‖ key`;
//! - `proofs`: the signed `SubmitProof` transaction of each `(task, round)`, written (and
//!   committed, i.e. fsynced) *before* it is sent. After a crash the node re-sends these
//!   exact bytes, which the ledger de-duplicates by signature, so a proof is never submitted
//!   twice and never lost;
//! - `withdrawn`: tasks whose stake this node saw withdrawn (it stops them and does not
//!   stake again until a stake comes back), so a restart does not forget it.

use gradual_types::{TaskId, Transaction};
use redb::{Database, TableDefinition};
use std::path::Path;

const KV: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");
const PROOFS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("proofs");
const WITHDRAWN: TableDefinition<&[u8], u8> = TableDefinition::new("withdrawn");

/// Largest key and value of the task kv store (docs/task-protocol.md §3).
pub use gradual_task_sdk::protocol::limits::{KV_KEY_BYTES_MAX, KV_VALUE_BYTES_MAX};

#[derive(Debug, thiserror::Error)]
#[error("node store: {0}")]
pub struct StoreError(String);

fn e(err: impl std::fmt::Display) -> StoreError {
    StoreError(err.to_string())
}

pub struct NodeStore {
    db: Database,
}

fn kv_key(task: &TaskId, key: &[u8]) -> Vec<u8> {
    let mut k = task.0.to_vec();
    k.extend_from_slice(key);
    k
}

fn proof_key(task: &TaskId, round: u64) -> Vec<u8> {
    let mut k = task.0.to_vec();
    k.extend_from_slice(&round.to_be_bytes());
    k
}

impl NodeStore {
    pub fn open(path: &Path) -> Result<NodeStore, StoreError> {
        let db = Database::create(path)
            .map_err(|x| StoreError(format!("cannot open '{}': {x}", path.display())))?;
        let w = db.begin_write().map_err(e)?;
        w.open_table(KV).map_err(e)?;
        w.open_table(PROOFS).map_err(e)?;
        w.open_table(WITHDRAWN).map_err(e)?;
        w.commit().map_err(e)?;
        Ok(NodeStore { db })
    }

    pub fn kv_get(&self, task: &TaskId, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let r = self.db.begin_read().map_err(e)?;
        let t = r.open_table(KV).map_err(e)?;
        Ok(t.get(kv_key(task, key).as_slice())
            .map_err(e)?
            .map(|v| v.value().to_vec()))
    }

    pub fn kv_put(&self, task: &TaskId, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let w = self.db.begin_write().map_err(e)?;
        {
            let mut t = w.open_table(KV).map_err(e)?;
            t.insert(kv_key(task, key).as_slice(), value).map_err(e)?;
        }
        w.commit().map_err(e)
    }

    pub fn kv_delete(&self, task: &TaskId, key: &[u8]) -> Result<(), StoreError> {
        let w = self.db.begin_write().map_err(e)?;
        {
            let mut t = w.open_table(KV).map_err(e)?;
            t.remove(kv_key(task, key).as_slice()).map_err(e)?;
        }
        w.commit().map_err(e)
    }

    /// The proof transaction recorded for `(task, round)`, if any.
    pub fn proof_tx(&self, task: &TaskId, round: u64) -> Result<Option<Transaction>, StoreError> {
        let r = self.db.begin_read().map_err(e)?;
        let t = r.open_table(PROOFS).map_err(e)?;
        let Some(v) = t.get(proof_key(task, round).as_slice()).map_err(e)? else {
            return Ok(None);
        };
        // A record that no longer decodes is dropped rather than trusted.
        Ok(Transaction::decode(v.value()).ok())
    }

    /// Record the proof transaction of `(task, round)` durably.
    pub fn put_proof_tx(
        &self,
        task: &TaskId,
        round: u64,
        tx: &Transaction,
    ) -> Result<(), StoreError> {
        let w = self.db.begin_write().map_err(e)?;
        {
            let mut t = w.open_table(PROOFS).map_err(e)?;
            t.insert(proof_key(task, round).as_slice(), tx.encode().as_slice())
                .map_err(e)?;
        }
        w.commit().map_err(e)
    }

    /// Whether this node saw its stake in `task` withdrawn (and none since).
    pub fn withdrawn(&self, task: &TaskId) -> Result<bool, StoreError> {
        let r = self.db.begin_read().map_err(e)?;
        let t = r.open_table(WITHDRAWN).map_err(e)?;
        Ok(t.get(task.0.as_slice()).map_err(e)?.is_some())
    }

    pub fn set_withdrawn(&self, task: &TaskId, withdrawn: bool) -> Result<(), StoreError> {
        let w = self.db.begin_write().map_err(e)?;
        {
            let mut t = w.open_table(WITHDRAWN).map_err(e)?;
            if withdrawn {
                t.insert(task.0.as_slice(), 1u8).map_err(e)?;
            } else {
                t.remove(task.0.as_slice()).map_err(e)?;
            }
        }
        w.commit().map_err(e)
    }

    /// Forget proof records of rounds before `round` (they can no longer change).
    pub fn prune_proofs(&self, task: &TaskId, before_round: u64) -> Result<(), StoreError> {
        let w = self.db.begin_write().map_err(e)?;
        {
            let mut t = w.open_table(PROOFS).map_err(e)?;
            let lo = proof_key(task, 0);
            let hi = proof_key(task, before_round);
            t.retain_in(lo.as_slice()..hi.as_slice(), |_, _| false)
                .map_err(e)?;
        }
        w.commit().map_err(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::{Hash, Instruction, Keypair};

    #[test]
    fn kv_and_proofs_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("node.redb");
        let task = Hash([7; 32]);
        let kp = Keypair::from_seed([1; 32]);
        let tx = Transaction::new_signed(
            &kp,
            "c",
            5,
            0,
            Instruction::SubmitProof {
                task,
                round: 3,
                value: vec![1, 2],
            },
        );
        {
            let s = NodeStore::open(&p).unwrap();
            s.kv_put(&task, b"a", b"hello").unwrap();
            s.put_proof_tx(&task, 3, &tx).unwrap();
            s.put_proof_tx(&task, 9, &tx).unwrap();
        }
        let s = NodeStore::open(&p).unwrap();
        assert_eq!(s.kv_get(&task, b"a").unwrap().unwrap(), b"hello");
        assert_eq!(s.kv_get(&Hash([8; 32]), b"a").unwrap(), None);
        assert_eq!(s.proof_tx(&task, 3).unwrap(), Some(tx.clone()));
        s.prune_proofs(&task, 4).unwrap();
        assert_eq!(s.proof_tx(&task, 3).unwrap(), None);
        assert_eq!(s.proof_tx(&task, 9).unwrap(), Some(tx));
        s.kv_delete(&task, b"a").unwrap();
        assert_eq!(s.kv_get(&task, b"a").unwrap(), None);
        assert!(!s.withdrawn(&task).unwrap());
        s.set_withdrawn(&task, true).unwrap();
        drop(s);
        let s = NodeStore::open(&p).unwrap();
        assert!(s.withdrawn(&task).unwrap());
        assert!(!s.withdrawn(&Hash([8; 32])).unwrap());
        s.set_withdrawn(&task, false).unwrap();
        assert!(!s.withdrawn(&task).unwrap());
    }
}
