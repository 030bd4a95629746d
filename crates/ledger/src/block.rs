//! Blocks, receipts and what applying a block produces.

use crate::error::TxError;
use crate::state::AuditOutcome;
use crate::table::StateWrite;
use borsh::{BorshDeserialize, BorshSerialize};
use gradual_types::hash::tags;
use gradual_types::{Hash, Pubkey, Signature, Slot, TaskId, Transaction, VrfProof};

/// What the producer adds to a block before it is applied (SPEC §1 *Randomness*): who
/// produced it and the VRF proof of its randomness. Make one with [`crate::Ledger::seal`].
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockSeal {
    pub producer: Pubkey,
    pub vrf_proof: VrfProof,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BlockHeader {
    pub slot: Slot,
    pub height: u64,
    pub parent_hash: Hash,
    /// The validator that produced the block.
    pub producer: Pubkey,
    /// VRF output of the producer on `(chain_id, slot, parent randomness)`: the only source
    /// of ledger randomness (committees, candidate ranking).
    pub randomness: Hash,
    pub vrf_proof: VrfProof,
    pub tx_root: Hash,
    pub state_root: Hash,
    pub tx_count: u32,
}

impl BlockHeader {
    pub fn hash(&self) -> Hash {
        Hash::domain(tags::BLOCK, &[&borsh::to_vec(self).expect("vec write")])
    }

    /// The seal this block was applied with (for replay).
    pub fn seal(&self) -> BlockSeal {
        BlockSeal {
            producer: self.producer,
            vrf_proof: self.vrf_proof.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<Transaction>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }
}

/// Commitment to a block's transactions, in order.
pub fn tx_root(txs: &[Transaction]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(tags::TX_ROOT.as_bytes());
    for tx in txs {
        let bytes = tx.encode();
        h.update(&(bytes.len() as u32).to_le_bytes());
        h.update(&bytes);
    }
    Hash(*h.finalize().as_bytes())
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Receipt {
    pub tx: Signature,
    pub result: Result<(), TxError>,
    /// ROE burned as this transaction's fee: the fee for any transaction whose envelope was
    /// valid (even if its instruction was rejected), 0 for an envelope failure.
    pub fee_charged: u64,
}

/// What end-of-window work did, for logs, progress displays and clients.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum LedgerEvent {
    AuditResolved {
        task: TaskId,
        round: u64,
        candidate: Pubkey,
        outcome: AuditOutcome,
    },
    CandidatesRanked {
        task: TaskId,
        round: u64,
        candidates: Vec<Pubkey>,
    },
    PayoutSuccessful {
        task: TaskId,
        round: u64,
        attempt: u16,
        total_roe: u64,
        entries: u32,
    },
    PayoutFailed {
        task: TaskId,
        round: u64,
        attempt: u16,
        reason: FailReason,
        /// Slashed at once (a missed turn); a rejected list's slash waits for the round.
        slashed: u64,
    },
    /// A rejected list's submitter was slashed when its round settled.
    RejectionSlashed {
        task: TaskId,
        round: u64,
        attempt: u16,
        submitter: Pubkey,
        slashed: u64,
    },
    /// A later attempt, accepted by a `Valid` majority with the same digest, proved this
    /// rejection false: the submitter is spared, the `Invalid` voters slashed.
    Vindicated {
        task: TaskId,
        round: u64,
        attempt: u16,
        voters_slashed: u64,
    },
    RoundSettledUnpaid {
        task: TaskId,
        round: u64,
    },
    RoundPruned {
        task: TaskId,
        round: u64,
    },
}

/// Why a distribution attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum FailReason {
    NotSubmitted,
    NoCommittee,
    Rejected,
}

#[derive(Debug, Clone)]
pub struct BlockOutput {
    pub block: Block,
    pub receipts: Vec<Receipt>,
    pub events: Vec<LedgerEvent>,
    /// Records this block changed, for the store to persist in the same commit.
    pub writes: Vec<StateWrite>,
}
