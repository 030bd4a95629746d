//! Task parameters (SPEC §2): what a manager chooses, and every rule on them.

use crate::constants::*;
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};

/// Where to fetch a task's executable and how to run it.
#[derive(Debug, Clone, PartialEq, Eq, Default, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Executable {
    /// blake3 digest of the artifact's bytes.
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b58"))]
    pub digest: Hash,
    /// Where the artifact can be fetched (artifact store URLs).
    pub urls: Vec<String>,
    /// How to run it (`"native"`, `"python3"`, `"node"`, ...); for a directory shipped as a
    /// tar archive, `<runtime>@<entry>` (`crate::runtime`).
    pub runtime: String,
}

/// Everything about a task its manager chooses (SPEC §2). Field names follow the SPEC.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TaskParams {
    pub name: String,
    pub description: String,
    /// Free-form bytes (JSON by convention); base64 on the wire.
    #[cfg_attr(feature = "serde", serde(with = "crate::wire::b64"))]
    pub metadata: Vec<u8>,
    pub executable: Executable,
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
    /// [v2] Share of stake slashed from a selected candidate that submits no list (SPEC §6).
    pub missed_list_bps: u16,
}

impl Default for TaskParams {
    fn default() -> Self {
        TaskParams {
            name: String::new(),
            description: String::new(),
            metadata: Vec::new(),
            executable: Executable::default(),
            bounty_per_round: 0,
            round_time: 600,
            submission_window: 200,
            audit_window: 200,
            minimum_stake: ROE_PER_KOII,
            allowed_failed_distributions: DEFAULT_ALLOWED_FAILED_DISTRIBUTIONS,
            audit_sample: DEFAULT_AUDIT_SAMPLE,
            committee_size: DEFAULT_COMMITTEE_SIZE,
            slash_bps: DEFAULT_SLASH_BPS,
            accuser_bps: DEFAULT_ACCUSER_BPS,
            voter_bps: DEFAULT_VOTER_BPS,
            false_accusation_bps: DEFAULT_FALSE_ACCUSATION_BPS,
            unstake_cooldown: DEFAULT_UNSTAKE_COOLDOWN,
            missed_list_bps: DEFAULT_MISSED_LIST_BPS,
        }
    }
}

/// The entry of a terms log (oldest first) in force at the start of `round`; rounds older
/// than the log's first entry (pruned) run under it. `None` only for an empty log.
pub fn terms_in_force(log: &[(u64, RoundTerms)], round: u64) -> Option<&RoundTerms> {
    log.iter()
        .rev()
        .find(|(from, _)| *from <= round)
        .or(log.first())
        .map(|(_, t)| t)
}

/// Everything that decides a round's outcome, fixed at the round's start (SPEC §2 [v2]).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoundTerms {
    pub is_active: bool,
    pub executable: Executable,
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

impl RoundTerms {
    pub fn of(params: &TaskParams, is_active: bool) -> RoundTerms {
        RoundTerms {
            is_active,
            executable: params.executable.clone(),
            bounty_per_round: params.bounty_per_round,
            minimum_stake: params.minimum_stake,
            audit_sample: params.audit_sample,
            committee_size: params.committee_size,
            slash_bps: params.slash_bps,
            accuser_bps: params.accuser_bps,
            voter_bps: params.voter_bps,
            false_accusation_bps: params.false_accusation_bps,
            allowed_failed_distributions: params.allowed_failed_distributions,
            missed_list_bps: params.missed_list_bps,
        }
    }
}

/// A task parameter that is out of range, with what was given and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, BorshSerialize, BorshDeserialize)]
#[non_exhaustive]
pub enum ParamError {
    #[error("{field} is {got} bytes, the most is {max}")]
    TooLong { field: String, got: u64, max: u64 },
    #[error("{field} is {got}, it must be between {min} and {max}")]
    OutOfRange {
        field: String,
        got: u64,
        min: u64,
        max: u64,
    },
    #[error("submission_window ({sw}) + audit_window ({aw}) must not exceed round_time ({rt})")]
    WindowsExceedRound { sw: u64, aw: u64, rt: u64 },
    #[error("accuser_bps ({accuser}) + voter_bps ({voter}) must not exceed 10000")]
    SharesExceed100 { accuser: u16, voter: u16 },
    #[error("audit_window ({aw} slots) must be at least twice the vote window ({v} slots at {slot_ms} ms per slot: committees need at least 3 s to vote); make audit_window at least {min}")]
    AuditWindowTooShort {
        aw: u64,
        v: u64,
        slot_ms: u64,
        min: u64,
    },
    /// `executable.runtime` names an entry (`<label>@<entry>`) a node could not use safely.
    #[error("executable.runtime '{runtime}': {reason}")]
    BadRuntime { runtime: String, reason: String },
}

