//! Unit tests of the store: round trips, errors, the transaction index, replay, and replay
//! protection across restarts.

use super::*;
use crate::commit::encode_parts;
use gradual_ledger::testkit::key;
use gradual_ledger::CheckedTx;
use gradual_types::{Faucet, Instruction, Keypair, TaskId, TaskParams, Transaction, ValidatorKey};
use tempfile::TempDir;

const BALANCE: u64 = 1_000_000_000_000;

fn genesis(chain_id: &str, n: u32) -> (Genesis, Vec<Keypair>) {
    let keys: Vec<Keypair> = (0..n).map(key).collect();
    let genesis = Genesis {
        chain_id: chain_id.into(),
        // 3 s slots: the vote window is AW/3 slots (SPEC §5), so the test task's 3-slot
        // audit window is long enough.
        slot_ms: 3_000,
        faucet: Some(Faucet::new(keys[0].pubkey(), BALANCE)),
        accounts: keys.iter().map(|k| (k.pubkey(), BALANCE)).collect(),
        ..Genesis::default()
    };
    (genesis, keys)
}

/// A store and the ledger it was opened with, driven one block at a time.
struct Node {
    store: Store,
    ledger: Ledger,
}

impl Node {
    fn tx(&self, who: &Keypair, ix: Instruction) -> Transaction {
        Transaction::new_signed(
            who,
            &self.ledger.genesis().chain_id,
            self.ledger.slot(),
            0,
            ix,
        )
    }

    /// Apply and commit a block at `slot`; returns the receipts' results.
    fn block(&mut self, slot: Slot, txs: Vec<Transaction>) -> Vec<Result<(), TxError>> {
        let parent = self.ledger.head_hash();
        let seal = self.ledger.seal(&ValidatorKey::devnet(), slot);
        let out = self
            .ledger
            .apply_block(slot, parent, seal, CheckedTx::check_all(txs, 2))
            .expect("block applies");
        self.store.commit(&out).expect("block commits");
        assert_eq!(self.store.head().state_root, self.ledger.state_root());
        out.receipts.into_iter().map(|r| r.result).collect()
    }

    fn run_to(&mut self, slot: Slot) {
        while self.ledger.slot() < slot {
            let next = self.ledger.slot() + 1;
            self.block(next, vec![]);
        }
    }
}

fn task_params() -> TaskParams {
    TaskParams {
        name: "store-test".into(),
        bounty_per_round: 1_000,
        round_time: 10,
        submission_window: 3,
        audit_window: 3,
        minimum_stake: 1_000,
        ..TaskParams::default()
    }
}

/// A short chain with transfers (one empties an account, so a record is deleted), a rejected
/// transaction, a task, stakes, skipped slots and proof submissions, run past the audit window.
/// Returns the task and the id of every transaction that succeeded.
fn busy_chain(node: &mut Node, keys: &[Keypair]) -> (TaskId, Vec<Signature>) {
    let mut ok = Vec::new();
    let mut run = |node: &mut Node, slot: Slot, txs: Vec<Transaction>| {
        let ids: Vec<Signature> = txs.iter().map(Transaction::id).collect();
        let results = node.block(slot, txs);
        for (id, r) in ids.into_iter().zip(&results) {
            if r.is_ok() {
                ok.push(id);
            }
        }
        results
    };
    let txs = vec![
        node.tx(
            &keys[5],
            Instruction::Transfer {
                to: keys[4].pubkey(),
                amount: BALANCE,
            },
        ),
        node.tx(
            &keys[2],
            Instruction::Transfer {
                to: keys[3].pubkey(),
                amount: BALANCE + 1,
            },
        ),
    ];
    let results = run(node, 1, txs);
    assert_eq!(results[0], Ok(()));
    assert!(matches!(results[1], Err(TxError::InsufficientFunds { .. })));
    assert_eq!(node.ledger.balance(&keys[5].pubkey()), 0, "record deleted");
    let create = node.tx(
        &keys[0],
        Instruction::CreateTask {
            nonce: 1,
            params: task_params(),
            total_bounty: 100_000,
        },
    );
    assert_eq!(run(node, 2, vec![create]), vec![Ok(())]);
    let task = gradual_types::task_id(&keys[0].pubkey(), 1);
    let stakes = (1..5)
        .map(|i| {
            node.tx(
                &keys[i],
                Instruction::Stake {
                    task,
                    amount: 2_000,
                    url: format!("http://node{i}"),
                    owner: None,
                },
            )
        })
        .collect();
    assert!(run(node, 3, stakes).iter().all(Result::is_ok));
    // Slots 4..=20 are skipped. Round 1 starts at slot 12; its proof submission window is
    // [22, 25).
    run(node, 21, vec![]);
    let proofs = (1..5)
        .map(|i| {
            node.tx(
                &keys[i],
                Instruction::SubmitProof {
                    task,
                    round: 1,
                    value: vec![i as u8; 32],
                },
            )
        })
        .collect();
    assert!(run(node, 22, proofs).iter().all(Result::is_ok));
    node.run_to(30);
    (task, ok)
}

