//! The records the ledger keeps. Each table maps to one tag in the store and in the state root.

use crate::error::{RoundState, TxError};
use borsh::{BorshDeserialize, BorshSerialize};
use gradual_types::{Hash, Pubkey, Slot, TaskId, TaskParams, ValidatorInfo, Verdict};

// Round terms are what a client reads too, so they live with the task parameters.
pub use gradual_types::tx::{terms_in_force, RoundTerms};
// A stake is what a client reads too; the ledger adds the checks that answer with a TxError.
pub use gradual_types::constants::STAKE_HISTORY_ROUNDS;
pub use gradual_types::StakeRecord;
// So are the records of a round's proofs, audits and lists.
pub use gradual_types::round::{
    AttemptOutcome, AuditOutcome, RoundRecord, RoundStatus, SubmissionRecord, SubmittedList, Tally,
    UploadProgress,
};

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
    /// The settlement queue's timer (SPEC §1 [v2] *Bounded settlement*): work not yet due,
    /// by due slot. (Tag 12 held the draws before they joined the queue; retired.)
    pub const QUEUE: u8 = 11;
    pub const RAISES: u8 = 13;
    /// The settlement queue's due work, by task: served round-robin across tasks.
    pub const READY: u8 = 14;
    /// Faucet windows per recipient, and their expiry index (docs/protocol.md *Faucet*).
    pub const FAUCET_WINDOWS: u8 = 20;
    pub const FAUCET_EXPIRY: u8 = 21;
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
    /// ROE burned: fees and the unpaid remainders of slashes (SPEC §5 [v2]).
    pub burned_roe: u64,
    /// Randomness of the last applied block (the genesis hash before the first block); the
    /// next block's VRF input (SPEC §1 *Randomness*).
    pub randomness: Hash,
    /// Producers whose blocks the ledger accepts.
    pub validators: Vec<ValidatorInfo>,
    /// A validator set waiting for its first slot (`SetValidators`).
    pub next_validators: Option<(Slot, Vec<ValidatorInfo>)>,
    /// The queue's round-robin position: the task whose work was served last (SPEC §1 [v2]
    /// *Bounded settlement*). Service continues with the next task after it that has due
    /// work, also in the next block.
    pub queue_cursor: Option<TaskId>,
    /// The task whose committee draw the queue's draw turn served last.
    pub draw_cursor: Option<TaskId>,
    /// ROE the faucet created (amounts plus the fees its mints paid); at most the genesis
    /// faucet `cap_roe`.
    pub faucet_minted_roe: u64,
}

/// What a recipient received from the faucet in its current window, which runs from
/// `start` for the genesis `recipient_window_slots` slots.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct FaucetWindow {
    pub start: Slot,
    pub minted_roe: u64,
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
    /// Round terms in force from the start of a round on, oldest first: `(from_round, terms)`
    /// (SPEC §2 *Round terms*). Kept for every round that can still receive proofs.
    pub terms_log: Vec<(u64, RoundTerms)>,
    /// This task's committee draws waiting in the queue, and the seats they will fill (SPEC
    /// §5 *Bounded work*): a raise is refused when they would push its own draw past the
    /// vote window. Per task, so that no task's backlog can refuse another task's raises.
    pub queued_draws: u64,
    pub queued_draw_seats: u64,
}

impl TaskRecord {
    /// The terms round `round` runs under: those in force at `start(round)`.
    pub fn terms_for(&self, round: u64) -> &RoundTerms {
        terms_in_force(&self.terms_log, round).expect("a task always has terms")
    }
}

/// The ledger's rules on a stake that answer with a [`TxError`] (the record and its pure
/// arithmetic live in `gradual_types::stake`, where clients read it too).
pub trait StakeRules {
    /// A full staker under the minimum stake `minimum`: not unstaking and at least the
    /// minimum. Who may raise audits and submit lists.
    fn check_full_staker(&self, minimum: u64) -> Result<(), TxError>;

    /// May submit a proof for `round`, which starts at `round_start`, under its minimum
    /// stake `minimum` (SPEC §3): a full staker ([`StakeRules::check_full_staker`]) since
    /// before the round began. The ledger's rule at `SubmitProof`; nodes ask [`may_submit`].
    fn check_may_submit(&self, minimum: u64, round: u64, round_start: Slot) -> Result<(), TxError>;
}

impl StakeRules for StakeRecord {
    fn check_full_staker(&self, minimum: u64) -> Result<(), TxError> {
        if let Some(since_round) = self.unstake_round {
            return Err(TxError::Unstaking { since_round });
        }
        if self.amount < minimum {
            return Err(TxError::StakeBelowMinimum {
                stake: self.amount,
                minimum,
            });
        }
        Ok(())
    }

    fn check_may_submit(&self, minimum: u64, round: u64, round_start: Slot) -> Result<(), TxError> {
        self.check_full_staker(minimum)?;
        if self.staked_slot >= round_start {
            return Err(TxError::StakedTooLate {
                staked_slot: self.staked_slot,
                round,
                round_start,
            });
        }
        Ok(())
    }
}