fn too_long(field: &str, got: usize, max: usize) -> Result<(), ParamError> {
    if got > max {
        return Err(ParamError::TooLong {
            field: field.into(),
            got: got as u64,
            max: max as u64,
        });
    }
    Ok(())
}

fn in_range(field: &str, got: u64, min: u64, max: u64) -> Result<(), ParamError> {
    if got < min || got > max {
        return Err(ParamError::OutOfRange {
            field: field.into(),
            got,
            min,
            max,
        });
    }
    Ok(())
}

impl TaskParams {
    /// Every rule of SPEC §2 on task parameters. Checked at decode and again by the ledger.
    pub fn validate(&self) -> Result<(), ParamError> {
        too_long("name", self.name.len(), TASK_NAME_BYTES_MAX)?;
        too_long(
            "description",
            self.description.len(),
            TASK_DESCRIPTION_BYTES_MAX,
        )?;
        too_long("metadata", self.metadata.len(), TASK_METADATA_BYTES_MAX)?;
        too_long(
            "executable.urls (count)",
            self.executable.urls.len(),
            EXECUTABLE_URLS_MAX,
        )?;
        for url in &self.executable.urls {
            too_long("executable url", url.len(), URL_BYTES_MAX)?;
        }
        // A label of at most 32 bytes, or `<label>@<entry>` for a directory (crate::runtime).
        if let Err(e) = crate::runtime::parse(&self.executable.runtime) {
            return Err(match e {
                crate::runtime::RuntimeError::InterpreterTooLong { got, max } => {
                    ParamError::TooLong {
                        field: "executable.runtime".into(),
                        got: got as u64,
                        max: max as u64,
                    }
                }
                other => ParamError::BadRuntime {
                    runtime: self.executable.runtime.clone(),
                    reason: other.to_string(),
                },
            });
        }
        in_range("round_time", self.round_time, 2, ROUND_TIME_MAX)?;
        in_range(
            "submission_window",
            self.submission_window,
            1,
            ROUND_TIME_MAX,
        )?;
        in_range("audit_window", self.audit_window, 1, ROUND_TIME_MAX)?;
        if !windows_fit(self.submission_window, self.audit_window, self.round_time) {
            return Err(ParamError::WindowsExceedRound {
                sw: self.submission_window,
                aw: self.audit_window,
                rt: self.round_time,
            });
        }
        in_range("minimum_stake", self.minimum_stake, 1, u64::MAX)?;
        in_range(
            "allowed_failed_distributions",
            self.allowed_failed_distributions.into(),
            0,
            ALLOWED_FAILED_DISTRIBUTIONS_MAX.into(),
        )?;
        in_range(
            "audit_sample",
            self.audit_sample.into(),
            0,
            AUDIT_SAMPLE_MAX.into(),
        )?;
        in_range(
            "committee_size",
            self.committee_size.into(),
            1,
            COMMITTEE_SIZE_MAX.into(),
        )?;
        for (field, v) in [
            ("slash_bps", self.slash_bps),
            ("accuser_bps", self.accuser_bps),
            ("voter_bps", self.voter_bps),
            ("false_accusation_bps", self.false_accusation_bps),
            ("missed_list_bps", self.missed_list_bps),
        ] {
            in_range(field, v.into(), 0, BPS_DENOMINATOR)?;
        }
        if u64::from(self.accuser_bps) + u64::from(self.voter_bps) > BPS_DENOMINATOR {
            return Err(ParamError::SharesExceed100 {
                accuser: self.accuser_bps,
                voter: self.voter_bps,
            });
        }
        in_range(
            "unstake_cooldown",
            self.unstake_cooldown,
            UNSTAKE_COOLDOWN_MIN,
            UNSTAKE_COOLDOWN_MAX,
        )?;
        Ok(())
    }

    /// The rules that depend on the chain's slot length (SPEC §5 *Vote window*): `AW ≥ 2·V`.
    /// Checked with [`TaskParams::validate`] by the ledger at `CreateTask` and `UpdateTask`.
    pub fn validate_for_chain(&self, slot_ms: u64) -> Result<(), ParamError> {
        self.validate()?;
        let v = vote_window_slots(slot_ms, self.audit_window);
        if self.audit_window < 2 * v {
            // The smallest AW with AW ≥ 2·max(⌈3000/slot_ms⌉, AW/3) is 2·⌈3000/slot_ms⌉.
            let min = 2 * VOTE_WINDOW_MS_MIN.div_ceil(slot_ms.max(1));
            return Err(ParamError::AuditWindowTooShort {
                aw: self.audit_window,
                v,
                slot_ms,
                min,
            });
        }
        Ok(())
    }

