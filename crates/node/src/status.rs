//! A task's status as an operator sees it (`/info`, `/metrics`, logs): a pure function of
//! what the ledger says and how the task process is doing, so it is tested without a node.
//!
//! Whether the node may submit is the ledger's own rule
//! ([`gradual_ledger::state::may_submit`], which the scheduler asks too), never restated.

use gradual_ledger::state::{may_submit, StakeRecord};
use gradual_node_proto::TaskInfo;
use serde::Serialize;

/// A task's state as an operator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Starting, not staked yet, or staked too recently to submit this round.
    WarmingUp,
    /// Staked, eligible, and the task process is healthy.
    Active,
    /// Unstaking: the stake is in its cooldown.
    CoolingDown,
    /// The task is closed or deactivated.
    Complete,
    /// The task process keeps failing, or the task is gone from the ledger.
    Failing,
}

impl Health {
    /// Every state, in the order `/metrics` lists them.
    pub const ALL: [Health; 5] = [
        Health::WarmingUp,
        Health::Active,
        Health::CoolingDown,
        Health::Complete,
        Health::Failing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Health::WarmingUp => "warming_up",
            Health::Active => "active",
            Health::CoolingDown => "cooling_down",
            Health::Complete => "complete",
            Health::Failing => "failing",
        }
    }
}

/// Per-task status for `/info`, `/metrics` and logs.
#[derive(Debug, Clone, Serialize)]
pub struct TaskStatus {
    pub task: String,
    pub name: String,
    pub status: Health,
    /// Why, in words.
    pub detail: String,
    pub round: u64,
    pub stake_roe: u64,
    pub pending_rewards_roe: u64,
    pub restarts: u64,
    pub last_error: Option<String>,
    pub log_file: String,
    pub calls_failed: u64,
    /// Rounds in which the audit guard found this task's verdicts suspect (node policy:
    /// it raised nothing and abstained; docs/operator-guide.md).
    pub suspect_audit_rounds: u64,
    /// TCP ports the task declares it connects to (its metadata's `connectPorts`).
    pub declared_ports: Vec<u16>,
    /// TCP ports the operator allows it besides the node's (`None`: any).
    pub allowed_ports: Option<Vec<u16>>,
    /// Declared but not allowed: the task's code will be refused on these.
    pub unapproved_ports: Vec<u16>,
}

/// How the task's process is doing (from its supervisor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process<'a> {
    pub running: bool,
    pub restarts: u64,
    pub last_error: Option<&'a str>,
}

/// The status of one task and why, from the task as the ledger shows it (`None`: not
/// there), this node's stake in it, the round the next block falls in, and its process.
pub fn health(
    task: Option<&TaskInfo>,
    stake: Option<&StakeRecord>,
    round: u64,
    process: Process,
) -> (Health, String) {
    let Some(t) = task else {
        return (Health::Failing, "task not found on the ledger".into());
    };
    if t.closed || !t.is_active {
        return (Health::Complete, "task is closed or inactive".into());
    }
    if stake.is_some_and(|s| s.unstake_round.is_some()) {
        return (
            Health::CoolingDown,
            "unstaking; withdraw after the cooldown".into(),
        );
    }
    if !process.running {
        return if process.restarts > 0 {
            let why = process.last_error.unwrap_or("task process is restarting");
            (Health::Failing, why.to_string())
        } else {
            (Health::WarmingUp, "task process starting".into())
        };
    }
    let minimum = t.params.minimum_stake;
    if may_submit(stake, minimum, t.clock.start(round)) {
        return (Health::Active, "working, submitting and auditing".into());
    }
    let why = match stake {
        None => "not staked yet (set stake and auto_stake, or run `gradual stake`)",
        Some(s) if s.amount < minimum => "stake below the task minimum; top it up",
        Some(_) => "staked this round; submits from the next",
    };
    (Health::WarmingUp, why.into())
}

