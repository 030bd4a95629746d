//! JSON shapes of RPC results. Keys and hashes are base58 strings, amounts are integers in
//! ROE, arbitrary bytes (proof values, metadata) are base64. Field names follow the SPEC.
//!
//! In Rust the fields are typed (`Pubkey`, `Hash`, `Verdict`, `Vec<u8>`, ...); the
//! [`crate::wire`] serde modules write them as those strings, so a DTO that deserialised
//! holds valid keys. Adding a DTO: add it to the list in `tests/round_trip.rs`.

use crate::wire;
use gradual_types::{Hash, Pubkey, Signature, TaskId, Verdict};
use serde::{Deserialize, Serialize};

mod task;
pub use task::*;

/// The last committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadDto {
    pub slot: u64,
    pub height: u64,
    #[serde(with = "wire::b58")]
    pub hash: Hash,
    #[serde(with = "wire::b58")]
    pub state_root: Hash,
}

/// Result of `waitForSlot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitDto {
    /// Whether the head reached the slot asked for before the timeout.
    pub reached: bool,
    pub head: HeadDto,
}

/// The genesis faucet: the record itself.
pub type FaucetDto = gradual_types::Faucet;

/// One member of a validator set: its identity (ed25519, base58) and VRF key (base58); the
/// record itself.
pub type ValidatorDto = gradual_types::ValidatorInfo;

/// The chain's genesis parameters (what a client needs to sign: chain id and fee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisDto {
    /// Protocol version of the chain's rules (SPEC §1 *Versions*).
    pub protocol_version: u32,
    pub chain_id: String,
    #[serde(with = "wire::b58")]
    pub hash: Hash,
    pub slot_ms: u64,
    pub fee_roe: u64,
    pub tx_max_age_slots: u64,
    pub faucet: Option<FaucetDto>,
    /// The genesis validator set (`SetValidators` may replace it later; each block names
    /// its producer).
    pub validators: Vec<ValidatorDto>,
    /// Who may change the validator set; `None`: it is fixed.
    #[serde(default, with = "wire::b58_opt")]
    pub admin: Option<Pubkey>,
    /// Whether this validator holds the faucet key (so `requestAirdrop` works).
    pub airdrop_available: bool,
}

/// Why a transaction was refused: the variant name and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxErrorDto {
    /// Variant name, e.g. `OutsideWindow`, `BadSignature`, `Duplicate`.
    pub kind: String,
    pub message: String,
    /// Stable machine-readable code of the rule (`outside_window`, `insufficient_funds`,
    /// ...; `TxError::code`); branch on this, never on `message`. Door refusals that are
    /// not ledger rules use `decode`, `duplicate`, `signer_quota`.
    #[serde(default)]
    pub code: String,
}

impl std::fmt::Display for TxErrorDto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxDto {
    /// Kept as text: tasks index transactions by these strings as they are (base58).
    pub signature: String,
    pub signer: String,
    /// Instruction name, e.g. `Stake`.
    pub instruction: String,
    pub recent_slot: u64,
    /// The fee the transaction offered.
    pub fee: u64,
    /// The fee the ledger charged (burned) for it in this block, in ROE.
    #[serde(default)]
    pub fee_charged: u64,
    /// `None` when the transaction succeeded; otherwise why it was rejected, with its
    /// stable `code`.
    pub err: Option<TxErrorDto>,
    /// The decoded instruction (`None` from a server that does not send it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<InstructionDto>,
}

