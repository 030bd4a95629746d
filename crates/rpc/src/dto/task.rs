//! Task accounts, rounds, audits and distribution attempts: the records the node reads back
//! (each has its ledger record conversions in the `convert` module).

use crate::wire;
use gradual_types::window::Window;
use gradual_types::{Hash, Pubkey, TaskId, Verdict};
use serde::{Deserialize, Serialize};

/// A node's stake in a task: the keys, then the ledger's record itself (its fields inline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakeDto {
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    #[serde(with = "wire::b58")]
    pub task: TaskId,
    #[serde(flatten)]
    pub stake: gradual_types::StakeRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardDto {
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    #[serde(with = "wire::b58")]
    pub task: TaskId,
    pub amount: u64,
}

/// Where a task's executable is and how it runs: the record itself (`gradual-types`
/// serialises it in the wire's encodings).
pub type ExecutableDto = gradual_types::Executable;

/// Task parameters with the SPEC's names; amounts in ROE, `metadata` base64: the record
/// itself.
pub type TaskParamsDto = gradual_types::TaskParams;

/// The terms a round runs under, fixed at its start (SPEC §2 *Round terms*): the record
/// itself.
pub type RoundTermsDto = gradual_types::RoundTerms;

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
    #[serde(with = "wire::window")]
    pub window: Window,
    pub round: u64,
    /// First slot after the window.
    pub closes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeDto {
    #[serde(with = "wire::b58")]
    pub seed: Hash,
    /// Seats drawn (`K`); zero when no node was eligible.
    pub size: u16,
    pub seats: Vec<SeatDto>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeatDto {
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    pub seats: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteDto {
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    /// `valid`, `invalid` or `abstain`.
    #[serde(with = "wire::verdict")]
    pub verdict: Verdict,
}

/// Seats behind the votes cast so far: the record itself.
pub type TallyDto = gradual_types::round::Tally;

/// A committee's vote, the part a proof audit and a distribution attempt share: flattened
/// into both, so their JSON keeps `committee`, `votes` and `tally` as plain fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VotingDto {
    /// `None` until drawn (the block after the trigger or the list submission).
    pub committee: Option<CommitteeDto>,
    pub votes: Vec<VoteDto>,
    pub tally: TallyDto,
}

/// How a proof audit ended: the record itself.
pub type AuditOutcomeDto = gradual_types::round::AuditOutcome;

/// A node's proof: the node, then the record itself (its fields inline).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionDto {
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    #[serde(flatten)]
    pub submission: gradual_types::round::SubmissionRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDto {
    #[serde(with = "wire::b58")]
    pub candidate: Pubkey,
    #[serde(with = "wire::b58")]
    pub accuser: Pubkey,
    pub trigger_slot: u64,
    /// Committee seed, fixed by the randomness of the block that holds the trigger.
    #[serde(with = "wire::b58")]
    pub seed: Hash,
    #[serde(flatten)]
    pub voting: VotingDto,
    pub outcome: Option<AuditOutcomeDto>,
}

/// A submitted distribution list: the record itself.
pub type SubmittedListDto = gradual_types::round::SubmittedList;

/// What has been uploaded of a list so far: the record itself.
pub type UploadDto = gradual_types::round::UploadProgress;

/// How a distribution attempt ended: the record itself.
pub type AttemptOutcomeDto = gradual_types::round::AttemptOutcome;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDto {
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    pub reward: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptDto {
    pub attempt: u16,
    #[serde(with = "wire::b58")]
    pub submitter: Pubkey,
    pub upload: UploadDto,
    pub list: Option<SubmittedListDto>,
    /// The uploaded entries (only in `getTaskDistributionInfo`).
    pub entries: Option<Vec<EntryDto>>,
    #[serde(flatten)]
    pub voting: VotingDto,
    pub outcome: Option<AttemptOutcomeDto>,
}

/// Where a round is: the record itself.
pub type RoundStatusDto = gradual_types::round::RoundStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundDto {
    pub round: u64,
    /// The ledger's record of the round, its fields inline.
    #[serde(flatten)]
    pub record: gradual_types::round::RoundRecord,
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
    #[serde(with = "wire::b58")]
    pub id: TaskId,
    #[serde(with = "wire::b58")]
    pub manager: Pubkey,
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
    #[serde(default, with = "wire::b58_opt")]
    pub next: Option<Pubkey>,
}

/// Result of `getTaskSubmissionInfo`: a round's proofs and their audits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionInfoDto {
    #[serde(with = "wire::b58")]
    pub task: TaskId,
    pub round: u64,
    pub status: RoundStatusDto,
    /// Proofs of nodes after config `after`, at most `limit`, in node order.
    pub submissions: Vec<SubmissionDto>,
    /// Audits against candidates in the same node range as `submissions`.
    pub audits: Vec<AuditDto>,
    /// Node to pass as `after` for the next page; `None`: last page.
    #[serde(default, with = "wire::b58_opt")]
    pub next: Option<Pubkey>,
}

/// Result of `getTaskDistributionInfo`: candidates, attempts, lists, payout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionInfoDto {
    #[serde(with = "wire::b58")]
    pub task: TaskId,
    pub round: u64,
    pub status: RoundStatusDto,
    #[serde(default, with = "wire::b58_opt")]
    pub seed: Option<Hash>,
    #[serde(with = "wire::b58_vec")]
    pub candidates: Vec<Pubkey>,
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
    #[serde(with = "wire::b58")]
    pub task: TaskId,
    pub round: u64,
    #[serde(default, with = "wire::b58_opt")]
    pub seed: Option<Hash>,
    /// Ranked: attempt `i` belongs to `candidates[i]`.
    #[serde(with = "wire::b58_vec")]
    pub candidates: Vec<Pubkey>,
    pub current_attempt: u16,
}

/// Result of `getAuditCommittee`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCommitteeDto {
    #[serde(with = "wire::b58")]
    pub task: TaskId,
    pub round: u64,
    /// Set for a proof audit.
    #[serde(default, with = "wire::b58_opt")]
    pub candidate: Option<Pubkey>,
    /// Set for a distribution audit.
    pub attempt: Option<u16>,
    /// `None` until the block after the trigger (or the list submission).
    pub committee: Option<CommitteeDto>,
    pub votes: Vec<VoteDto>,
    pub tally: TallyDto,
}