/// The error of an open or create that must fail (`Ledger` is not `Debug`).
fn fails<T>(result: Result<T, StoreError>) -> StoreError {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

fn create(dir: &TempDir, chain: &str) -> (PathBuf, Node, Vec<Keypair>) {
    let path = dir.path().join("chain.redb");
    let (g, keys) = genesis(chain, 6);
    let (store, ledger) = Store::create(&path, &g).expect("create");
    (path, Node { store, ledger }, keys)
}

fn reopen(path: &Path) -> Node {
    let (store, ledger) = Store::open(path).expect("reopen");
    Node { store, ledger }
}

#[test]
fn create_then_open_round_trip() {
    let dir = TempDir::new().unwrap();
    let (path, node, _) = create(&dir, "a");
    let head = node.store.head();
    assert_eq!(head.slot, 0);
    assert_eq!(head.height, 0);
    assert_eq!(head.hash, node.store.genesis().hash());
    assert_eq!(head.state_root, node.ledger.state_root());
    let genesis = node.store.genesis().clone();
    drop(node);

    let node = reopen(&path);
    assert_eq!(node.store.head(), head);
    assert_eq!(*node.store.genesis(), genesis);
    assert_eq!(node.ledger.state_root(), head.state_root);
    assert_eq!(node.ledger.head_hash(), genesis.hash());
    assert_eq!(node.ledger.records(), Ledger::new(genesis).records());
    assert_eq!(node.store.blocks_from(0, 10).unwrap(), vec![]);
    assert_eq!(node.store.replay().unwrap(), head.state_root);
}

#[test]
fn commit_then_reopen_yields_same_root_head_state_and_blocks() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    let (task, _) = busy_chain(&mut node, &keys);
    let head = node.store.head();
    assert_eq!((head.slot, head.height), (30, 13));
    assert_eq!(head.hash, node.ledger.head_hash());
    let records = node.ledger.records();
    let blocks = node.store.blocks_from(0, 100).unwrap();
    assert_eq!(blocks.len(), 13);
    drop(node);

    let mut node = reopen(&path);
    assert_eq!(node.store.head(), head);
    assert_eq!(node.ledger.state_root(), head.state_root);
    assert_eq!(node.ledger.head_hash(), head.hash);
    assert_eq!((node.ledger.slot(), node.ledger.height()), (30, 13));
    assert_eq!(node.ledger.records(), records);
    assert_eq!(node.store.blocks_from(0, 100).unwrap(), blocks);
    assert_eq!(node.ledger.submissions(&task, 1).len(), 4);

    // The log is a chain: heights 1.., each parent the previous block's hash.
    let mut parent = node.store.genesis().hash();
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(b.block.header.height, i as u64 + 1);
        assert_eq!(b.block.header.parent_hash, parent);
        assert_eq!(b.receipts.len(), b.block.txs.len());
        parent = b.block.hash();
    }
    assert_eq!(parent, head.hash);
    let at_22 = node.store.block(22).unwrap().expect("block at 22");
    assert_eq!(at_22.block.txs.len(), 4);
    assert_eq!(node.store.block(5).unwrap(), None, "slot 5 was skipped");
    assert_eq!(node.store.blocks_from(21, 2).unwrap().len(), 2);
    assert_eq!(node.store.blocks_from(22, 1).unwrap()[0], at_22);

    // The reopened pair keeps going, and a second reopen agrees with it.
    node.block(31, vec![]);
    let head = node.store.head();
    drop(node);
    let node = reopen(&path);
    assert_eq!(node.store.head(), head);
    assert_eq!(node.ledger.state_root(), head.state_root);
}

#[test]
fn create_refuses_a_file_that_holds_a_chain() {
    let dir = TempDir::new().unwrap();
    let (path, node, _) = create(&dir, "a");
    drop(node);
    let (g, _) = genesis("a", 6);
    let err = fails(Store::create(&path, &g));
    assert!(
        matches!(&err, StoreError::AlreadyExists { chain_id, .. } if chain_id == "a"),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "store at '{}' already holds chain 'a'; open it instead, or pick another path",
            path.display()
        )
    );
}

