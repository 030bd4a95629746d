//! Why a transaction or a block was refused. Messages are lowercase, name the rule, and say
//! what was got and what was expected.

use crate::window::Window;
use borsh::{BorshDeserialize, BorshSerialize};
use gradual_types::{format_koii, Hash, ParamError, Pubkey, Slot, TaskId};

/// Declares [`TxError`] with each variant's stable code written beside it, so a new variant
/// cannot lack a code and the codes cannot drift from the enum (the variants, their order
/// and so their borsh indexes are exactly as written).
macro_rules! tx_error_with_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $(($($tuple:ty),* $(,)?))? $({$($field:ident: $fty:ty),* $(,)?})? => $code:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        pub enum $name {
            $($(#[$vmeta])* $variant $(($($tuple),*))? $({$($field: $fty),*})?,)*
        }

        impl $name {
            /// The variant's own code; a batch's is `"votes_refused"` (see [`TxError::code`]).
            fn variant_code(&self) -> &'static str {
                match self {
                    $($name::$variant { .. } => $code,)*
                }
            }
        }
    };
}

tx_error_with_codes! {
    /// A rejected transaction: recorded in its receipt; the state is unchanged.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, BorshSerialize, BorshDeserialize)]
    #[non_exhaustive]
    pub enum TxError {
        // --- envelope (SPEC §1) ---
        #[error("signature does not verify (strict ed25519) for signer {signer}")]
        BadSignature { signer: Pubkey } => "bad_signature",
        #[error("transaction is for chain '{got}', this ledger is '{expected}'")]
        WrongChain { got: String, expected: String } => "wrong_chain",
        #[error("transaction expired: recent_slot {recent_slot} is older than {max_age} slots before slot {slot}; sign it again with a recent slot")]
        Expired {
            recent_slot: Slot,
            slot: Slot,
            max_age: u64,
        } => "expired",
        #[error("recent_slot {recent_slot} is in the future (current slot {slot})")]
        FutureSlot { recent_slot: Slot, slot: Slot } => "future_slot",
        #[error("transaction already processed (duplicate signature)")]
        Duplicate => "duplicate",
        #[error("fee offered is {offered} ROE, the ledger charges {required}")]
        FeeTooLow { offered: u64, required: u64 } => "fee_too_low",
        #[error("cannot pay the fee: the fee is {fee} ROE, account {account} has {available}")]
        CannotPayFee {
            account: Pubkey,
            fee: u64,
            available: u64,
        } => "cannot_pay_fee",
        #[error("insufficient funds: needs {needed} ROE, account {account} has {available}")]
        InsufficientFunds {
            account: Pubkey,
            needed: u64,
            available: u64,
        } => "insufficient_funds",
        #[error("amount must be greater than zero")]
        ZeroAmount => "zero_amount",
        #[error("amount overflows the ROE supply")]
        Overflow => "overflow",
        #[error("limits: {0}")]
        Limits(String) => "limits",
        // --- faucet ---
        #[error("this chain has no faucet")]
        FaucetDisabled => "faucet_disabled",
        #[error("only the faucet authority {authority} may mint")]
        NotFaucet { authority: Pubkey } => "not_faucet",
        #[error("mint of {} KOII exceeds the faucet limit of {} KOII per mint", format_koii(*.got), format_koii(*.max))]
        MintTooLarge { got: u64, max: u64 } => "mint_too_large",
        #[error("{recipient} already received {} KOII from the faucet in its window; it may receive at most {} KOII per {window_slots} slots, more from slot {next_slot} on", format_koii(*.received), format_koii(*.max))]
        FaucetRateLimited {
            recipient: Pubkey,
            received: u64,
            max: u64,
            window_slots: u64,
            next_slot: Slot,
        } => "faucet_rate_limited",
        #[error("the faucet has created {} KOII of its {} KOII cap; this mint needs {} KOII more (amount plus fee)", format_koii(*.minted), format_koii(*.cap), format_koii(*.needed))]
        FaucetCapReached { minted: u64, cap: u64, needed: u64 } => "faucet_cap_reached",
        // --- tasks (SPEC §2, §7) ---
        #[error("unknown task {0}")]
        UnknownTask(TaskId) => "unknown_task",
        #[error("task {0} already exists (pick another nonce)")]
        TaskExists(TaskId) => "task_exists",
        #[error("only the task manager {manager} may do this")]
        NotManager { manager: Pubkey } => "not_manager",
        #[error("task parameters: {0}")]
        BadParams(ParamError) => "bad_params",
        #[error("round_time, submission_window and audit_window are fixed at creation; create a new task to change them")]
        TimingIsFixed => "timing_is_fixed",
        #[error("task is not active")]
        TaskInactive => "task_inactive",
        #[error("task is closed")]
        TaskClosed => "task_closed",
        #[error("task must be deactivated before it is closed")]
        TaskStillActive => "task_still_active",
        #[error("task has {open} rounds not yet settled; close it after they settle")]
        RoundsNotSettled { open: u64 } => "rounds_not_settled",
        // --- staking (SPEC §7) ---
        #[error("{node} has no stake in this task")]
        NotStaked { node: Pubkey } => "not_staked",
        #[error("stake {stake} ROE is below the task minimum {minimum}; stake more first")]
        StakeBelowMinimum { stake: u64, minimum: u64 } => "stake_below_minimum",
        #[error("stake reached the minimum at slot {staked_slot}, after round {round} started at slot {round_start}; submit from the next round")]
        StakedTooLate {
            staked_slot: Slot,
            round: u64,
            round_start: Slot,
        } => "staked_too_late",
        #[error("node is unstaking (requested in round {since_round})")]
        Unstaking { since_round: u64 } => "unstaking",
        #[error("no unstake requested; send Unstake and wait the cooldown first")]
        NotUnstaking => "not_unstaking",
        #[error("cooldown not over: unstaked in round {unstake_round}, withdraw from round {withdraw_round}, now round {round}")]
        CooldownNotOver {
            unstake_round: u64,
            withdraw_round: u64,
            round: u64,
        } => "cooldown_not_over",
        #[error("url is {got} bytes, the most is {max}")]
        UrlTooLong { got: usize, max: usize } => "url_too_long",
        #[error("no pending rewards to claim")]
        NothingToClaim => "nothing_to_claim",
        #[error(
            "the stake belongs to owner {owner}, not {got}; the owner changes it with SetStakeOwner"
        )]
        OwnerMismatch { owner: Pubkey, got: Pubkey } => "owner_mismatch",
        #[error("only the stake's owner {owner} may do this")]
        NotOwner { owner: Pubkey } => "not_owner",
        #[error(
            "stake is held until {rounds} distribution attempt(s) it submitted or voted on settle"
        )]
        LockedUntilSettled { rounds: u32 } => "locked_until_settled",
        #[error("round {round} was active when it started and may still take proofs; close the task once it settles")]
        RoundStillActive { round: u64 } => "round_still_active",
        // --- validators (SPEC §1) ---
        #[error("this chain has no admin; its validator set is fixed")]
        NoAdmin => "no_admin",
        #[error("only the admin {admin} may change the validator set")]
        NotAdmin { admin: Pubkey } => "not_admin",
        #[error("a new validator set must start after the current slot {slot}, got {from_slot}")]
        ValidatorsTooSoon { from_slot: Slot, slot: Slot } => "validators_too_soon",
        // --- windows (SPEC §3) ---
        #[error("{window} for round {round} is slots {opens}..{closes}, got slot {slot}")]
        OutsideWindow {
            window: Window,
            round: u64,
            slot: Slot,
            opens: Slot,
            closes: Slot,
        } => "outside_window",
        // --- proofs and audits (SPEC §4–5) ---
        #[error("{candidate} submitted no proof for round {round}")]
        NoSubmission { candidate: Pubkey, round: u64 } => "no_submission",
        #[error("a node cannot audit itself")]
        SelfAudit => "self_audit",
        #[error("no audit is raised against {candidate}; only an Invalid vote raises one")]
        NoAuditRaised { candidate: Pubkey } => "no_audit_raised",
        #[error("audits may be raised until slot {last_slot} so the committee has time to vote, got slot {slot}")]
        RaiseTooLate { last_slot: Slot, slot: Slot } => "raise_too_late",
        #[error("{queued} of this task's committee draws are queued ahead of this raise, so its committee would be drawn at slot {draw_slot}, after slot {latest}, the last that leaves it the vote window; raise earlier in the audit window")]
        DrawBacklog {
            queued: u64,
            draw_slot: Slot,
            latest: Slot,
        } => "draw_backlog",
        #[error("this node already raised the {max} audits it may raise this round (audit_sample)")]
        TooManyRaises { max: u16 } => "too_many_raises",
        #[error("committee is drawn at the block after the trigger; votes count from slot {opens}")]
        CommitteeNotDrawn { opens: Slot } => "committee_not_drawn",
        #[error("{node} holds no seat on this committee")]
        NotOnCommittee { node: Pubkey } => "not_on_committee",
        #[error("{node} already voted")]
        AlreadyVoted { node: Pubkey } => "already_voted",
        #[error("candidate {candidate} appears twice in one batch")]
        DuplicateVote { candidate: Pubkey } => "duplicate_vote",
        /// Some votes of an `AuditProofs` batch were refused; each vote stands on its own
        /// (SPEC §1 [v2]), so the `applied` others were counted (and the fee paid).
        #[error("{} vote(s) of the batch refused, {applied} counted; first refused: vote {}: {}", refused.len(), refused.first().map_or(0, |r| r.0), refused.first().map_or(String::new(), |r| r.1.to_string()))]
        VotesRefused {
            applied: u32,
            refused: Vec<(u32, TxError)>,
        } => "votes_refused",
        // --- distribution (SPEC §6) ---
        #[error("round {round} is not distributing ({status})")]
        NotDistributing { round: u64, status: RoundState } => "not_distributing",
        #[error("attempt {got} is not the current attempt {current} for round {round}")]
        WrongAttempt { round: u64, got: u16, current: u16 } => "wrong_attempt",
        #[error("attempt {attempt} belongs to {selected}, not the signer")]
        NotSelected { attempt: u16, selected: Pubkey } => "not_selected",
        #[error("the list for this attempt is already submitted")]
        ListAlreadySubmitted => "list_already_submitted",
        #[error("no list was submitted for this attempt")]
        ListNotSubmitted => "list_not_submitted",
        #[error("chunk {index} is missing; chunks must be numbered 0..n without gaps")]
        MissingChunk { index: u32 } => "missing_chunk",
        #[error("list has {got} entries, the submission says {expected}")]
        CountMismatch { got: u32, expected: u32 } => "count_mismatch",
        #[error("list digest is {got}, the submission says {expected}")]
        DigestMismatch { got: Hash, expected: Hash } => "digest_mismatch",
        #[error("the uploaded list was sealed by a submission (its digest is {digest}); no more chunks may be added")]
        UploadSealed { digest: Hash } => "upload_sealed",
        #[error("chunk {got} is out of order: the next chunk to upload is {expected}")]
        ChunkOutOfOrder { got: u32, expected: u32 } => "chunk_out_of_order",
        #[error("the list would have more entries than the round's {max} submitters")]
        TooManyEntries { max: u64 } => "too_many_entries",
        #[error("entry {index} is not in strictly ascending node order (no duplicates allowed)")]
        EntriesNotSorted { index: u32 } => "entries_not_sorted",
        #[error("entry {node} is not a valid submitter of round {round}")]
        NotASubmitter { node: Pubkey, round: u64 } => "not_a_submitter",
        #[error("list pays {sum} ROE, the most this round may pay is {limit}")]
        RewardsExceedLimit { sum: u64, limit: u64 } => "rewards_exceed_limit",
    }
}

