//! A task's status as an operator sees it (`/info`, `/metrics`, logs): a pure function of
//! what the ledger says and how the task process is doing, so it is tested without a node.
//!
//! Whether the node may submit is the ledger's own rule
//! ([`gradual_ledger::state::may_submit`], which the scheduler asks too), never restated.

use gradual_ledger::state::{may_submit, StakeRecord};
use gradual_node_proto::TaskInfo;
use gradual_types::TaskParams;
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
    /// Held by the node: the task is deactivated or its bounty cannot pay a round. No
    /// proofs, audits or stakes (distribution duties of earlier rounds go on; the process
    /// keeps running for them); resumes by itself when reactivated or funded.
    Paused,
    /// This node's stake was withdrawn: its process is stopped and the node does not
    /// stake again by itself (`gradual stake` resumes it).
    Withdrawn,
}

impl Health {
    /// Every state, in the order `/metrics` lists them.
    pub const ALL: [Health; 7] = [
        Health::WarmingUp,
        Health::Active,
        Health::CoolingDown,
        Health::Complete,
        Health::Failing,
        Health::Paused,
        Health::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Health::WarmingUp => "warming_up",
            Health::Active => "active",
            Health::CoolingDown => "cooling_down",
            Health::Complete => "complete",
            Health::Failing => "failing",
            Health::Paused => "paused",
            Health::Withdrawn => "withdrawn",
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
    /// Last round this node's proof is on the ledger for.
    pub last_proof_round: Option<u64>,
    /// Last settled round that paid this node, and what it paid (ROE).
    pub last_paid_round: Option<u64>,
    pub last_paid_roe: Option<u64>,
    /// Slashes of this node in this task seen while the node ran, their total, the last one.
    pub slashes: u64,
    pub slashed_roe: u64,
    pub last_slash: Option<String>,
    /// Settled rounds in a row in which this node's proof earned nothing.
    pub unpaid_rounds: u64,
}

/// Why the node holds a task back ([`Health::Paused`], [`Health::Withdrawn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    Paused,
    Withdrawn,
}

/// Whether the node holds `task` back in `round`, and why: its stake was withdrawn
/// (`withdrawn`: the node saw it unstake and then lose its stake record, and no stake came
/// back since), the task is deactivated, or no bounty is left (KIP #36: nodes should not
/// work, and pay fees, for nothing; a round is paid what is left, at most its bounty, so a
/// partial last round is still worth working). A closed task is not held (it is complete), nor is one whose stake cools down.
pub fn hold(
    task: &TaskInfo,
    stake: Option<&StakeRecord>,
    round: u64,
    withdrawn: bool,
) -> Option<(Hold, String)> {
    if task.closed || stake.is_some_and(|s| s.unstake_round.is_some()) {
        return None;
    }
    if withdrawn && stake.is_none_or(|s| s.amount == 0) {
        return Some((
            Hold::Withdrawn,
            "stake withdrawn: the task process is stopped and the node does not stake again; \
             `gradual stake` resumes it, or remove the task from the config"
                .into(),
        ));
    }
    if !task.is_active {
        return Some((
            Hold::Paused,
            "paused: the task is deactivated by its manager; resumes when it is reactivated".into(),
        ));
    }
    let per_round = task.terms_for(round).bounty_per_round;
    // The ledger pays what is left (at most a round's bounty): nodes work until it is 0.
    if per_round > 0 && task.available_bounty == 0 {
        return Some((
            Hold::Paused,
            format!(
                "paused: bounty exhausted ({} KOII left, a round pays {} KOII); no proofs or \
                 audits until the manager funds it (`gradual task fund`)",
                gradual_types::format_koii(task.available_bounty),
                gradual_types::format_koii(per_round)
            ),
        ));
    }
    None
}

/// How the task's process is doing (from its supervisor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process<'a> {
    pub running: bool,
    pub restarts: u64,
    pub last_error: Option<&'a str>,
}

