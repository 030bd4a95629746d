//! JSON shapes of RPC results. Keys and hashes are base58 strings, amounts are integers in
//! ROE, arbitrary bytes (proof values, metadata) are base64. Field names follow the SPEC.

use serde::{Deserialize, Serialize};

/// The last committed block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeadDto {
    pub slot: u64,
    pub height: u64,
    pub hash: String,
    pub state_root: String,
}

/// Result of `waitForSlot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitDto {
    /// Whether the head reached the slot asked for before the timeout.
    pub reached: bool,
    pub head: HeadDto,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaucetDto {
    pub authority: String,
    pub mint_max_roe: u64,
    /// Most one recipient may receive per window of `recipient_window_slots` slots.
    pub recipient_max_roe: u64,
    pub recipient_window_slots: u64,
    /// Most the faucet may ever create, over the chain's life.
    pub cap_roe: u64,
}

/// One member of a validator set: its identity (ed25519, base58) and VRF key (base58).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorDto {
    pub id: String,
    pub vrf_key: String,
}

/// The chain's genesis parameters (what a client needs to sign: chain id and fee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisDto {
    /// Protocol version of the chain's rules (SPEC §1 *Versions*).
    pub protocol_version: u32,
    pub chain_id: String,
    pub hash: String,
    pub slot_ms: u64,
    pub fee_roe: u64,
    pub tx_max_age_slots: u64,
    pub faucet: Option<FaucetDto>,
    /// The genesis validator set (`SetValidators` may replace it later; each block names
    /// its producer).
    pub validators: Vec<ValidatorDto>,
    /// Who may change the validator set; `None`: it is fixed.
    pub admin: Option<String>,
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
        to: String,
        amount: u64,
    },
    FaucetMint {
        to: String,
        amount: u64,
    },
    CreateTask {
        /// The id the task gets: `hash(signer ‖ nonce)`.
        task: String,
        nonce: u64,
        params: Box<TaskParamsDto>,
        total_bounty: u64,
    },
    FundTask {
        task: String,
        amount: u64,
    },
    UpdateTask {
        task: String,
        params: Box<TaskParamsDto>,
    },
    SetActive {
        task: String,
        active: bool,
    },
    CloseTask {
        task: String,
    },
    Stake {
        task: String,
        amount: u64,
        url: String,
        /// The withdraw authority asked for (`None`: the signer).
        owner: Option<String>,
    },
    SetNodeUrl {
        task: String,
        url: String,
    },
    SetStakeOwner {
        task: String,
        node: String,
        owner: String,
    },
    SetValidators {
        validators: Vec<ValidatorDto>,
        from_slot: u64,
    },
    Unstake {
        task: String,
    },
    Withdraw {
        task: String,
    },
    Claim {
        task: String,
    },
    SubmitProof {
        task: String,
        round: u64,
        /// base64
        value: String,
    },
    AuditProof {
        task: String,
        round: u64,
        candidate: String,
        verdict: String,
    },
    AuditProofs {
        task: String,
        round: u64,
        votes: Vec<VoteDto>,
    },
    UploadDistributionChunk {
        task: String,
        round: u64,
        attempt: u16,
        index: u32,
        entries: u32,
        total: u64,
    },
    SubmitDistribution {
        task: String,
        round: u64,
        attempt: u16,
        digest: String,
        count: u32,
    },
    AuditDistribution {
        task: String,
        round: u64,
        attempt: u16,
        verdict: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockDto {
    pub slot: u64,
    pub height: u64,
    pub hash: String,
    pub parent_hash: String,
    /// The validator that produced the block (base58).
    pub producer: String,
    /// The block's randomness: the producer's VRF output (base58).
    pub randomness: String,
    /// The VRF proof of `randomness`.
    pub vrf_proof: VrfProofDto,
    pub tx_root: String,
    pub state_root: String,
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
    pub preout: String,
    /// The proof, 64 bytes (base64).
    pub proof: String,
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
    pub signature: String,
    pub state: TxState,
    pub slot: Option<u64>,
    pub err: Option<TxErrorDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakeDto {
    pub node: String,
    pub task: String,
    pub amount: u64,
    pub url: String,
    /// Withdraw authority: `Withdraw` and `Claim` pay it.
    pub owner: String,
    pub staked_slot: u64,
    pub unstake_round: Option<u64>,
    /// First round `Withdraw` is allowed (set by `Unstake`).
    pub withdraw_round: Option<u64>,
    /// `(round, amount at the start of that round)` for recent rounds in which the amount
    /// changed: committee weights are stakes at a round's start.
    pub history: Vec<(u64, u64)>,
    /// Distribution attempts this node submitted or voted on whose round has not settled;
    /// `Withdraw` waits for zero.
    pub settlement_locks: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardDto {
    pub node: String,
    pub task: String,
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDto {
    pub pubkey: String,
    pub balance: u64,
    /// Stakes in the page of tasks scanned (config `after`, `limit`).
    pub stakes: Vec<StakeDto>,
    /// Pending rewards in the same page of tasks.
    pub pending_rewards: Vec<RewardDto>,
    /// Task id to pass as `after` for the next page; `None`: every task was scanned.
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutableDto {
    pub digest: String,
    pub urls: Vec<String>,
    pub runtime: String,
}

/// Task parameters with the SPEC's names; amounts in ROE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskParamsDto {
    pub name: String,
    pub description: String,
    /// base64
    pub metadata: String,
    pub executable: ExecutableDto,
    pub bounty_per_round: u64,
    pub round_time: u64,
    pub submission_window: u64,
    pub audit_window: u64,
    pub minimum_stake: u64,
    pub allowed_failed_distributions: u16,
    pub audit_sample: u16,
    pub committee_size: u16,
    pub slash_bps: u16,
    pub accuser_bps: u16,
    pub voter_bps: u16,
    pub false_accusation_bps: u16,
    pub unstake_cooldown: u64,
    pub missed_list_bps: u16,
}

/// The terms a round runs under, fixed at its start (SPEC §2 *Round terms*); names as in
/// [`TaskParamsDto`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundTermsDto {
    pub is_active: bool,
    pub executable: ExecutableDto,
    pub bounty_per_round: u64,
    pub minimum_stake: u64,
    pub audit_sample: u16,
    pub committee_size: u16,
    pub slash_bps: u16,
    pub accuser_bps: u16,
    pub voter_bps: u16,
    pub false_accusation_bps: u16,
    pub allowed_failed_distributions: u16,
    pub missed_list_bps: u16,
}

/// Terms in force from the start of `from_round` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermsEntryDto {
    pub from_round: u64,
    pub terms: RoundTermsDto,
}

/// A window open at the current slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindowDto {
    /// `proof_submission`, `proof_audit`, `distribution_submission`, `distribution_audit`.
    pub window: String,
    pub round: u64,
    /// First slot after the window.
    pub closes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeDto {
    pub seed: String,
    /// Seats drawn (`K`); zero when no node was eligible.
    pub size: u16,
    pub seats: Vec<SeatDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatDto {
    pub node: String,
    pub seats: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteDto {
    pub node: String,
    /// `valid`, `invalid` or `abstain`.
    pub verdict: String,
}

/// Seats behind the votes cast so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyDto {
    pub valid: u32,
    pub invalid: u32,
    pub abstain: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AuditOutcomeDto {
    Upheld {
        slashed: u64,
        accuser_reward: u64,
        voter_rewards: u64,
    },
    Refuted {
        slashed: u64,
        voter_rewards: u64,
    },
    Unresolved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionDto {
    pub node: String,
    /// base64 of the proof value.
    pub value: String,
    pub slot: u64,
    pub voided: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDto {
    pub candidate: String,
    pub accuser: String,
    pub trigger_slot: u64,
    /// Committee seed, fixed by the randomness of the block that holds the trigger.
    pub seed: String,
    pub committee: Option<CommitteeDto>,
    pub votes: Vec<VoteDto>,
    pub tally: TallyDto,
    pub outcome: Option<AuditOutcomeDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedListDto {
    pub digest: String,
    pub count: u32,
    pub chunks: u32,
    pub total: u64,
    pub slot: u64,
    /// Committee seed, fixed by the randomness of the block that holds the submission.
    pub seed: String,
}

/// What has been uploaded of a list so far (chunks are checked as they come).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadDto {
    pub chunks: u32,
    pub entries: u32,
    pub total: u64,
    pub last_node: Option<String>,
    /// Set once a submission sealed the upload (base58).
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptOutcomeDto {
    PayoutSuccessful {
        total: u64,
    },
    /// No list in the window; the submitter was slashed `missed_list_bps`.
    FailedNotSubmitted {
        slashed: u64,
    },
    /// A list came, but no committee was drawn before its audit window closed: neither
    /// paid nor slashed.
    FailedNoCommittee,
    /// The committee rejected the list. `slashed` is set when the round settles, unless a
    /// later accepted attempt with the same digest `vindicated` it.
    FailedRejected {
        slashed: Option<u64>,
        vindicated: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDto {
    pub node: String,
    pub reward: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptDto {
    pub attempt: u16,
    pub submitter: String,
    pub upload: UploadDto,
    pub list: Option<SubmittedListDto>,
    /// The uploaded entries (only in `getTaskDistributionInfo`).
    pub entries: Option<Vec<EntryDto>>,
    pub committee: Option<CommitteeDto>,
    pub votes: Vec<VoteDto>,
    pub tally: TallyDto,
    pub outcome: Option<AttemptOutcomeDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RoundStatusDto {
    Reviewing,
    Distributing,
    Paid { attempt: u16, total: u64 },
    Failed,
    NoCandidates,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundDto {
    pub round: u64,
    pub status: RoundStatusDto,
    /// The terms the round is settled under.
    pub terms: RoundTermsDto,
    pub submitters: u64,
    pub seed: Option<String>,
    pub candidates: Vec<String>,
    pub current_attempt: u16,
    /// At most [`crate::limits::PAGE_LIMIT_MAX`] each; `truncated` says some were left
    /// out (page them with `getTaskSubmissionInfo`).
    pub submissions: Option<Vec<SubmissionDto>>,
    pub audits: Option<Vec<AuditDto>>,
    pub attempts: Option<Vec<AttemptDto>>,
    #[serde(default)]
    pub truncated: bool,
}

/// Result of `getTaskAccountInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDto {
    pub id: String,
    pub manager: String,
    pub params: TaskParamsDto,
    pub pending_params: Option<TaskParamsDto>,
    pub starting_slot: u64,
    pub total_bounty: u64,
    pub reserved_bounty: u64,
    pub is_active: bool,
    pub closed: bool,
    pub open_rounds: u64,
    pub paid_total: u64,
    /// Round terms by the round they start at, oldest first.
    pub terms_log: Vec<TermsEntryDto>,
    /// Slot the view was taken at, its round, and the windows open at it.
    pub slot: u64,
    pub current_round: u64,
    pub open_windows: Vec<OpenWindowDto>,
    pub stakers: u64,
    pub total_stake: u64,
    /// One page of stakes (nodes after config `after`, at most `limit`).
    pub stakes: Option<Vec<StakeDto>>,
    /// One page of pending rewards (same nodes range as `stakes`).
    pub pending_rewards: Option<Vec<RewardDto>>,
    pub rounds: Option<Vec<RoundDto>>,
    /// Node to pass as `after` for the next page of stakes and rewards; `None`: last page.
    #[serde(default)]
    pub next: Option<String>,
}

/// Result of `getProgramTasks`: one page of tasks in id order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TasksPageDto {
    pub tasks: Vec<TaskSummaryDto>,
    /// Task id to pass as `after` for the next page; `None`: last page.
    pub next: Option<String>,
}

/// One line of `getProgramTasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummaryDto {
    pub id: String,
    pub name: String,
    pub manager: String,
    pub is_active: bool,
    pub closed: bool,
    pub total_bounty: u64,
    pub bounty_per_round: u64,
    pub round_time: u64,
    pub current_round: u64,
    pub stakers: u64,
    pub total_stake: u64,
}

/// Result of `getTaskSubmissionInfo`: a round's proofs and their audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionInfoDto {
    pub task: String,
    pub round: u64,
    pub status: RoundStatusDto,
    /// Proofs of nodes after config `after`, at most `limit`, in node order.
    pub submissions: Vec<SubmissionDto>,
    /// Audits against candidates in the same node range as `submissions`.
    pub audits: Vec<AuditDto>,
    /// Node to pass as `after` for the next page; `None`: last page.
    #[serde(default)]
    pub next: Option<String>,
}

/// Result of `getTaskDistributionInfo`: candidates, attempts, lists, payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionInfoDto {
    pub task: String,
    pub round: u64,
    pub status: RoundStatusDto,
    pub seed: Option<String>,
    pub candidates: Vec<String>,
    pub current_attempt: u16,
    /// Every attempt; only the one of config `attempt` (default: the last) carries
    /// `entries`, at most `limit` of them from config `offset`.
    pub attempts: Vec<AttemptDto>,
    /// The attempt whose entries are shown (`None`: no attempt yet).
    #[serde(default)]
    pub entries_attempt: Option<u16>,
    /// Offset to pass for the next page of that attempt's entries; `None`: last page.
    #[serde(default)]
    pub next_offset: Option<u64>,
}

/// Result of `getDistributionCandidates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidatesDto {
    pub task: String,
    pub round: u64,
    pub seed: Option<String>,
    /// Ranked: attempt `i` belongs to `candidates[i]`.
    pub candidates: Vec<String>,
    pub current_attempt: u16,
}

/// Result of `getAuditCommittee`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCommitteeDto {
    pub task: String,
    pub round: u64,
    /// Set for a proof audit.
    pub candidate: Option<String>,
    /// Set for a distribution audit.
    pub attempt: Option<u16>,
    /// `None` until the block after the trigger (or the list submission).
    pub committee: Option<CommitteeDto>,
    pub votes: Vec<VoteDto>,
    pub tally: TallyDto,
}

/// Result of an artifact upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactDto {
    pub digest: String,
    pub size: u64,
    /// Where peers can download it from this validator.
    pub url: String,
}