impl TxError {
    /// The variant's name (`"OutsideWindow"`, `"Duplicate"`, ...), the `kind` clients have
    /// seen on the wire since v1. Derived from the variant's code (its CamelCase form; a batch
    /// is `"VotesRefused"` whatever its first vote's code), so the two cannot drift; a test
    /// checks it against every variant's name.
    pub fn kind(&self) -> String {
        self.variant_code()
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// A stable, machine-readable name of the rule that refused the transaction
    /// (`"outside_window"`, `"insufficient_funds"`, ...). Clients branch on this, never on
    /// the message text. A batch error reports the failing vote's code.
    pub fn code(&self) -> &'static str {
        match self {
            TxError::VotesRefused { refused, .. } => {
                refused.first().map_or("votes_refused", |(_, e)| e.code())
            }
            _ => self.variant_code(),
        }
    }
}

/// What a round is doing, as an error reports it (a stable code, not a debug string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum RoundState {
    /// No proofs were submitted for it, or it was pruned.
    Unknown,
    Reviewing,
    Paid,
    Failed,
    NoCandidates,
    Distributing,
}

impl std::fmt::Display for RoundState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RoundState::Unknown => "no proofs were submitted for it, or it was pruned",
            RoundState::Reviewing => "its proofs are still under review",
            RoundState::Paid => "it is paid",
            RoundState::Failed => "every attempt failed",
            RoundState::NoCandidates => "it had no valid submitter",
            RoundState::Distributing => "distributing",
        })
    }
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
    #[error(
        "block carries {got} bytes of transactions, the most is {max} (genesis block_max_bytes)"
    )]
    TooManyBytes { got: u64, max: u64 },
    #[error("block state root is {got}, replay computed {expected}")]
    StateRootMismatch { got: Hash, expected: Hash },
    #[error("block producer {producer} is not in the validator set")]
    UnknownProducer { producer: Pubkey },
    #[error("block randomness proof of {producer} does not verify for this slot and parent")]
    BadRandomness { producer: Pubkey },
}