#[test]
fn open_or_create_creates_then_opens_and_refuses_another_genesis() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("chain.redb");
    let (a, keys) = genesis("a", 6);
    let (store, ledger) = Store::open_or_create(&path, &a).unwrap();
    let mut node = Node { store, ledger };
    node.block(
        1,
        vec![node.tx(
            &keys[1],
            Instruction::Transfer {
                to: keys[2].pubkey(),
                amount: 7,
            },
        )],
    );
    let head = node.store.head();
    drop(node);

    let (store, ledger) = Store::open_or_create(&path, &a).unwrap();
    assert_eq!(store.head(), head);
    assert_eq!(ledger.state_root(), head.state_root);
    drop(store);

    let (b, _) = genesis("b", 6);
    let err = fails(Store::open_or_create(&path, &b));
    assert!(
        matches!(&err, StoreError::GenesisMismatch { stored, given, .. }
            if stored.chain_id == "a" && given.chain_id == "b"),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "store at '{}' holds chain 'a' (genesis {}), the genesis given is for chain 'b'",
            path.display(),
            a.hash()
        )),
        "{msg}"
    );
    // Same chain id, other parameters: still a mismatch (the hashes differ).
    let other = Genesis {
        fee_roe: 1,
        ..a.clone()
    };
    assert!(matches!(
        Store::open_or_create(&path, &other),
        Err(StoreError::GenesisMismatch { .. })
    ));
}

#[test]
fn open_errors_say_what_is_wrong() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("missing.redb");
    let err = fails(Store::open(&missing));
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(!missing.exists(), "open must not create a file");

    // A redb file that was never initialised from a genesis.
    let empty = dir.path().join("empty.redb");
    drop(redb::Database::create(&empty).unwrap());
    let err = fails(Store::open(&empty));
    assert!(matches!(err, StoreError::NoChain { .. }), "{err}");

    // A file that is not a database at all: an error, not a panic.
    let junk = dir.path().join("junk.redb");
    std::fs::write(&junk, vec![0xAB; 10_000]).unwrap();
    let err = fails(Store::open(&junk));
    assert!(matches!(err, StoreError::Db { .. }), "{err}");

    // A genesis that cannot start a chain is refused before any file is made.
    let bad = dir.path().join("bad.redb");
    let invalid = Genesis {
        chain_id: String::new(),
        ..Genesis::default()
    };
    let err = fails(Store::create(&bad, &invalid));
    assert!(matches!(err, StoreError::InvalidGenesis { .. }), "{err}");
    let err = fails(Store::open_or_create(&bad, &invalid));
    assert!(matches!(err, StoreError::InvalidGenesis { .. }), "{err}");
    assert!(!bad.exists());

    // The same store twice.
    let (path, node, _) = create(&dir, "a");
    let err = fails(Store::open(&path));
    assert!(matches!(err, StoreError::AlreadyOpen { .. }), "{err}");
    drop(node);
    assert!(Store::open(&path).is_ok());
}

/// Overwrite (`Some`) or remove (`None`) a meta key behind the store's back.
fn set_meta(path: &Path, key: &str, value: Option<&[u8]>) {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut meta = txn.open_table(META).unwrap();
        match value {
            Some(v) => drop(meta.insert(key, v).unwrap()),
            None => drop(meta.remove(key).unwrap()),
        }
    }
    txn.commit().unwrap();
}