/// The TCP ports a task's metadata declares (`connect_ports` in its task.yml); none when
/// the metadata is not JSON or says nothing.
pub fn declared_ports(metadata: &[u8]) -> Vec<u16> {
    serde_json::from_slice::<serde_json::Value>(metadata)
        .ok()
        .and_then(|v| {
            let ports = v
                .get(gradual_types::CONNECT_PORTS_METADATA_KEY)?
                .as_array()?
                .clone();
            Some(
                ports
                    .iter()
                    .filter_map(|p| p.as_u64().and_then(|p| u16::try_from(p).ok()))
                    .filter(|p| *p != 0)
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// The declared ports the operator does not allow (`allowed`: `None` allows any).
pub fn unapproved_ports(declared: &[u16], allowed: Option<&[u16]>) -> Vec<u16> {
    match allowed {
        None => Vec::new(),
        Some(a) => declared
            .iter()
            .copied()
            .filter(|d| !a.contains(d))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_ledger::Clock;
    use gradual_types::{Pubkey, Slot, TaskParams};

    const UP: Process = Process {
        running: true,
        restarts: 0,
        last_error: None,
    };

    fn task() -> TaskInfo {
        let params = TaskParams {
            round_time: 10,
            submission_window: 3,
            audit_window: 3,
            minimum_stake: 100,
            ..TaskParams::default()
        };
        TaskInfo {
            clock: Clock::new(0, &params),
            params,
            is_active: true,
            closed: false,
            available_bounty: 0,
            terms_log: Vec::new(),
        }
    }

    fn stake(amount: u64, staked_slot: Slot) -> StakeRecord {
        StakeRecord {
            amount,
            url: String::new(),
            owner: Pubkey([0; 32]),
            staked_slot,
            unstake_round: None,
            withdraw_round: None,
            history: Vec::new(),
            settlement_locks: 0,
        }
    }

    #[test]
    fn active_exactly_when_the_scheduler_may_submit() {
        let t = task();
        let s = stake(100, 5);
        // Round 1 starts at slot 10: staked at 5, so it may submit in round 1, not in 0.
        assert_eq!(health(Some(&t), Some(&s), 1, UP).0, Health::Active);
        assert_eq!(
            health(Some(&t), Some(&s), 0, UP),
            (
                Health::WarmingUp,
                "staked this round; submits from the next".into()
            )
        );
        let low = stake(99, 5);
        assert_eq!(
            health(Some(&t), Some(&low), 1, UP),
            (
                Health::WarmingUp,
                "stake below the task minimum; top it up".into()
            )
        );
        let (h, why) = health(Some(&t), None, 1, UP);
        assert_eq!(h, Health::WarmingUp);
        assert!(why.starts_with("not staked yet"), "{why}");
        for (round, s) in [(1, &s), (0, &s), (1, &low)] {
            let active = health(Some(&t), Some(s), round, UP).0 == Health::Active;
            assert_eq!(active, may_submit(Some(s), 100, t.clock.start(round)));
        }
    }

    #[test]
    fn ledger_state_comes_before_the_process() {
        let down = Process {
            running: false,
            restarts: 2,
            last_error: Some("exited with status 1"),
        };
        assert_eq!(health(None, None, 1, UP).0, Health::Failing);
        let mut t = task();
        let mut s = stake(100, 5);
        s.unstake_round = Some(1);
        assert_eq!(health(Some(&t), Some(&s), 1, down).0, Health::CoolingDown);
        t.closed = true;
        assert_eq!(health(Some(&t), Some(&s), 1, down).0, Health::Complete);
        t.closed = false;
        t.is_active = false;
        assert_eq!(health(Some(&t), None, 1, UP).0, Health::Complete);
    }

    #[test]
    fn a_process_that_is_not_running_is_starting_or_failing() {
        let t = task();
        let s = stake(100, 5);
        let starting = Process {
            running: false,
            restarts: 0,
            last_error: None,
        };
        assert_eq!(
            health(Some(&t), Some(&s), 1, starting),
            (Health::WarmingUp, "task process starting".into())
        );
        let failing = Process {
            restarts: 1,
            ..starting
        };
        assert_eq!(
            health(Some(&t), Some(&s), 1, failing),
            (Health::Failing, "task process is restarting".into())
        );
        let failing = Process {
            last_error: Some("health check failed"),
            ..failing
        };
        assert_eq!(
            health(Some(&t), Some(&s), 1, failing),
            (Health::Failing, "health check failed".into())
        );
    }

    #[test]
    fn ports_declared_in_metadata() {
        let key = gradual_types::CONNECT_PORTS_METADATA_KEY;
        let meta = format!("{{\"{key}\": [443, 0, 70000, 8080]}}");
        assert_eq!(declared_ports(meta.as_bytes()), vec![443, 8080]);
        assert!(declared_ports(b"not json").is_empty());
        assert_eq!(unapproved_ports(&[443, 8080], None), Vec::<u16>::new());
        assert_eq!(unapproved_ports(&[443, 8080], Some(&[443])), vec![8080]);
    }
}
