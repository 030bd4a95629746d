//! The records the ledger keeps. Each table maps to one tag in the store and in the state root.

use borsh::{BorshDeserialize, BorshSerialize};
use gradual_types::{Hash, Pubkey, Slot, TaskId, TaskParams, Verdict};

/// Table tags: stable on disk and in the state root. Changing one is a hard fork.
pub mod tag {
    pub const META: u8 = 1;
    pub const ACCOUNTS: u8 = 2;
    pub const TASKS: u8 = 3;
    pub const STAKES: u8 = 4;
    pub const REWARDS: u8 = 5;
    pub const SUBMISSIONS: u8 = 6;
    pub const AUDITS: u8 = 7;
    pub const ROUNDS: u8 = 8;
    pub const ATTEMPTS: u8 = 9;
    pub const CHUNKS: u8 = 10;
    pub const SCHEDULE: u8 = 11;
    pub const DRAWS: u8 = 12;
}

/// Chain-wide counters; one record.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Meta {
    /// Slot of the last applied block (0 = genesis).
    pub slot: Slot,
    /// Blocks applied since genesis.
    pub height: u64,
    /// ROE created: genesis balances plus faucet mints.
    pub minted_roe: u64,
    /// ROE burned as fees.
    pub burned_roe: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TaskRecord {
    pub manager: Pubkey,
    pub params: TaskParams,
    /// `S0` of SPEC §3.
    pub starting_slot: Slot,
    pub total_bounty: u64,
    /// Part of `total_bounty` promised to submitted, not yet settled distribution lists.
    pub reserved_bounty: u64,
    pub is_active: bool,
    pub closed: bool,
    /// Parameters waiting for the next round (SPEC §7 UpdateTask).
    pub pending_params: Option<TaskParams>,
    /// Rounds with end-of-window work still scheduled; `CloseTask` needs zero.
    pub open_rounds: u64,
    pub paid_total_roe: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StakeRecord {
    pub amount: u64,
    pub url: String,
    /// Slot of the stake that last lifted the node to `minimum_stake`; proofs count only for
    /// rounds that start after it (SPEC §4).
    pub staked_slot: Slot,
    /// Round of the `Unstake` request, if any (SPEC §7 cooldown).
    pub unstake_round: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SubmissionRecord {
    pub value: Vec<u8>,
    pub slot: Slot,
    /// Set when an audit against it is upheld: no reward for the round.
    pub voided: bool,
}

/// Seats of a committee, aggregated per node (a node may hold several seats).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Committee {
    pub seed: Hash,
    /// Seats drawn (`K`); zero when no node was eligible.
    pub size: u16,
    /// `(node, seats)`, sorted by node.
    pub seats: Vec<(Pubkey, u16)>,
}

impl Committee {
    pub fn seats_of(&self, node: &Pubkey) -> u16 {
        self.seats
            .binary_search_by(|(n, _)| n.cmp(node))
            .map(|i| self.seats[i].1)
            .unwrap_or(0)
    }
}

/// Seat counts of the votes cast so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Tally {
    pub valid: u32,
    pub invalid: u32,
    pub abstain: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AuditOutcome {
    /// Proof void; candidate slashed.
    Upheld {
        slashed: u64,
        accuser_reward: u64,
        voter_rewards: u64,
    },
    /// Accuser slashed for a false accusation.
    Refuted { slashed: u64, voter_rewards: u64 },
    /// Not enough seats either way: presumption of validity.
    Unresolved,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AuditRecord {
    pub accuser: Pubkey,
    pub trigger_slot: Slot,
    /// Drawn at the first block after the trigger (its seed is the trigger block's hash).
    pub committee: Option<Committee>,
    /// Votes of seat holders in arrival order; each seat holder votes once.
    pub votes: Vec<(Pubkey, Verdict)>,
    pub outcome: Option<AuditOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum RoundStatus {
    /// Proofs being submitted or audited.
    Reviewing,
    /// Distribution attempt `current_attempt` under way.
    Distributing,
    /// Paid by the list of attempt `attempt`.
    Paid { attempt: u16, total_roe: u64 },
    /// Every attempt failed; the bounty stays in the task.
    Failed,
    /// No valid submitter; nothing to pay.
    NoCandidates,
}

impl RoundStatus {
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            RoundStatus::Paid { .. } | RoundStatus::Failed | RoundStatus::NoCandidates
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RoundRecord {
    pub status: RoundStatus,
    pub submitters: u64,
    /// Block hash of the last slot of the proof audit window (SPEC §6 `seed_r`).
    pub seed: Option<Hash>,
    /// The top-ranked candidates, one per allowed attempt.
    pub candidates: Vec<Pubkey>,
    pub current_attempt: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SubmittedList {
    pub digest: Hash,
    pub count: u32,
    pub chunks: u32,
    pub total_roe: u64,
    pub slot: Slot,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AttemptOutcome {
    PayoutSuccessful {
        total_roe: u64,
    },
    /// The selected node submitted nothing in its window.
    FailedNotSubmitted,
    /// The committee rejected the list; its submitter was slashed.
    FailedRejected {
        slashed: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AttemptRecord {
    pub submitter: Pubkey,
    pub list: Option<SubmittedList>,
    pub committee: Option<Committee>,
    pub votes: Vec<(Pubkey, Verdict)>,
    pub outcome: Option<AttemptOutcome>,
}

/// End-of-window work, ordered within a slot by task and then by this enum's order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Event {
    /// Distribution audit window of `attempt` for `round` closed: pay or fail.
    DistributionClose { round: u64, attempt: u16 },
    /// Proof audit window of `round` closed: verdicts, then candidate ranking.
    ProofAuditClose { round: u64 },
    /// Drop `round`'s per-round data (SPEC §2 pruning).
    Prune { round: u64 },
    /// Pending `UpdateTask` parameters take effect (start of the next round). Last in its
    /// slot: windows closing at a round boundary lay in the old round and settle under the
    /// old parameters.
    ApplyUpdate,
}

/// A committee to draw at the start of the next block (its seed is this block's hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum Draw {
    Audit {
        task: TaskId,
        round: u64,
        candidate: Pubkey,
    },
    Distribution {
        task: TaskId,
        round: u64,
        attempt: u16,
    },
}

pub type StakeKey = (TaskId, Pubkey);
pub type RoundKey = (TaskId, u64);
pub type NodeRoundKey = (TaskId, u64, Pubkey);
pub type AttemptKey = (TaskId, u64, u16);
pub type ChunkKey = (TaskId, u64, u16, u32);
pub type ScheduleKey = (Slot, TaskId, Event);