#[test]
fn a_store_of_another_protocol_version_is_refused_before_decoding() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, _) = create(&dir, "a");
    node.block(1, vec![]);
    drop(node);

    // Written at create, as its own key.
    {
        let db = redb::Database::open(&path).unwrap();
        let read = db.begin_read().unwrap();
        let meta = read.open_table(META).unwrap();
        let v = meta.get(META_PROTOCOL).unwrap().unwrap();
        assert_eq!(v.value(), PROTOCOL_VERSION.to_le_bytes().as_slice());
    }

    // A store made by another version: refused with both versions named, even though its
    // genesis would not decode under this version's rules.
    set_meta(&path, META_PROTOCOL, Some(7u32.to_le_bytes().as_slice()));
    set_meta(&path, META_GENESIS, Some([0xEE; 5].as_slice()));
    let err = fails(Store::open(&path));
    assert!(
        matches!(
            err,
            StoreError::ProtocolVersion {
                got: Some(7),
                expected: PROTOCOL_VERSION,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "store at '{}' was made by protocol version 7; this build runs version {PROTOCOL_VERSION}: start a new data dir",
            path.display()
        )
    );
    let (g, _) = genesis("a", 6);
    assert!(matches!(
        fails(Store::open_or_create(&path, &g)),
        StoreError::ProtocolVersion { got: Some(7), .. }
    ));

    // A version-1 store had no protocol key at all.
    set_meta(&path, META_PROTOCOL, None);
    let err = fails(Store::open(&path));
    assert!(
        matches!(err, StoreError::ProtocolVersion { got: None, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.ends_with(&format!(
            "was made by protocol version 1 (or unknown); this build runs version {PROTOCOL_VERSION}: start a new data dir"
        )),
        "{msg}"
    );

    // A malformed version value is corruption, not a guess.
    set_meta(&path, META_PROTOCOL, Some([2u8; 3].as_slice()));
    let err = fails(Store::open(&path));
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
}

#[test]
fn a_genesis_of_another_protocol_version_cannot_start_a_store() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("chain.redb");
    let (g, _) = genesis("a", 2);
    let old = Genesis {
        protocol_version: 1,
        ..g
    };
    let err = fails(Store::create(&path, &old));
    assert!(matches!(err, StoreError::InvalidGenesis { .. }), "{err}");
    assert!(err.to_string().contains("protocol_version is 1"), "{err}");
    assert!(!path.exists());
}

#[test]
fn tampered_state_or_head_is_refused_on_open() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    busy_chain(&mut node, &keys);
    node.store.checkpoint().unwrap(); // every record in `state`, the log empty
    assert_eq!(node.store.logged_blocks(), 0);
    drop(node);

    // Change one balance behind the store's back: the recomputed root no longer matches.
    let mut account = vec![gradual_ledger::state::tag::ACCOUNTS];
    account.extend_from_slice(&keys[1].pubkey().0);
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut state = txn.open_table(STATE).unwrap();
            state
                .insert(account.as_slice(), 1u64.to_le_bytes().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let err = fails(Store::open(&path));
    assert!(
        matches!(err, StoreError::StateRootMismatch { slot: 30, .. }),
        "{err}"
    );

    // A record that does not decode.
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut state = txn.open_table(STATE).unwrap();
            state.insert(account.as_slice(), [1u8].as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = fails(Store::open(&path));
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");

    // A head that does not decode.
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert(META_HEAD, [7u8; 3].as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = fails(Store::open(&path));
    assert!(
        matches!(&err, StoreError::Corrupt { what, .. } if what.contains("head")),
        "{err}"
    );
}

#[test]
fn commit_refuses_a_block_that_does_not_follow_the_head() {
    let dir = TempDir::new().unwrap();
    let (_path, mut node, _) = create(&dir, "a");
    let seal = node.ledger.seal(&ValidatorKey::devnet(), 1);
    let out = node
        .ledger
        .apply_block(1, node.ledger.head_hash(), seal, vec![])
        .unwrap();
    node.store.commit(&out).unwrap();
    let head = node.store.head();
    let err = node.store.commit(&out).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotNextBlock {
                slot: 1,
                head_slot: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(node.store.head(), head, "a refused commit changes nothing");
    // A block of another chain (wrong parent) is refused too.
    let mut other = Ledger::new(genesis("b", 2).0);
    let seal = other.seal(&ValidatorKey::devnet(), 2);
    let out = other
        .apply_block(2, other.head_hash(), seal, vec![])
        .unwrap();
    assert!(matches!(
        node.store.commit(&out),
        Err(StoreError::NotNextBlock { .. })
    ));
}

#[test]
fn tx_status_reports_slot_and_result() {
    let dir = TempDir::new().unwrap();
    let (_path, mut node, keys) = create(&dir, "a");
    let good = node.tx(
        &keys[1],
        Instruction::Transfer {
            to: keys[2].pubkey(),
            amount: 10,
        },
    );
    let poor = node.tx(
        &keys[3],
        Instruction::Transfer {
            to: keys[2].pubkey(),
            amount: BALANCE + 1,
        },
    );
    let mut forged = node.tx(
        &keys[4],
        Instruction::Transfer {
            to: keys[2].pubkey(),
            amount: 1,
        },
    );
    forged.signature = poor.signature; // someone else's id on another message
    node.block(4, vec![good.clone(), poor.clone()]);
    assert_eq!(node.store.tx_status(&good.id()).unwrap(), Some((4, Ok(()))));
    let (slot, result) = node.store.tx_status(&poor.id()).unwrap().unwrap();
    assert_eq!(slot, 4);
    assert!(matches!(result, Err(TxError::InsufficientFunds { .. })));

    // A duplicate and a forgery carrying known ids get receipts, but the index keeps the
    // original results.
    let results = node.block(5, vec![good.clone(), forged]);
    assert_eq!(results[0], Err(TxError::Duplicate));
    assert!(matches!(results[1], Err(TxError::BadSignature { .. })));
    assert_eq!(node.store.tx_status(&good.id()).unwrap(), Some((4, Ok(()))));
    assert_eq!(node.store.tx_status(&poor.id()).unwrap().unwrap().0, 4);

    // A transaction only ever seen as a failure that does not use it up is still reported.
    let mut bad = node.tx(
        &keys[1],
        Instruction::Transfer {
            to: keys[2].pubkey(),
            amount: 3,
        },
    );
    bad.signature.0[0] ^= 1;
    node.block(6, vec![bad.clone()]);
    assert!(matches!(
        node.store.tx_status(&bad.id()).unwrap(),
        Some((6, Err(TxError::BadSignature { .. })))
    ));
    assert_eq!(node.store.tx_status(&Signature([3; 64])).unwrap(), None);
}

#[test]
fn replay_equals_the_live_root() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    busy_chain(&mut node, &keys);
    assert_eq!(node.store.replay().unwrap(), node.ledger.state_root());
    drop(node);
    let node = reopen(&path);
    assert_eq!(node.store.replay().unwrap(), node.store.head().state_root);
}

#[test]
fn replay_detects_a_tampered_block() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    busy_chain(&mut node, &keys);
    drop(node);
    // Rewrite the block at slot 1 with its first transfer's amount changed: the signature
    // no longer verifies, so its receipt and the state root differ on replay.
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut blocks = txn.open_table(BLOCKS).unwrap();
            let mut block: Block = {
                let bytes = blocks.get(1).unwrap().unwrap();
                Block::try_from_slice(bytes.value()).unwrap()
            };
            block.txs[0].message.instruction = Instruction::Transfer {
                to: keys[4].pubkey(),
                amount: 1,
            };
            blocks.insert(1, to_bytes(&block).as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let node = reopen(&path); // state and head are intact, so it opens
    let err = node.store.replay().unwrap_err();
    assert!(
        matches!(err, StoreError::ReplayDiverged { slot: 1, .. }),
        "{err}"
    );
}

#[test]
fn reopening_restores_replay_protection() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    let (_, ok) = busy_chain(&mut node, &keys);
    let transfer = node.store.block(1).unwrap().unwrap().block.txs[0].clone();
    assert_eq!(transfer.id(), ok[0]);
    let fresh = node.tx(
        &keys[1],
        Instruction::Transfer {
            to: keys[2].pubkey(),
            amount: 1,
        },
    );
    drop(node);

    let mut node = reopen(&path);
    // Every transaction that succeeded before the restart is refused as a duplicate now;
    // a new one still goes through.
    let mut again: Vec<Transaction> = Vec::new();
    for slot in [1, 2, 3, 22] {
        again.extend(node.store.block(slot).unwrap().unwrap().block.txs);
    }
    let replays: Vec<Transaction> = again.into_iter().filter(|t| ok.contains(&t.id())).collect();
    assert_eq!(replays.len(), ok.len());
    let mut txs = replays.clone();
    txs.push(fresh);
    let results = node.block(31, txs);
    assert_eq!(results.len(), ok.len() + 1);
    for r in &results[..ok.len()] {
        assert_eq!(*r, Err(TxError::Duplicate));
    }
    assert_eq!(results[ok.len()], Ok(()));
    // The failed transfer of slot 1 (insufficient funds) used up its id too.
    let poor = node.store.block(1).unwrap().unwrap().block.txs[1].clone();
    assert_eq!(node.block(32, vec![poor]), vec![Err(TxError::Duplicate)]);
}

#[test]
fn in_memory_backend_works_like_a_file() {
    let (g, keys) = genesis("mem", 6);
    let (store, ledger) = Store::with_backend(InMemoryBackend::new(), "memory", Some(&g)).unwrap();
    let mut node = Node { store, ledger };
    busy_chain(&mut node, &keys);
    assert_eq!(node.store.replay().unwrap(), node.ledger.state_root());
    let err = fails(Store::with_backend(InMemoryBackend::new(), "memory", None));
    assert!(matches!(err, StoreError::NoChain { .. }), "{err}");
}

#[test]
fn a_tampered_write_set_log_is_refused_on_open() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    node.store.set_checkpoint_interval(100);
    busy_chain(&mut node, &keys);
    assert_eq!(node.store.logged_blocks(), 13, "nothing folded yet");
    drop(node);
    // Drop a proof submission's write from the block at slot 22 (no later block rewrites
    // it): the state differs from the head.
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut log = txn.open_table(WRITES).unwrap();
            let mut writes: Vec<LoggedWrite> = {
                let bytes = log.get((22, 0)).unwrap().unwrap();
                borsh::from_slice(bytes.value()).unwrap()
            };
            assert!(log.get((22, 1)).unwrap().is_none(), "one part");
            let tag = gradual_ledger::state::tag::SUBMISSIONS;
            let at = writes.iter().position(|(k, _)| k[0] == tag).unwrap();
            writes.remove(at);
            log.insert((22, 0), to_bytes(&writes).as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    let err = fails(Store::open(&path));
    assert!(matches!(err, StoreError::StateRootMismatch { .. }), "{err}");
    // A missing write set: the log no longer covers the blocks after the checkpoint.
    {
        let db = redb::Database::open(&path).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(WRITES).unwrap().remove((22, 0)).unwrap();
        txn.commit().unwrap();
    }
    let err = fails(Store::open(&path));
    assert!(
        matches!(&err, StoreError::Corrupt { what, .. } if what.contains("write sets")),
        "{err}"
    );
}

/// Runs the busy chain into a store that folds every `interval` blocks; returns what a
/// reader can see of it, before and after reopening.
fn run_with_interval(interval: u64) -> (Head, Vec<StateWrite>, Vec<Option<TxStatus>>) {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    node.store.set_checkpoint_interval(interval);
    busy_chain(&mut node, &keys);
    assert!(node.store.logged_blocks() < interval.max(1));
    let ids: Vec<Signature> = node
        .store
        .blocks_from(0, 100)
        .unwrap()
        .iter()
        .flat_map(|b| b.block.txs.iter().map(Transaction::id))
        .collect();
    let status =
        |store: &Store| -> Vec<_> { ids.iter().map(|id| store.tx_status(id).unwrap()).collect() };
    let live = (
        node.store.head(),
        node.ledger.records(),
        status(&node.store),
    );
    assert_eq!(node.store.replay().unwrap(), live.0.state_root);
    drop(node);
    let node = reopen(&path);
    let reopened = (
        node.store.head(),
        node.ledger.records(),
        status(&node.store),
    );
    assert_eq!(reopened, live, "interval {interval}: reopen differs");
    live
}

#[test]
fn folding_at_any_interval_gives_the_same_chain_state_and_index() {
    let every_block = run_with_interval(1);
    assert!(every_block.2.iter().all(Option::is_some));
    for interval in [2, 5, 13, CHECKPOINT_BLOCKS_DEFAULT] {
        assert_eq!(
            run_with_interval(interval),
            every_block,
            "interval {interval}"
        );
    }
}

#[test]
fn checkpoint_folds_the_log_and_reopen_agrees() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    node.store.set_checkpoint_interval(4);
    let (_, ok) = busy_chain(&mut node, &keys);
    // 13 blocks at interval 4: folded at heights 4, 8, 12; one block logged.
    assert_eq!(node.store.logged_blocks(), 1);
    node.store.checkpoint().unwrap();
    assert_eq!(node.store.logged_blocks(), 0);
    node.store.checkpoint().unwrap(); // nothing to do
    {
        let db = &node.store.db;
        let read = db.begin_read().unwrap();
        assert!(read.open_table(WRITES).unwrap().is_empty().unwrap());
        let state = read.open_table(STATE).unwrap();
        assert_eq!(state.len().unwrap() as usize, node.ledger.records().len());
        let index = read.open_table(TX_INDEX).unwrap();
        assert!(index.len().unwrap() as usize >= ok.len());
    }
    let head = node.store.head();
    drop(node);
    let node = reopen(&path);
    assert_eq!(node.store.head(), head);
    assert_eq!(node.store.logged_blocks(), 0);
    for id in &ok {
        assert!(matches!(
            node.store.tx_status(id).unwrap(),
            Some((_, Ok(())))
        ));
    }
}

#[test]
fn create_builds_the_file_aside_and_moves_it_into_place() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("chain.redb");
    let aside = dir.path().join("chain.redb.creating");
    // What a crash while creating leaves behind: no store at `path`, junk aside.
    std::fs::write(&aside, b"half a database").unwrap();
    let err = fails(Store::open(&path));
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let (g, _) = genesis("a", 2);
    let (store, _) = Store::open_or_create(&path, &g).unwrap();
    assert_eq!(store.path(), path.as_path());
    assert!(
        !aside.exists(),
        "the file under the temporary name was moved"
    );
    drop(store);
    let (store, ledger) = Store::open(&path).unwrap();
    assert_eq!(store.head().hash, g.hash());
    assert_eq!(ledger.state_root(), store.head().state_root);
}