/// Why a replayed block does not reproduce the block it replays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("the block does not apply: {0}")]
    Apply(#[from] BlockError),
    #[error("the stored {what} is {stored}, replay computed {replayed}")]
    Diverged {
        what: &'static str,
        stored: String,
        replayed: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_names_and_batches_report_the_inner_code() {
        assert_eq!(TxError::Duplicate.code(), "duplicate");
        assert_eq!(
            TxError::OutsideWindow {
                window: Window::ProofAudit,
                round: 1,
                slot: 2,
                opens: 3,
                closes: 4
            }
            .code(),
            "outside_window"
        );
        let inner = TxError::NotOnCommittee {
            node: Pubkey([1; 32]),
        };
        let batch = TxError::VotesRefused {
            applied: 2,
            refused: vec![(3, inner.clone())],
        };
        assert_eq!(batch.code(), inner.code());
        assert_eq!(batch.kind(), "VotesRefused");
    }

    /// Every variant (decoded from its borsh index with zeroed fields): `kind` is the
    /// variant's name, as its `Debug` form starts, so the wire's `kind` needs no `Debug`
    /// parsing and cannot drift from `code`.
    #[test]
    fn kind_is_the_variant_name_for_every_variant() {
        use borsh::BorshDeserialize;
        let mut seen = 0;
        for index in 0..=255u8 {
            let mut bytes = vec![index];
            bytes.extend([0u8; 256]);
            let Ok(e) = TxError::deserialize(&mut bytes.as_slice()) else {
                continue;
            };
            let debug = format!("{e:?}");
            let name: String = debug
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert_eq!(e.kind(), name, "variant {index}");
            seen += 1;
        }
        assert!(seen >= 60, "only {seen} variants decoded");
    }
}
