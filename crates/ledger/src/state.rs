//! The records the ledger keeps. Each table maps to one tag in the store and in the state root.

use crate::error::{RoundState, TxError};
use borsh::{BorshDeserialize, BorshSerialize};
use gradual_types::{Hash, Pubkey, Slot, TaskId, TaskParams, ValidatorInfo, Verdict};

// Round terms are what a client reads too, so they live with the task parameters.
pub use gradual_types::tx::{terms_in_force, RoundTerms};

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

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StakeRecord {
    pub amount: u64,
    pub url: String,
    /// Withdraw authority: `Withdraw` and `Claim` pay it; only it may change it (SPEC §7).
    pub owner: Pubkey,
    /// Slot of the stake that last lifted the node to `minimum_stake`; proofs count only for
    /// rounds that start after it (SPEC §4).
    pub staked_slot: Slot,
    /// Round of the `Unstake` request, if any (SPEC §7 cooldown).
    pub unstake_round: Option<u64>,
    /// First round `Withdraw` is allowed, fixed when `Unstake` lands (SPEC §7 [v2]).
    pub withdraw_round: Option<u64>,
    /// `(round, amount at the start of that round)` for the recent rounds in which the
    /// amount changed, oldest first: committee weights are stakes at a round's start
    /// (SPEC §5 *Committee weights*).
    pub history: Vec<(u64, u64)>,
    /// Distribution attempts this node submitted or voted on whose round has not settled;
    /// it cannot withdraw until they do (SPEC §6 *Vindication*).
    pub settlement_locks: u32,
}

/// Rounds of stake history kept before the current round: enough for every draw and
/// ranking the ledger makes (they look back at most two rounds).
pub const STAKE_HISTORY_ROUNDS: u64 = 3;

impl StakeRecord {
    /// The amount at the start of `round`, as long as `round` is within
    /// [`STAKE_HISTORY_ROUNDS`] of the last change.
    pub fn amount_at_start(&self, round: u64) -> u64 {
        self.history
            .iter()
            .find(|(r, _)| *r >= round)
            .map_or(self.amount, |(_, a)| *a)
    }

    /// Remember the amount at the start of `current_round` before it changes.
    pub fn note_change(&mut self, current_round: u64) {
        if self.history.last().map(|(r, _)| *r) != Some(current_round) {
            self.history.push((current_round, self.amount));
        }
        let keep_from = current_round.saturating_sub(STAKE_HISTORY_ROUNDS);
        self.history.retain(|(r, _)| *r >= keep_from);
    }

    /// A full staker under the minimum stake `minimum`: not unstaking and at least the
    /// minimum. Who may raise audits and submit lists.
    pub fn check_full_staker(&self, minimum: u64) -> Result<(), TxError> {
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

    /// May submit a proof for `round`, which starts at `round_start`, under its minimum
    /// stake `minimum` (SPEC §3): a full staker ([`StakeRecord::check_full_staker`]) since
    /// before the round began. The ledger's rule at `SubmitProof`; nodes ask [`may_submit`].
    pub fn check_may_submit(
        &self,
        minimum: u64,
        round: u64,
        round_start: Slot,
    ) -> Result<(), TxError> {
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

    /// May sit on a committee (or be ranked) for a draw whose weights are taken at the start
    /// of `round`: staked `minimum` by then and no unstake requested before it.
    pub fn eligible_weight(&self, round: u64, minimum: u64) -> Option<u64> {
        if self.unstake_round.is_some_and(|u| u < round) {
            return None;
        }
        let w = self.amount_at_start(round);
        (w >= minimum && w > 0).then_some(w)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SubmissionRecord {
    pub value: Vec<u8>,
    pub slot: Slot,
    /// Set when an audit against it is upheld: no reward for the round.
    pub voided: bool,
}

/// Whether a node with `stake` may submit for the round starting at `round_start` whose
/// minimum stake is `minimum` ([`StakeRecord::check_may_submit`]; the round number only
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

/// Seat counts of the votes cast so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct Tally {
    pub valid: u32,
    pub invalid: u32,
    pub abstain: u32,
}

impl Tally {
    /// Seats voting `Valid` are a majority of a committee of `k` seats (SPEC §5: `2·seats >
    /// K`); never of an empty committee.
    pub fn valid_majority(&self, k: u16) -> bool {
        majority(self.valid, k)
    }

    /// Seats voting `Invalid` are a majority of a committee of `k` seats.
    pub fn invalid_majority(&self, k: u16) -> bool {
        majority(self.invalid, k)
    }
}

/// The one majority rule (SPEC §5): more than half of `k` seats, and `k > 0`.
fn majority(seats: u32, k: u16) -> bool {
    k > 0 && 2 * u64::from(seats) > u64::from(k)
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
    /// Committee seed, fixed by the randomness of the block that contains the trigger.
    pub seed: Hash,
    /// Drawn at the first block after the trigger.
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
    /// The terms this round is settled under (SPEC §2 *Round terms*).
    pub terms: RoundTerms,
    pub submitters: u64,
    /// Randomness of the first block after the proof audit window closed (SPEC §6 `seed_r`).
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
    /// Committee seed, fixed by the randomness of the block that contains the submission.
    pub seed: Hash,
}

/// What has been uploaded of a list so far; chunks are checked as they come (SPEC §6 [v2]).
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
pub struct UploadProgress {
    pub chunks: u32,
    pub entries: u32,
    pub sum_roe: u64,
    pub last_node: Option<Pubkey>,
    /// Digest of the uploaded entries, computed once by the first `SubmitDistribution` whose
    /// count matches; from then on the upload is sealed (no more chunks) and submissions
    /// compare against it, so a list is hashed at most once however often it is submitted.
    pub digest: Option<Hash>,
}

#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum AttemptOutcome {
    PayoutSuccessful {
        total_roe: u64,
    },
    /// The selected node submitted nothing in its window; slashed `missed_list_bps`.
    FailedNotSubmitted {
        slashed: u64,
    },
    /// A list was submitted but no committee was drawn before its audit window closed:
    /// neither paid nor slashed (SPEC §6 [v2]).
    FailedNoCommittee,
    /// The committee rejected the list. Its submitter's slash waits for the round to settle
    /// (SPEC §6 *Vindication*): `slashed` is set then, unless a later attempt vindicates it.
    FailedRejected {
        slashed: Option<u64>,
        vindicated: bool,
    },
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