/// Issue #9 (SPEC §1 [v2] *Bounded settlement*): the settlement queue is ledger state. 1 100
/// tasks close their proof audit windows at one slot, more work than one block may do; a
/// store reopened with work still waiting loads the same queue and carries on, and its
/// replay agrees.
#[test]
fn the_settlement_queue_survives_a_restart() {
    const TASKS: u64 = 1_100;
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    let params = TaskParams {
        bounty_per_round: 1_000,
        minimum_stake: 100,
        ..task_params()
    };
    let tasks: Vec<TaskId> = (0..TASKS)
        .map(|i| gradual_types::task_id(&keys[0].pubkey(), i))
        .collect();
    let txs = (0..TASKS)
        .map(|nonce| {
            node.tx(
                &keys[0],
                Instruction::CreateTask {
                    nonce,
                    params: params.clone(),
                    total_bounty: 10_000,
                },
            )
        })
        .collect();
    assert!(node.block(1, txs).iter().all(Result::is_ok));
    let txs = tasks
        .iter()
        .map(|&task| {
            node.tx(
                &keys[1],
                Instruction::Stake {
                    task,
                    amount: 1_000,
                    url: String::new(),
                    owner: None,
                },
            )
        })
        .collect();
    assert!(node.block(2, txs).iter().all(Result::is_ok));
    let clock = node.ledger.clock(&tasks[0]).unwrap();
    let submit = clock.window(gradual_ledger::Window::ProofSubmission, 1, 0);
    let close = clock
        .window(gradual_ledger::Window::ProofAudit, 1, 0)
        .closes;
    node.run_to(submit.opens - 1);
    let txs = tasks
        .iter()
        .map(|&task| {
            node.tx(
                &keys[1],
                Instruction::SubmitProof {
                    task,
                    round: 1,
                    value: vec![7; 32],
                },
            )
        })
        .collect();
    assert!(node.block(submit.opens, txs).iter().all(Result::is_ok));
    node.run_to(close);
    let waiting = |n: &Node| {
        n.ledger
            .queued_work()
            .into_iter()
            .filter(|(due, _, _)| *due <= n.ledger.slot())
            .count()
    };
    assert!(waiting(&node) > 0, "the closes did not fit one block");
    let (queue, head) = (node.ledger.queued_work(), node.store.head());
    drop(node);

    let mut node = reopen(&path);
    assert_eq!(node.store.head(), head);
    assert_eq!(node.ledger.queued_work(), queue);
    node.run_to(close + 3);
    assert_eq!(
        waiting(&node),
        0,
        "the reopened ledger worked the queue off"
    );
    for t in &tasks {
        assert!(node.ledger.attempt(t, 1, 0).is_some(), "every task ranked");
    }
    assert_eq!(node.store.replay().unwrap(), node.store.head().state_root);
}

