//! Task accounts, rounds, audits and distribution attempts: the records the node reads back
//! (each has its ledger record conversions in the `convert` module).

use crate::wire;
use gradual_types::window::Window;
use gradual_types::{Hash, Pubkey, TaskId, Verdict};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakeDto {
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    #[serde(with = "wire::b58")]
    pub task: TaskId,
    pub amount: u64,
    pub url: String,
    /// Withdraw authority: `Withdraw` and `Claim` pay it.
    #[serde(with = "wire::b58")]
    pub owner: Pubkey,
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

/// Seats behind the votes cast so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyDto {
    pub valid: u32,
    pub invalid: u32,
    pub abstain: u32,
}

/// A committee's vote, the part a proof audit and a distribution attempt share: flattened
/// into both, so their JSON keeps `committee`, `votes` and `tally` as plain fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VotingDto {
    /// `None` until drawn (the block after the trigger or the list submission).
    pub committee: Option<CommitteeDto>,
    pub votes: Vec<VoteDto>,
    pub tally: TallyDto,
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
    #[serde(with = "wire::b58")]
    pub node: Pubkey,
    /// base64 of the proof value.
    #[serde(with = "wire::b64")]
    pub value: Vec<u8>,
    pub slot: u64,
    pub voided: bool,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedListDto {
    #[serde(with = "wire::b58")]
    pub digest: Hash,
    pub count: u32,
    pub chunks: u32,
    pub total: u64,
    pub slot: u64,
    /// Committee seed, fixed by the randomness of the block that holds the submission.
    #[serde(with = "wire::b58")]
    pub seed: Hash,
}

/// What has been uploaded of a list so far (chunks are checked as they come).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadDto {
    pub chunks: u32,
    pub entries: u32,
    pub total: u64,
    #[serde(default, with = "wire::b58_opt")]
    pub last_node: Option<Pubkey>,
    /// Set once a submission sealed the upload (base58).
    #[serde(default, with = "wire::b58_opt")]
    pub digest: Option<Hash>,
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
    #[serde(default, with = "wire::b58_opt")]
    pub seed: Option<Hash>,
    #[serde(with = "wire::b58_vec")]
    pub candidates: Vec<Pubkey>,
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
