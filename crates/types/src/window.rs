//! Round arithmetic of SPEC §3. Saturating, so a huge round number from a transaction gives
//! a window that never opens instead of an overflow.

use crate::{Slot, TaskParams};
use borsh::{BorshDeserialize, BorshSerialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Window {
    ProofSubmission,
    ProofAudit,
    DistributionSubmission,
    DistributionAudit,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Window::ProofSubmission => "proof submission window",
            Window::ProofAudit => "proof audit window",
            Window::DistributionSubmission => "distribution submission window",
            Window::DistributionAudit => "distribution audit window",
        })
    }
}

/// Half-open slot range `[opens, closes)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub opens: Slot,
    pub closes: Slot,
}

impl Span {
    pub fn contains(&self, slot: Slot) -> bool {
        self.opens <= slot && slot < self.closes
    }
}

/// The clock of one task: `S0`, `RT`, `SW`, `AW`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    pub starting_slot: Slot,
    pub round_time: u64,
    pub submission_window: u64,
    pub audit_window: u64,
}

impl Clock {
    pub fn new(starting_slot: Slot, p: &TaskParams) -> Clock {
        Clock {
            starting_slot,
            round_time: p.round_time,
            submission_window: p.submission_window,
            audit_window: p.audit_window,
        }
    }

    /// `round(slot)`; slots before `S0` belong to round 0's future.
    pub fn round(&self, slot: Slot) -> u64 {
        slot.saturating_sub(self.starting_slot) / self.round_time
    }

    pub fn start(&self, round: u64) -> Slot {
        self.starting_slot
            .saturating_add(round.saturating_mul(self.round_time))
    }

    fn review(&self, round_of_time: u64, first: bool) -> Span {
        let s = self.start(round_of_time);
        if first {
            Span {
                opens: s,
                closes: s.saturating_add(self.submission_window),
            }
        } else {
            let opens = s.saturating_add(self.submission_window);
            Span {
                opens,
                closes: opens.saturating_add(self.audit_window),
            }
        }
    }

    /// Window `w` for work round `round`, distribution attempt `attempt` (0 for proof windows).
    pub fn window(&self, w: Window, round: u64, attempt: u16) -> Span {
        match w {
            Window::ProofSubmission => self.review(round.saturating_add(1), true),
            Window::ProofAudit => self.review(round.saturating_add(1), false),
            Window::DistributionSubmission => {
                self.review(round.saturating_add(2 + u64::from(attempt)), true)
            }
            Window::DistributionAudit => {
                self.review(round.saturating_add(2 + u64::from(attempt)), false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_spec_3() {
        let c = Clock {
            starting_slot: 100,
            round_time: 10,
            submission_window: 3,
            audit_window: 4,
        };
        assert_eq!(c.round(100), 0);
        assert_eq!(c.round(109), 0);
        assert_eq!(c.round(110), 1);
        for (w, round, attempt, opens, closes) in [
            (Window::ProofSubmission, 0, 0, 110, 113),
            (Window::ProofAudit, 0, 0, 113, 117),
            (Window::DistributionSubmission, 0, 0, 120, 123),
            (Window::DistributionAudit, 0, 0, 123, 127),
            (Window::DistributionSubmission, 0, 2, 140, 143),
        ] {
            assert_eq!(
                c.window(w, round, attempt),
                Span { opens, closes },
                "{w} of round {round}, attempt {attempt}"
            );
        }
        let far = c.window(Window::ProofSubmission, u64::MAX, 0);
        assert!(!far.contains(u64::MAX - 1));
    }
}