/// The status of one task and why, from the task as the ledger shows it (`None`: not
/// there), this node's stake in it, the round the next block falls in, whether the node
/// saw its stake withdrawn ([`hold`]), and its process.
pub fn health(
    task: Option<&TaskInfo>,
    stake: Option<&StakeRecord>,
    round: u64,
    withdrawn: bool,
    process: Process,
) -> (Health, String) {
    let Some(t) = task else {
        return (Health::Failing, "task not found on the ledger".into());
    };
    if t.closed {
        return (Health::Complete, "task is closed".into());
    }
    if stake.is_some_and(|s| s.unstake_round.is_some()) {
        return (
            Health::CoolingDown,
            "unstaking; withdraw after the cooldown".into(),
        );
    }
    match hold(t, stake, round, withdrawn) {
        Some((Hold::Withdrawn, why)) => return (Health::Withdrawn, why),
        Some((Hold::Paused, why)) => return (Health::Paused, why),
        None => {}
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

/// How the manager's pending update (`UpdateTask`, in force from the next round) makes the
/// terms worse for a staker: a larger slash of any kind, a longer cooldown, a higher minimum
/// stake. Each as `"slash_bps 500 -> 1000"`; empty when nothing gets worse.
pub fn worse_terms(now: &TaskParams, next: &TaskParams) -> Vec<String> {
    let mut out = Vec::new();
    let mut more = |name: &str, a: u64, b: u64| {
        if b > a {
            out.push(format!("{name} {a} -> {b}"));
        }
    };
    more("slash_bps", now.slash_bps.into(), next.slash_bps.into());
    more(
        "false_accusation_bps",
        now.false_accusation_bps.into(),
        next.false_accusation_bps.into(),
    );
    more(
        "missed_list_bps",
        now.missed_list_bps.into(),
        next.missed_list_bps.into(),
    );
    more(
        "unstake_cooldown",
        now.unstake_cooldown,
        next.unstake_cooldown,
    );
    more("minimum_stake", now.minimum_stake, next.minimum_stake);
    out
}

/// What to stake of rewards just claimed (`restake_rewards`): all of `claimed`, but never
/// past a stake of `cap`, nor more than the balance.
pub fn restake_amount(claimed: u64, stake: u64, cap: u64, balance: u64) -> u64 {
    claimed.min(cap.saturating_sub(stake)).min(balance)
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
    use gradual_types::{Pubkey, Slot};

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
            available_bounty: 1_000,
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
        assert_eq!(health(Some(&t), Some(&s), 1, false, UP).0, Health::Active);
        assert_eq!(
            health(Some(&t), Some(&s), 0, false, UP),
            (
                Health::WarmingUp,
                "staked this round; submits from the next".into()
            )
        );
        let low = stake(99, 5);
        assert_eq!(
            health(Some(&t), Some(&low), 1, false, UP),
            (
                Health::WarmingUp,
                "stake below the task minimum; top it up".into()
            )
        );
        let (h, why) = health(Some(&t), None, 1, false, UP);
        assert_eq!(h, Health::WarmingUp);
        assert!(why.starts_with("not staked yet"), "{why}");
        for (round, s) in [(1, &s), (0, &s), (1, &low)] {
            let active = health(Some(&t), Some(s), round, false, UP).0 == Health::Active;
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
        assert_eq!(health(None, None, 1, false, UP).0, Health::Failing);
        let mut t = task();
        let mut s = stake(100, 5);
        s.unstake_round = Some(1);
        assert_eq!(
            health(Some(&t), Some(&s), 1, false, down).0,
            Health::CoolingDown
        );
        t.closed = true;
        assert_eq!(
            health(Some(&t), Some(&s), 1, false, down).0,
            Health::Complete
        );
        t.closed = false;
        t.is_active = false;
        assert_eq!(health(Some(&t), None, 1, false, UP).0, Health::Paused);
    }

    /// Issue #12: a deactivated task, or one with no bounty left, is paused
    /// with the reason, and resumes by itself when reactivated or funded; a withdrawn
    /// stake reads "withdrawn", not "not staked yet", until a stake comes back.
    #[test]
    fn paused_while_inactive_or_out_of_bounty_and_resumed_when_funded() {
        let mut t = task();
        t.params.bounty_per_round = 500;
        let s = stake(100, 5);
        assert_eq!(health(Some(&t), Some(&s), 1, false, UP).0, Health::Active);
        // Less than a round's bounty left still pays (the ledger pays what is left): active.
        t.available_bounty = 499;
        assert_eq!(health(Some(&t), Some(&s), 1, false, UP).0, Health::Active);
        // Nothing left: paused, the reason says so.
        t.available_bounty = 0;
        let (h, why) = health(Some(&t), Some(&s), 1, false, UP);
        assert_eq!(h, Health::Paused);
        assert!(
            why.contains("bounty exhausted (0 KOII left, a round pays 0.0000005 KOII)"),
            "{why}"
        );
        assert_eq!(
            hold(&t, Some(&s), 1, false).map(|h| h.0),
            Some(Hold::Paused)
        );
        // Paused whatever the process does (it keeps running for earlier rounds' lists).
        let down = Process {
            running: false,
            restarts: 3,
            last_error: Some("x"),
        };
        assert_eq!(health(Some(&t), Some(&s), 1, false, down).0, Health::Paused);
        // Funded again: resumed.
        t.available_bounty = 500;
        assert_eq!(health(Some(&t), Some(&s), 1, false, UP).0, Health::Active);
        assert_eq!(hold(&t, Some(&s), 1, false), None);
        t.terms_log.clear();
        // Deactivated, then reactivated.
        t.is_active = false;
        let (h, why) = health(Some(&t), Some(&s), 1, false, UP);
        assert_eq!((h, why.contains("deactivated")), (Health::Paused, true));
        t.is_active = true;
        assert_eq!(health(Some(&t), Some(&s), 1, false, UP).0, Health::Active);
        // No bounty per round: never exhausted.
        t.params.bounty_per_round = 0;
        t.available_bounty = 0;
        assert_eq!(hold(&t, Some(&s), 1, false), None);
        // Closed is complete, not paused; cooling down stays cooling down.
        t.closed = true;
        assert_eq!(health(Some(&t), Some(&s), 1, false, UP).0, Health::Complete);
        assert_eq!(hold(&t, Some(&s), 1, false), None);
    }

    #[test]
    fn a_withdrawn_stake_reads_withdrawn_until_a_stake_comes_back() {
        let t = task();
        let (h, why) = health(Some(&t), None, 1, true, UP);
        assert_eq!(h, Health::Withdrawn);
        assert!(why.contains("stopped"), "{why}");
        // The process is stopped: still withdrawn, not failing.
        let stopped = Process {
            running: false,
            restarts: 1,
            last_error: None,
        };
        assert_eq!(
            health(Some(&t), None, 1, true, stopped).0,
            Health::Withdrawn
        );
        // Staked again (by hand): the flag no longer holds it.
        let s = stake(100, 5);
        assert_eq!(health(Some(&t), Some(&s), 1, true, UP).0, Health::Active);
        // Never staked: warming up, as before.
        assert_eq!(health(Some(&t), None, 1, false, UP).0, Health::WarmingUp);
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
            health(Some(&t), Some(&s), 1, false, starting),
            (Health::WarmingUp, "task process starting".into())
        );
        let failing = Process {
            restarts: 1,
            ..starting
        };
        assert_eq!(
            health(Some(&t), Some(&s), 1, false, failing),
            (Health::Failing, "task process is restarting".into())
        );
        let failing = Process {
            last_error: Some("health check failed"),
            ..failing
        };
        assert_eq!(
            health(Some(&t), Some(&s), 1, false, failing),
            (Health::Failing, "health check failed".into())
        );
    }

    #[test]
    fn worse_terms_and_restake_amounts() {
        let now = TaskParams {
            slash_bps: 500,
            false_accusation_bps: 0,
            unstake_cooldown: 2,
            minimum_stake: 10,
            ..TaskParams::default()
        };
        assert!(worse_terms(&now, &now).is_empty());
        let better = TaskParams {
            slash_bps: 100,
            unstake_cooldown: 1,
            bounty_per_round: 9,
            ..now.clone()
        };
        assert!(worse_terms(&now, &better).is_empty());
        let worse = TaskParams {
            slash_bps: 1000,
            unstake_cooldown: 5,
            false_accusation_bps: 1,
            ..now.clone()
        };
        assert_eq!(
            worse_terms(&now, &worse),
            vec![
                "slash_bps 500 -> 1000",
                "false_accusation_bps 0 -> 1",
                "unstake_cooldown 2 -> 5"
            ]
        );
        // Everything claimed, up to the cap, within the balance.
        assert_eq!(restake_amount(5, 10, 100, 50), 5);
        assert_eq!(restake_amount(5, 98, 100, 50), 2);
        assert_eq!(restake_amount(5, 120, 100, 50), 0);
        assert_eq!(restake_amount(5, 10, 100, 3), 3);
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