    /// The parameters that define the round clock; they are fixed at creation
    /// (changing them would renumber rounds already under way).
    pub fn same_timing(&self, other: &TaskParams) -> bool {
        self.round_time == other.round_time
            && self.submission_window == other.submission_window
            && self.audit_window == other.audit_window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task shipped as a directory names its entry in `runtime` (`python3@main.py`); the
    /// ledger refuses an entry a node could not use safely, and keeps the 32-byte rule for
    /// a plain label.
    #[test]
    fn the_ledger_refuses_a_bad_task_entry() {
        let with = |runtime: &str| TaskParams {
            name: "x".into(),
            executable: Executable {
                runtime: runtime.into(),
                ..Executable::default()
            },
            ..TaskParams::default()
        };
        for good in ["python3", "python3@main.py", "native@bin/task"] {
            assert_eq!(with(good).validate(), Ok(()), "{good}");
        }
        let long_entry = format!("python3@{}", "a".repeat(TASK_ENTRY_BYTES_MAX));
        assert_eq!(with(&long_entry).validate(), Ok(()));
        for bad in ["python3@../x.py", "python3@/abs.py", "python3@", "@main.py"] {
            assert!(
                matches!(with(bad).validate(), Err(ParamError::BadRuntime { .. })),
                "{bad}"
            );
        }
        assert_eq!(
            with(&"n".repeat(33)).validate(),
            Err(ParamError::TooLong {
                field: "executable.runtime".into(),
                got: 33,
                max: 32
            })
        );
        let e = with("python3@a/../../etc/x").validate().unwrap_err();
        assert!(e.to_string().contains("'..'"), "{e}");
    }

    #[test]
    fn task_params_rules() {
        let ok = TaskParams {
            name: "x".into(),
            ..TaskParams::default()
        };
        assert!(ok.validate().is_ok());
        let p = TaskParams {
            submission_window: 400,
            audit_window: 201,
            round_time: 600,
            ..ok.clone()
        };
        assert_eq!(
            p.validate().unwrap_err(),
            ParamError::WindowsExceedRound {
                sw: 400,
                aw: 201,
                rt: 600
            }
        );
        let p = TaskParams {
            submission_window: 400,
            audit_window: 200,
            round_time: 600,
            ..ok.clone()
        };
        assert!(p.validate().is_ok(), "SW + AW == RT is allowed");
        let p = TaskParams {
            submission_window: 0,
            ..ok.clone()
        };
        assert!(matches!(p.validate(), Err(ParamError::OutOfRange { .. })));
        let p = TaskParams {
            audit_window: 0,
            ..ok.clone()
        };
        assert!(matches!(p.validate(), Err(ParamError::OutOfRange { .. })));
        let p = TaskParams {
            name: "x".repeat(25),
            ..ok.clone()
        };
        assert!(matches!(p.validate(), Err(ParamError::TooLong { .. })));
        let p = TaskParams {
            accuser_bps: 6000,
            voter_bps: 5000,
            ..ok.clone()
        };
        assert!(matches!(
            p.validate(),
            Err(ParamError::SharesExceed100 { .. })
        ));
        let p = TaskParams {
            slash_bps: 10_001,
            ..ok
        };
        assert!(matches!(p.validate(), Err(ParamError::OutOfRange { .. })));
    }

    /// SPEC §5 *Vote window*: `V = max(⌈3000 / slot_ms⌉, AW / 3)` and `AW ≥ 2·V`.
    #[test]
    fn audit_window_leaves_committees_time_to_vote() {
        assert_eq!(vote_window_slots(400, 15), 8);
        assert_eq!(vote_window_slots(400, 60), 20);
        assert_eq!(vote_window_slots(3000, 6), 2);
        assert_eq!(vote_window_slots(7000, 2), 1);
        let p = |aw: u64| TaskParams {
            round_time: 600,
            submission_window: 10,
            audit_window: aw,
            ..TaskParams::default()
        };
        // Too short by one slot, then just long enough.
        for (aw, slot_ms, v, min) in [(15, 400, 8, 16), (59, 100, 30, 60)] {
            assert_eq!(
                p(aw).validate_for_chain(slot_ms),
                Err(ParamError::AuditWindowTooShort {
                    aw,
                    v,
                    slot_ms,
                    min
                })
            );
            assert_eq!(p(min).validate_for_chain(slot_ms), Ok(()));
        }
        assert!(
            p(1).validate_for_chain(3000).is_err(),
            "V is at least 1 slot"
        );
        let p0 = TaskParams {
            unstake_cooldown: 0,
            ..TaskParams::default()
        };
        assert!(
            matches!(p0.validate(), Err(ParamError::OutOfRange { .. })),
            "SPEC §7 [v2]: cooldown at least 1 round"
        );
    }
}
