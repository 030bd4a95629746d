//! The slot clock: slot `s` is due at `anchor + s · slot_ms` (wall clock, milliseconds since
//! the Unix epoch). The anchor is written next to the store when the chain is created, so a
//! validator that was down resumes at the slot the clock says; the slots it missed are
//! skipped (the ledger does their end-of-window work first).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const FILE_NAME: &str = "slot-clock";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotClock {
    pub anchor_ms: u64,
    pub slot_ms: u64,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl SlotClock {
    /// The slot whose due time has passed most recently at `now_ms`.
    pub fn slot_at(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.anchor_ms) / self.slot_ms
    }

    pub fn due_ms(&self, slot: u64) -> u64 {
        self.anchor_ms
            .saturating_add(slot.saturating_mul(self.slot_ms))
    }

    /// How long to wait until `slot` is due.
    pub fn until(&self, slot: u64, now_ms: u64) -> Duration {
        Duration::from_millis(self.due_ms(slot).saturating_sub(now_ms))
    }

    /// Read the anchor from `dir`, or write one that makes `head_slot` the current slot.
    pub fn load_or_init(dir: &Path, slot_ms: u64, head_slot: u64) -> std::io::Result<SlotClock> {
        assert!(slot_ms > 0, "slot_ms is validated at genesis");
        let path = dir.join(FILE_NAME);
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(anchor_ms) = text.trim().parse::<u64>() {
                return Ok(SlotClock { anchor_ms, slot_ms });
            }
            tracing::warn!(path = %path.display(), "slot clock file is unreadable; starting the clock from the head slot");
        }
        let anchor_ms = now_ms().saturating_sub(head_slot.saturating_mul(slot_ms));
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        std::fs::write(&tmp, format!("{anchor_ms}\n"))?;
        std::fs::rename(&tmp, &path)?;
        Ok(SlotClock { anchor_ms, slot_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_anchor_and_survive_restart() {
        let c = SlotClock {
            anchor_ms: 1_000,
            slot_ms: 20,
        };
        assert_eq!(c.slot_at(999), 0);
        assert_eq!(c.slot_at(1_039), 1);
        assert_eq!(c.slot_at(1_040), 2);
        assert_eq!(c.due_ms(3), 1_060);
        assert_eq!(c.until(3, 1_050), Duration::from_millis(10));
        assert_eq!(c.until(3, 2_000), Duration::ZERO);

        let dir = tempfile::tempdir().unwrap();
        let a = SlotClock::load_or_init(dir.path(), 20, 0).unwrap();
        let b = SlotClock::load_or_init(dir.path(), 20, 500).unwrap();
        assert_eq!(a, b, "the anchor is written once");
    }
}
