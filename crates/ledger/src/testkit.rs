//! Helpers to drive a ledger in tests and benchmarks: deterministic keys, signing, blocks.
//! Behind the `testkit` feature; never used by the shipped binaries.

use crate::{BlockOutput, CheckedTx, Ledger, TxError};
use gradual_types::{
    Faucet, Genesis, Hash, Instruction, Keypair, Pubkey, Slot, TaskId, TaskParams, Transaction,
    ValidatorKey,
};

/// Deterministic keypair number `i`.
pub fn key(i: u32) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&i.to_le_bytes());
    seed[31] = 0x5a;
    Keypair::from_seed(seed)
}

pub struct TestChain {
    pub ledger: Ledger,
    pub keys: Vec<Keypair>,
    pub chain_id: String,
    pub fee: u64,
    /// Every block applied, for replay checks.
    pub blocks: Vec<crate::Block>,
    /// The block producer (the genesis default's well-known devnet validator).
    pub validator: ValidatorKey,
}

impl TestChain {
    /// `n` funded accounts (`balance` ROE each); key 0 is also the faucet authority.
    pub fn new(n: u32, balance: u64) -> TestChain {
        Self::with_fee(n, balance, 0)
    }

    pub fn with_fee(n: u32, balance: u64, fee: u64) -> TestChain {
        let keys: Vec<Keypair> = (0..n).map(key).collect();
        let genesis = Genesis {
            chain_id: "test".into(),
            // 3 s slots: the vote window is then AW/3 slots (SPEC §5), so tests can use
            // short audit windows.
            slot_ms: 3_000,
            fee_roe: fee,
            faucet: Some(Faucet::new(keys[0].pubkey(), 1_000_000_000_000)),
            accounts: keys.iter().map(|k| (k.pubkey(), balance)).collect(),
            ..Genesis::default()
        };
        let mut ledger = Ledger::new(genesis);
        ledger.paranoid = true;
        TestChain {
            ledger,
            keys,
            chain_id: "test".into(),
            fee,
            blocks: Vec::new(),
            validator: ValidatorKey::devnet(),
        }
    }

    pub fn pk(&self, i: usize) -> Pubkey {
        self.keys[i].pubkey()
    }

    pub fn tx(&self, who: usize, ix: Instruction) -> Transaction {
        Transaction::new_signed(
            &self.keys[who],
            &self.chain_id,
            self.ledger.slot(),
            self.fee,
            ix,
        )
    }

    /// Apply a block at `slot` with these transactions.
    pub fn block_at(&mut self, slot: Slot, txs: Vec<Transaction>) -> BlockOutput {
        let parent = self.ledger.head_hash();
        let seal = self.ledger.seal(&self.validator, slot);
        let out = self
            .ledger
            .apply_block(
                slot,
                parent,
                seal,
                txs.into_iter().map(CheckedTx::check).collect(),
            )
            .expect("block applies");
        self.blocks.push(out.block.clone());
        out
    }

    /// Apply a block at the next slot.
    pub fn next(&mut self, txs: Vec<Transaction>) -> BlockOutput {
        let slot = self.ledger.slot() + 1;
        self.block_at(slot, txs)
    }

    /// Empty blocks up to and including `slot` (one per slot).
    pub fn run_to(&mut self, slot: Slot) {
        while self.ledger.slot() < slot {
            self.next(vec![]);
        }
    }

    /// One transaction in its own block at the next slot; its result.
    pub fn run(&mut self, who: usize, ix: Instruction) -> Result<(), TxError> {
        let tx = self.tx(who, ix);
        self.next(vec![tx]).receipts.remove(0).result
    }

    /// Create a task (manager `who`) and return its id.
    pub fn create_task(
        &mut self,
        who: usize,
        nonce: u64,
        params: TaskParams,
        bounty: u64,
    ) -> TaskId {
        self.run(
            who,
            Instruction::CreateTask {
                nonce,
                params,
                total_bounty: bounty,
            },
        )
        .expect("task created");
        gradual_types::task_id(&self.pk(who), nonce)
    }

    /// Replay every block into a fresh ledger from the same genesis; returns its state root.
    pub fn replay(&self) -> Hash {
        let mut fresh = Ledger::new(self.ledger.genesis().clone());
        fresh.paranoid = true;
        for b in &self.blocks {
            if let Err(e) = fresh.replay_block(b.clone(), None, 1) {
                panic!("replay diverged at slot {}: {e}", b.header.slot);
            }
        }
        fresh.state_root()
    }
}