/// Transfers from `from` to `n` new accounts (numbered from `first`): `n` new records.
fn fan_out(node: &Node, from: &Keypair, first: u32, n: u32) -> Vec<Transaction> {
    (first..first + n)
        .map(|i| {
            node.tx(
                from,
                Instruction::Transfer {
                    to: key(10_000 + i).pubkey(),
                    amount: 1_000 + u64::from(i),
                },
            )
        })
        .collect()
}

/// Every value of a `(slot, part)` table, with its key.
fn parts_of(db: &Database, table: TableDefinition<(u64, u32), &[u8]>) -> Vec<((u64, u32), usize)> {
    let read = db.begin_read().unwrap();
    let table = read.open_table(table).unwrap();
    table
        .iter()
        .unwrap()
        .map(|row| {
            let (k, v) = row.unwrap();
            (k.value(), v.value().len())
        })
        .collect()
}

#[test]
fn write_sets_and_receipts_split_into_parts_of_bounded_bytes() {
    // Several times the real part bound, and one item larger than it.
    let small: Vec<LoggedWrite> = (0u32..40_000)
        .map(|i| (i.to_be_bytes().to_vec(), Some(vec![7u8; 80])))
        .collect();
    let mut items = small.clone();
    items.insert(
        20_000,
        (vec![1], Some(vec![9u8; WRITE_LOG_PART_BYTES + 10])),
    );
    let total = to_bytes(&items).len();
    assert!(total > 4 * WRITE_LOG_PART_BYTES, "{total} bytes");
    let parts = encode_parts(&items, WRITE_LOG_PART_BYTES);
    assert!(parts.len() >= 5, "{} parts", parts.len());
    let mut back: Vec<LoggedWrite> = Vec::new();
    for part in &parts {
        let decoded: Vec<LoggedWrite> = borsh::from_slice(part).unwrap();
        assert!(
            part.len() <= WRITE_LOG_PART_BYTES || decoded.len() == 1,
            "a part of {} bytes holds {} items",
            part.len(),
            decoded.len()
        );
        back.extend(decoded);
    }
    assert_eq!(back, items);
    assert_eq!(
        parts.iter().map(Vec::len).sum::<usize>(),
        total + 4 * (parts.len() - 1),
        "each part adds only its length"
    );
    // Nothing at all is one empty part; a small set is one part.
    assert_eq!(encode_parts::<LoggedWrite>(&[], 16), vec![vec![0u8; 4]]);
    assert_eq!(
        encode_parts(&small[..3], WRITE_LOG_PART_BYTES),
        vec![to_bytes(&small[..3].to_vec())]
    );
}