/// An instruction with its arguments, tagged by `type` (the instruction name). Keys and
/// hashes are base58, bytes base64, amounts ROE. Large arguments are summarised: a
/// distribution chunk shows its entry count and sum, not its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum InstructionDto {
    Transfer {
        #[serde(with = "wire::b58")]
        to: Pubkey,
        amount: u64,
    },
    FaucetMint {
        #[serde(with = "wire::b58")]
        to: Pubkey,
        amount: u64,
    },
    CreateTask {
        /// The id the task gets: `hash(signer ‖ nonce)`.
        #[serde(with = "wire::b58")]
        task: TaskId,
        nonce: u64,
        params: Box<TaskParamsDto>,
        total_bounty: u64,
    },
    FundTask {
        #[serde(with = "wire::b58")]
        task: TaskId,
        amount: u64,
    },
    UpdateTask {
        #[serde(with = "wire::b58")]
        task: TaskId,
        params: Box<TaskParamsDto>,
    },
    SetActive {
        #[serde(with = "wire::b58")]
        task: TaskId,
        active: bool,
    },
    CloseTask {
        #[serde(with = "wire::b58")]
        task: TaskId,
    },
    Stake {
        #[serde(with = "wire::b58")]
        task: TaskId,
        amount: u64,
        url: String,
        /// The withdraw authority asked for (`None`: the signer).
        #[serde(default, with = "wire::b58_opt")]
        owner: Option<Pubkey>,
    },
    SetNodeUrl {
        #[serde(with = "wire::b58")]
        task: TaskId,
        url: String,
    },
    SetStakeOwner {
        #[serde(with = "wire::b58")]
        task: TaskId,
        #[serde(with = "wire::b58")]
        node: Pubkey,
        #[serde(with = "wire::b58")]
        owner: Pubkey,
    },
    SetValidators {
        validators: Vec<ValidatorDto>,
        from_slot: u64,
    },
    Unstake {
        #[serde(with = "wire::b58")]
        task: TaskId,
    },
    Withdraw {
        #[serde(with = "wire::b58")]
        task: TaskId,
    },
    Claim {
        #[serde(with = "wire::b58")]
        task: TaskId,
    },
    SubmitProof {
        #[serde(with = "wire::b58")]
        task: TaskId,
        round: u64,
        /// base64
        #[serde(with = "wire::b64")]
        value: Vec<u8>,
    },
    AuditProof {
        #[serde(with = "wire::b58")]
        task: TaskId,
        round: u64,
        #[serde(with = "wire::b58")]
        candidate: Pubkey,
        #[serde(with = "wire::verdict")]
        verdict: Verdict,
    },
    AuditProofs {
        #[serde(with = "wire::b58")]
        task: TaskId,
        round: u64,
        votes: Vec<VoteDto>,
    },
    UploadDistributionChunk {
        #[serde(with = "wire::b58")]
        task: TaskId,
        round: u64,
        attempt: u16,
        index: u32,
        entries: u32,
        total: u64,
    },
    SubmitDistribution {
        #[serde(with = "wire::b58")]
        task: TaskId,
        round: u64,
        attempt: u16,
        #[serde(with = "wire::b58")]
        digest: Hash,
        count: u32,
    },
    AuditDistribution {
        #[serde(with = "wire::b58")]
        task: TaskId,
        round: u64,
        attempt: u16,
        #[serde(with = "wire::verdict")]
        verdict: Verdict,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDto {
    pub slot: u64,
    pub height: u64,
    #[serde(with = "wire::b58")]
    pub hash: Hash,
    #[serde(with = "wire::b58")]
    pub parent_hash: Hash,
    /// The validator that produced the block (base58).
    #[serde(with = "wire::b58")]
    pub producer: Pubkey,
    /// The block's randomness: the producer's VRF output (base58).
    #[serde(with = "wire::b58")]
    pub randomness: Hash,
    /// The VRF proof of `randomness`.
    pub vrf_proof: VrfProofDto,
    #[serde(with = "wire::b58")]
    pub tx_root: Hash,
    #[serde(with = "wire::b58")]
    pub state_root: Hash,
    pub tx_count: u32,
    /// Left out unless asked for. At most [`crate::limits::BLOCK_TXS_PAGE_MAX`] of the
    /// block's transactions, from the `offset` asked for.
    pub transactions: Option<Vec<TxDto>>,
    /// Offset of the block's next transactions when `transactions` did not reach the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_tx_offset: Option<u32>,
}

/// A VRF proof: anyone can check `randomness` against the producer's VRF key with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfProofDto {
    /// VRF pre-output, 32 bytes (base58).
    #[serde(with = "wire::b58")]
    pub preout: Hash,
    /// The proof, 64 bytes (base64).
    #[serde(with = "wire::b64")]
    pub proof: [u8; 64],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxState {
    /// Accepted into the mempool, not yet in a block.
    Pending,
    /// In a committed block (with its result).
    Processed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureStatusDto {
    #[serde(with = "wire::b58")]
    pub signature: Signature,
    pub state: TxState,
    pub slot: Option<u64>,
    pub err: Option<TxErrorDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDto {
    #[serde(with = "wire::b58")]
    pub pubkey: Pubkey,
    pub balance: u64,
    /// Stakes in the page of tasks scanned (config `after`, `limit`).
    pub stakes: Vec<StakeDto>,
    /// Pending rewards in the same page of tasks.
    pub pending_rewards: Vec<RewardDto>,
    /// Task id to pass as `after` for the next page; `None`: every task was scanned.
    #[serde(default, with = "wire::b58_opt")]
    pub next: Option<TaskId>,
}

/// Result of `getProgramTasks`: one page of tasks in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksPageDto {
    pub tasks: Vec<TaskSummaryDto>,
    /// Task id to pass as `after` for the next page; `None`: last page.
    #[serde(default, with = "wire::b58_opt")]
    pub next: Option<TaskId>,
}

/// One line of `getProgramTasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummaryDto {
    #[serde(with = "wire::b58")]
    pub id: TaskId,
    pub name: String,
    #[serde(with = "wire::b58")]
    pub manager: Pubkey,
    pub is_active: bool,
    pub closed: bool,
    pub total_bounty: u64,
    pub bounty_per_round: u64,
    pub round_time: u64,
    pub current_round: u64,
    pub stakers: u64,
    pub total_stake: u64,
}

/// Result of an artifact upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactDto {
    #[serde(with = "wire::b58")]
    pub digest: Hash,
    pub size: u64,
    /// Where peers can download it from this validator.
    pub url: String,
}
