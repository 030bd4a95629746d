//! Why a transaction or a block was refused. Messages are lowercase, name the rule, and say
//! what was got and what was expected.

use crate::window::Window;
use borsh::{BorshDeserialize, BorshSerialize};
use gradual_types::{Hash, ParamError, Pubkey, Slot, TaskId};

/// A rejected transaction: recorded in its receipt; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, BorshSerialize, BorshDeserialize)]
#[non_exhaustive]
pub enum TxError {
    // --- envelope (SPEC §1) ---
    #[error("signature does not verify (strict ed25519) for signer {signer}")]
    BadSignature { signer: Pubkey },
    #[error("transaction is for chain '{got}', this ledger is '{expected}'")]
    WrongChain { got: String, expected: String },
    #[error("transaction expired: recent_slot {recent_slot} is older than {max_age} slots before slot {slot}; sign it again with a recent slot")]
    Expired {
        recent_slot: Slot,
        slot: Slot,
        max_age: u64,
    },
    #[error("recent_slot {recent_slot} is in the future (current slot {slot})")]
    FutureSlot { recent_slot: Slot, slot: Slot },
    #[error("transaction already processed (duplicate signature)")]
    Duplicate,
    #[error("fee offered is {offered} ROE, the ledger charges {required}")]
    FeeTooLow { offered: u64, required: u64 },
    #[error("insufficient funds: needs {needed} ROE, account {account} has {available}")]
    InsufficientFunds {
        account: Pubkey,
        needed: u64,
        available: u64,
    },
    #[error("amount must be greater than zero")]
    ZeroAmount,
    #[error("amount overflows the ROE supply")]
    Overflow,
    #[error("limits: {0}")]
    Limits(String),
    // --- faucet ---
    #[error("this chain has no faucet")]
    FaucetDisabled,
    #[error("only the faucet authority {authority} may mint")]
    NotFaucet { authority: Pubkey },
    #[error("mint of {got} ROE exceeds the faucet limit of {max} per mint")]
    MintTooLarge { got: u64, max: u64 },
    // --- tasks (SPEC §2, §7) ---
    #[error("unknown task {0}")]
    UnknownTask(TaskId),
    #[error("task {0} already exists (pick another nonce)")]
    TaskExists(TaskId),
    #[error("only the task manager {manager} may do this")]
    NotManager { manager: Pubkey },
    #[error("task parameters: {0}")]
    BadParams(ParamError),
    #[error("round_time, submission_window and audit_window are fixed at creation; create a new task to change them")]
    TimingIsFixed,
    #[error("task is not active")]
    TaskInactive,
    #[error("task is closed")]
    TaskClosed,
    #[error("task must be deactivated before it is closed")]
    TaskStillActive,
    #[error("task has {open} rounds not yet settled; close it after they settle")]
    RoundsNotSettled { open: u64 },
    // --- staking (SPEC §7) ---
    #[error("{node} has no stake in this task")]
    NotStaked { node: Pubkey },
    #[error("stake {stake} ROE is below the task minimum {minimum}; stake more first")]
    StakeBelowMinimum { stake: u64, minimum: u64 },
    #[error("stake reached the minimum at slot {staked_slot}, after round {round} started at slot {round_start}; submit from the next round")]
    StakedTooLate {
        staked_slot: Slot,
        round: u64,
        round_start: Slot,
    },
    #[error("node is unstaking (requested in round {since_round})")]
    Unstaking { since_round: u64 },
    #[error("no unstake requested; send Unstake and wait the cooldown first")]
    NotUnstaking,
    #[error("cooldown not over: unstaked in round {unstake_round}, withdraw from round {withdraw_round}, now round {round}")]
    CooldownNotOver {
        unstake_round: u64,
        withdraw_round: u64,
        round: u64,
    },
    #[error("url is {got} bytes, the most is {max}")]
    UrlTooLong { got: usize, max: usize },
    #[error("no pending rewards to claim")]
    NothingToClaim,
    // --- windows (SPEC §3) ---
    #[error("{window} for round {round} is slots {opens}..{closes}, got slot {slot}")]
    OutsideWindow {
        window: Window,
        round: u64,
        slot: Slot,
        opens: Slot,
        closes: Slot,
    },
    // --- proofs and audits (SPEC §4–5) ---
    #[error("{candidate} submitted no proof for round {round}")]
    NoSubmission { candidate: Pubkey, round: u64 },
    #[error("a node cannot audit itself")]
    SelfAudit,
    #[error("no audit is raised against {candidate}; only an Invalid vote raises one")]
    NoAuditRaised { candidate: Pubkey },
    #[error("committee is drawn at the block after the trigger; votes count from slot {opens}")]
    CommitteeNotDrawn { opens: Slot },
    #[error("{node} holds no seat on this committee")]
    NotOnCommittee { node: Pubkey },
    #[error("{node} already voted")]
    AlreadyVoted { node: Pubkey },
    #[error("candidate {candidate} appears twice in one batch")]
    DuplicateVote { candidate: Pubkey },
    #[error("vote {index} of the batch: {error}")]
    InBatch { index: u32, error: Box<TxError> },
    // --- distribution (SPEC §6) ---
    #[error("round {round} is not distributing ({status})")]
    NotDistributing { round: u64, status: String },
    #[error("attempt {got} is not the current attempt {current} for round {round}")]
    WrongAttempt { round: u64, got: u16, current: u16 },
    #[error("attempt {attempt} belongs to {selected}, not the signer")]
    NotSelected { attempt: u16, selected: Pubkey },
    #[error("the list for this attempt is already submitted")]
    ListAlreadySubmitted,
    #[error("no list was submitted for this attempt")]
    ListNotSubmitted,
    #[error("chunk {index} is missing; chunks must be numbered 0..n without gaps")]
    MissingChunk { index: u32 },
    #[error("list has {got} entries, the submission says {expected}")]
    CountMismatch { got: u32, expected: u32 },
    #[error("list digest is {got}, the submission says {expected}")]
    DigestMismatch { got: Hash, expected: Hash },
    #[error("entry {index} is not in strictly ascending node order (no duplicates allowed)")]
    EntriesNotSorted { index: u32 },
    #[error("entry {node} is not a valid submitter of round {round}")]
    NotASubmitter { node: Pubkey, round: u64 },
    #[error("list pays {sum} ROE, the most this round may pay is {limit}")]
    RewardsExceedLimit { sum: u64, limit: u64 },
}

/// A block that cannot be applied at all (a bug in the producer or a corrupt log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BlockError {
    #[error("block slot {slot} is not after the last block's slot {head}")]
    SlotNotAfterHead { slot: Slot, head: Slot },
    #[error("block parent is {got}, the last block is {expected}")]
    WrongParent { got: Hash, expected: Hash },
    #[error("block carries {got} transactions, the most is {max}")]
    TooManyTxs { got: usize, max: usize },
    #[error("block state root is {got}, replay computed {expected}")]
    StateRootMismatch { got: Hash, expected: Hash },
}
