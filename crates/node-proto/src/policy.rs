//! Operator policy for one task: staking and claiming consent, and the audit guard that
//! keeps a broken or hostile task from getting the node slashed (docs/operator-guide.md).

use gradual_types::constants::BPS_DENOMINATOR;
use std::fmt;
use std::str::FromStr;

/// Fewest finished checks of a round's own sample before the audit guard judges the task's
/// verdicts: with fewer, one bad peer in a sample of one or two would look like a broken task.
pub const SUSPECT_MIN_CHECKS: u64 = 3;

/// What the node does when its own task calls too many sampled peers `Invalid` in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SuspectPolicy {
    /// No raises and `Abstain` for `Invalid` in that round.
    #[default]
    Abstain,
    /// As `Abstain`, and unstake from the task once (the operator looks at the task first).
    AbstainAndUnstake,
}

impl SuspectPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            SuspectPolicy::Abstain => "abstain",
            SuspectPolicy::AbstainAndUnstake => "abstain-and-unstake",
        }
    }
}

impl fmt::Display for SuspectPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy name that is neither `abstain` nor `abstain-and-unstake`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPolicy(pub String);

impl fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a policy; expected \"abstain\" or \"abstain-and-unstake\"",
            self.0
        )
    }
}

impl std::error::Error for UnknownPolicy {}

impl FromStr for SuspectPolicy {
    type Err = UnknownPolicy;
    fn from_str(s: &str) -> Result<SuspectPolicy, UnknownPolicy> {
        match s {
            "abstain" => Ok(SuspectPolicy::Abstain),
            "abstain-and-unstake" => Ok(SuspectPolicy::AbstainAndUnstake),
            _ => Err(UnknownPolicy(s.to_string())),
        }
    }
}

/// The audit guard: a task's code is a stranger's, and a time-bombed or swapped check that
/// calls every peer `Invalid` would get this node slashed `false_accusation_bps` per raise
/// (and could help convict honest peers from committee seats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditGuard {
    /// A round is suspect when more than this share (basis points) of the finished checks
    /// of the node's own sample came back `Invalid` (with at least [`SUSPECT_MIN_CHECKS`]
    /// finished). 10,000 or more turns the guard off.
    pub invalid_share_max_bps: u16,
    pub on_suspect: SuspectPolicy,
}

impl Default for AuditGuard {
    fn default() -> Self {
        AuditGuard {
            invalid_share_max_bps: 5_000,
            on_suspect: SuspectPolicy::Abstain,
        }
    }
}

impl AuditGuard {
    /// No guard: every `Invalid` is raised as soon as its check is done.
    pub const OFF: AuditGuard = AuditGuard {
        invalid_share_max_bps: BPS_DENOMINATOR as u16,
        on_suspect: SuspectPolicy::Abstain,
    };

    pub(crate) fn on(&self) -> bool {
        u64::from(self.invalid_share_max_bps) < BPS_DENOMINATOR
    }

    /// `invalid` of `checked` is more than the allowed share (integers only).
    pub(crate) fn trips(&self, checked: u64, invalid: u64) -> bool {
        self.on()
            && checked >= SUSPECT_MIN_CHECKS
            && invalid.saturating_mul(BPS_DENOMINATOR)
                > u64::from(self.invalid_share_max_bps).saturating_mul(checked)
    }
}

/// What the operator allows the node to do on its own for one task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskConfig {
    /// Keep this many ROE at stake (operator consent to stake): whenever the stake is below
    /// the next round's minimum, top it up to this amount, never past it; nothing when that
    /// cannot reach the minimum or the task will not run. `None` never stakes.
    pub stake_roe: Option<u64>,
    /// URL peers use to reach this node's task routes (registered when staking).
    pub url: String,
    /// Claim pending rewards once they reach this many ROE; `None` never claims.
    pub claim_at_roe: Option<u64>,
    /// When to distrust the task's own verdicts (node policy, docs/operator-guide.md).
    pub audit_guard: AuditGuard,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bad_peer_in_a_small_sample_does_not_trip_the_guard() {
        let g = AuditGuard::default();
        // Fewer than SUSPECT_MIN_CHECKS finished checks: never judged.
        assert!(!g.trips(1, 1));
        assert!(!g.trips(2, 2));
        // More than half, not half.
        assert!(g.trips(3, 2));
        assert!(!g.trips(4, 2));
        assert!(g.trips(8, 5));
        assert!(!g.trips(8, 1));
        assert!(!AuditGuard::OFF.trips(8, 8));
        let strict = AuditGuard {
            invalid_share_max_bps: 1,
            ..AuditGuard::default()
        };
        assert!(strict.trips(3, 1));
        assert!(!strict.trips(3, 0));
    }

    #[test]
    fn suspect_policy_names_parse_and_print() {
        for p in [SuspectPolicy::Abstain, SuspectPolicy::AbstainAndUnstake] {
            assert_eq!(p.as_str().parse::<SuspectPolicy>(), Ok(p));
        }
        let e = "unstake".parse::<SuspectPolicy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "'unstake' is not a policy; expected \"abstain\" or \"abstain-and-unstake\""
        );
    }
}