#[test]
fn a_huge_write_set_is_logged_in_bounded_parts() {
    const PART: usize = 2_048;
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    node.store.set_checkpoint_interval(100);
    node.store.part_bytes = PART;
    let txs = fan_out(&node, &keys[0], 0, 300);
    let ids: Vec<Signature> = txs.iter().map(Transaction::id).collect();
    let again = txs[0].clone();
    assert!(node.block(1, txs).iter().all(Result::is_ok));
    // A second block, so that the log holds parts of two slots.
    let txs = fan_out(&node, &keys[1], 300, 40);
    assert!(node.block(2, txs).iter().all(Result::is_ok));
    assert_eq!(node.store.logged_blocks(), 2);
    let head = node.store.head();
    let records = node.ledger.records();
    {
        let db = &node.store.db;
        let writes = parts_of(db, WRITES);
        let logged: usize = writes.iter().map(|(_, len)| len).sum();
        assert_eq!(logged as u64, node.store.pending.bytes);
        assert!(logged > 5 * PART, "the write sets are {logged} bytes");
        let receipts = parts_of(db, RECEIPTS);
        for (what, rows) in [("writes", &writes), ("receipts", &receipts)] {
            for &(key, len) in rows.iter() {
                assert!(len <= PART, "{what} {key:?} is {len} bytes");
            }
            // Parts 0, 1, ... of slot 1 then of slot 2.
            let slot1 = rows.iter().filter(|((s, _), _)| *s == 1).count();
            assert!(slot1 > 3, "{what}: {slot1} parts");
            let expected: Vec<(u64, u32)> = (0..slot1 as u32)
                .map(|p| (1, p))
                .chain((0..(rows.len() - slot1) as u32).map(|p| (2, p)))
                .collect();
            let keys: Vec<(u64, u32)> = rows.iter().map(|(k, _)| *k).collect();
            assert_eq!(keys, expected, "{what}");
        }
        let read = db.begin_read().unwrap();
        let blocks = read.open_table(BLOCKS).unwrap();
        for row in blocks.iter().unwrap() {
            let (_, v) = row.unwrap();
            assert!(v.value().len() as u64 <= node.store.genesis.block_max_bytes + 1_024);
        }
    }
    let stored = node.store.block(1).unwrap().unwrap();
    assert_eq!(stored.receipts.len(), 300);
    drop(node);
    // Reopen: the parts read back in order give the exact state, root and index.
    let node = reopen(&path);
    assert_eq!(node.store.head(), head);
    assert_eq!(node.ledger.state_root(), head.state_root);
    assert_eq!(node.ledger.records(), records);
    assert_eq!(node.store.logged_blocks(), 2);
    assert_eq!(node.store.block(1).unwrap().unwrap(), stored);
    for id in &ids {
        assert_eq!(node.store.tx_status(id).unwrap(), Some((1, Ok(()))));
    }
    assert_eq!(node.store.replay().unwrap(), head.state_root);
    // Replay protection came back from the split receipts.
    let mut node = node;
    assert_eq!(node.block(3, vec![again]), vec![Err(TxError::Duplicate)]);
    // Folding empties every part of the log.
    node.store.checkpoint().unwrap();
    assert!(parts_of(&node.store.db, WRITES).is_empty());
    drop(node);
    let node = reopen(&path);
    assert_eq!(node.ledger.records().len(), records.len());
}