/// Whether a node with `stake` may submit for the round starting at `round_start` whose
/// minimum stake is `minimum` ([`StakeRules::check_may_submit`]; the round number only
/// names the round in its error).
pub fn may_submit(stake: Option<&StakeRecord>, minimum: u64, round_start: Slot) -> bool {
    stake.is_some_and(|s| s.check_may_submit(minimum, 0, round_start).is_ok())
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

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AuditRecord {
    pub accuser: Pubkey,
    pub trigger_slot: Slot,
    /// Committee seed, fixed by the randomness of the block that contains the trigger.
    pub seed: Hash,
    /// Drawn at the first block after the trigger.
    pub committee: Option<Committee>,
    /// Votes of seat holders in arrival order; each seat holder votes once.
    pub votes: Vec<(Pubkey, Verdict)>,
    pub outcome: Option<AuditOutcome>,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct AttemptRecord {
    pub submitter: Pubkey,
    pub upload: UploadProgress,
    pub list: Option<SubmittedList>,
    pub committee: Option<Committee>,
    pub votes: Vec<(Pubkey, Verdict)>,
    pub outcome: Option<AttemptOutcome>,
}

/// Work the ledger does by itself (SPEC §1 [v2] *Bounded settlement*): committee draws and
/// end-of-window work. Work waits in the timer under `(due slot, task, work)` until it is
/// due, then in the ready queue under `(lane, task, due slot, work)`: draws in a turn of their
/// own, then the other work with tasks served round-robin, one step each, and within one task
/// by [`Lane`], then due slot, then this enum's order (updates last) (`Ledger::run_queue`). Work that runs in several steps keeps its progress in
/// its last field, so it keeps its place in its task's queue.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Work {
    /// Draw the committee of the audit raised against `candidate` (its seed is in the record).
    DrawAudit { round: u64, candidate: Pubkey },
    /// Draw the committee of the list submitted for `attempt`.
    DrawDistribution { round: u64, attempt: u16 },
    /// Distribution audit window of `attempt` for `round` closed: pay or fail.
    DistributionClose { round: u64, attempt: u16 },
    /// Credit the accepted list of `attempt`, one chunk per step from `next_chunk` on; the
    /// round is paid when its last chunk is credited.
    Payout {
        round: u64,
        attempt: u16,
        next_chunk: u32,
    },
    /// Proof audit window of `round` closed: verdicts on the audits of candidates after
    /// `after` (a few per step), then candidate ranking.
    ProofAuditClose { round: u64, after: Option<Pubkey> },
    /// `round` settled: the delayed slashes and unlocks of its attempts from `next_attempt`
    /// on (one per step), then its pruning is scheduled.
    Settle { round: u64, next_attempt: u16 },
    /// Drop `round`'s per-round data (SPEC §2 pruning), a bounded number of records per step.
    Prune { round: u64 },
    /// Pending `UpdateTask` parameters take effect (start of the next round). Last in its
    /// slot: windows closing at a round boundary lay in the old round and settle under the
    /// old parameters.
    ApplyUpdate,
}

/// Where due work waits (docs/protocol.md §3). Committee draws have the queue's draw turn:
/// their seats have `V` slots to vote. In the task turn, window closes and parameter updates,
/// which decide turns and deadlines, come before bulk work (payout chunks, settlement,
/// pruning), which may take many blocks and must not hold back the task's next deadlines.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Lane {
    Draw,
    Window,
    Bulk,
}

impl Work {
    pub fn lane(&self) -> Lane {
        match self {
            Work::DrawAudit { .. } | Work::DrawDistribution { .. } => Lane::Draw,
            Work::DistributionClose { .. } | Work::ProofAuditClose { .. } | Work::ApplyUpdate => {
                Lane::Window
            }
            Work::Payout { .. } | Work::Settle { .. } | Work::Prune { .. } => Lane::Bulk,
        }
    }
}

pub type StakeKey = (TaskId, Pubkey);
pub type RoundKey = (TaskId, u64);
pub type NodeRoundKey = (TaskId, u64, Pubkey);
pub type AttemptKey = (TaskId, u64, u16);
pub type ChunkKey = (TaskId, u64, u16, u32);
pub type QueueKey = (Slot, TaskId, Work);
pub type ReadyKey = (Lane, TaskId, Slot, Work);

/// What a refused list hears of its round (`TxError::RoundNotOpen`).
impl RoundState {
    pub fn of(status: &RoundStatus) -> RoundState {
        use RoundStatus as S;
        match status {
            S::Reviewing => RoundState::Reviewing,
            S::Distributing => RoundState::Distributing,
            S::Paid { .. } => RoundState::Paid,
            S::Failed => RoundState::Failed,
            S::NoCandidates => RoundState::NoCandidates,
        }
    }
}
