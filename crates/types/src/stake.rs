//! A node's stake in a task: the record and its arithmetic. The ledger's checks that answer
//! with a transaction error are `gradual_ledger::state::StakeRules`.

use crate::constants::STAKE_HISTORY_ROUNDS;
use crate::keys::Pubkey;
use crate::Slot;
use borsh::{BorshDeserialize, BorshSerialize};

/// A node's stake in one task (SPEC §4, §7), as the ledger keeps it and clients read it (the
/// wire adds the node and task keys: `gradual_rpc::dto::StakeDto`).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct StakeRecord {
    pub amount: u64,
    pub url: String,
    /// Withdraw authority: `Withdraw` and `Claim` pay it; only it may change it (SPEC §7).
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58"))]
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