#[test]
fn the_log_folds_by_bytes() {
    let dir = TempDir::new().unwrap();
    let (path, mut node, keys) = create(&dir, "a");
    node.store.set_checkpoint_interval(1_000);
    // Blocks of 15 new accounts log about the same bytes each: fold every 3 or 4 blocks.
    let txs = fan_out(&node, &keys[0], 0, 15);
    assert!(node.block(1, txs).iter().all(Result::is_ok));
    let per_block = node.store.pending.bytes;
    let bound = 3 * per_block + per_block / 2;
    node.store.log_bytes_max = bound;
    let mut folds = 0;
    let mut first = 15;
    for slot in 2..=16 {
        let txs = fan_out(&node, &keys[0], first, 15);
        first += 15;
        let before = node.store.logged_blocks();
        assert!(node.block(slot, txs).iter().all(Result::is_ok));
        let logged = node.store.logged_blocks();
        if logged <= before {
            folds += 1;
            assert_eq!(logged, 0, "a fold takes the block in");
            assert_eq!(node.store.checkpoint.slot, slot);
        }
        // The log on disk and in memory stays within the bound.
        assert!(node.store.pending.bytes <= bound, "slot {slot}");
        let on_disk: usize = parts_of(&node.store.db, WRITES)
            .iter()
            .map(|(_, len)| len)
            .sum();
        assert_eq!(on_disk as u64, node.store.pending.bytes);
    }
    assert!(folds >= 3, "{folds} folds by bytes, none by the interval");
    let head = node.store.head();
    let records = node.ledger.records();
    drop(node);
    let node = reopen(&path);
    assert_eq!(node.store.head(), head);
    assert_eq!(node.ledger.records(), records);
    assert_eq!(node.store.replay().unwrap(), head.state_root);
}

#[test]
fn a_store_of_the_previous_format_is_refused() {
    assert_eq!(FORMAT_VERSION, 4, "the settlement queue's ready table");
    let dir = TempDir::new().unwrap();
    let (path, node, _) = create(&dir, "a");
    drop(node);
    set_meta(&path, META_FORMAT, Some(3u32.to_le_bytes().as_slice()));
    let err = fails(Store::open(&path));
    assert!(
        matches!(
            err,
            StoreError::UnsupportedFormat {
                got: 3,
                expected: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("format version 3"), "{err}");
}
