//! `NodeCore`: what a node does for each of its tasks, slot by slot (SPEC §3–8).
//!
//! ```text
//!  handle_slot(view) ─┐                       ┌─▶ Action::RunTask / MakeProof / CheckProof /
//!  handle_proof(..)  ─┼─▶ NodeCore (no I/O) ──┤    MakeDistribution   (the shell asks the task)
//!  handle_check(..)  ─┤                       ├─▶ Action::Send(instruction) (the shell signs, sends)
//!  handle_list(..)   ─┘                       └─▶ Action::SuspectAudits       (the shell warns)
//!                            poll_action() pulls them; poll_timeout() says when to call again
//! ```
//! Every decision is re-derived from the ledger view, so the core is idempotent across
//! restarts: a proof already on the ledger is not sent again, a vote already counted is not
//! cast again, and anything sent but not yet visible is re-sent after `resend_after_slots`.
//!
//! The task's verdicts are not trusted blindly: the [`AuditGuard`] holds `Invalid`s until a
//! round's sample is checked and turns them into no raise and `Abstain` when the task called
//! most of the sample invalid (node policy; docs/operator-guide.md "Audit guard").

use crate::view::{LedgerView, TaskInfo};
use gradual_ledger::state::{RoundStatus, RoundTerms};
use gradual_ledger::{distribution_digest, Window};
use gradual_types::constants::{
    raise_last_slot, AUDIT_VOTES_PER_TX_MAX, DISTRIBUTION_ENTRIES_PER_CHUNK_MAX,
};
use gradual_types::{Hash, Instruction, Pubkey, Slot, TaskId, Verdict};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::str::FromStr;

/// Fewest finished checks of a round's own sample before the audit guard judges the task's
/// verdicts: with fewer, one bad peer in a sample of one or two would look like a broken task.
pub const SUSPECT_MIN_CHECKS: u64 = 3;

/// Held raises are released at the latest this many slots before the raise cutoff, so that
/// a raise on a truly bad proof still lands in time (one slot to be included, one spare).
const RAISE_MARGIN_SLOTS: u64 = 2;

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

use gradual_types::constants::BPS_DENOMINATOR;

impl AuditGuard {
    /// No guard: every `Invalid` is raised as soon as its check is done.
    pub const OFF: AuditGuard = AuditGuard {
        invalid_share_max_bps: BPS_DENOMINATOR as u16,
        on_suspect: SuspectPolicy::Abstain,
    };

    fn on(&self) -> bool {
        u64::from(self.invalid_share_max_bps) < BPS_DENOMINATOR
    }

    /// `invalid` of `checked` is more than the allowed share (integers only).
    fn trips(&self, checked: u64, invalid: u64) -> bool {
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

/// Why the node asks its task for a distribution list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPurpose {
    /// This node is the selected submitter of the attempt.
    Submit,
    /// This node holds a seat on the attempt's committee and checks the uploaded list.
    Audit,
}

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the task's work for `round` (its work period has started).
    RunTask { task: TaskId, round: u64 },
    /// Ask the task for its proof of `round`; answer with [`NodeCore::handle_proof`].
    MakeProof { task: TaskId, round: u64 },
    /// Ask the task to check a peer's proof; answer with [`NodeCore::handle_check`].
    CheckProof {
        task: TaskId,
        round: u64,
        candidate: Pubkey,
        value: Vec<u8>,
    },
    /// Ask the task for the reward list of `round`; answer with [`NodeCore::handle_list`].
    MakeDistribution {
        task: TaskId,
        round: u64,
        attempt: u16,
        purpose: ListPurpose,
        /// Non-voided submitters of `round`, sorted.
        submitters: Vec<Pubkey>,
        /// Most the list may pay: `min(bounty_per_round, bounty available to it)`.
        bounty: u64,
    },
    /// Sign and send this instruction.
    Send { task: TaskId, ix: Instruction },
    /// Alert (the shell logs it at warn level): the task called `invalid` of the `checked`
    /// peers of this round's sample (`sampled` asked) `Invalid`, more than its
    /// `invalid_share_max_bps` allows. The node raises nothing and votes `Abstain` instead
    /// of `Invalid` for this task and round; with `unstake` it also leaves the task.
    SuspectAudits {
        task: TaskId,
        round: u64,
        sampled: u64,
        checked: u64,
        invalid: u64,
        unstake: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Proof {
    Asked,
    Sent { at: Slot, value: Vec<u8> },
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Asked,
    Done(Verdict),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum List {
    Asked,
    /// Submitter: the list, last sent at `at`.
    Sent {
        at: Slot,
        list: Vec<(Pubkey, u64)>,
    },
    /// Auditor: our verdict, last sent at `at`.
    Voted {
        at: Slot,
        verdict: Verdict,
    },
}

#[derive(Debug, Default)]
struct TaskState {
    config: TaskConfig,
    worked_round: Option<u64>,
    proofs: BTreeMap<u64, Proof>,
    checks: BTreeMap<(u64, Pubkey), Check>,
    sampled: BTreeSet<u64>,
    /// The peers of each round's own sample whose checks were asked.
    picked: BTreeSet<(u64, Pubkey)>,
    /// Rounds the audit guard found suspect, and how many so far.
    suspect: BTreeSet<u64>,
    suspect_rounds: u64,
    /// The guard asked to leave the task (`abstain-and-unstake`); the `Unstake` last sent.
    leave: bool,
    unstake_sent: Option<Slot>,
    /// Last vote sent per candidate: when, and whether it was a raise (first Invalid).
    votes_sent: BTreeMap<(u64, Pubkey), (Slot, bool)>,
    lists: BTreeMap<(u64, u16, bool), List>,
    stake_sent: Option<Slot>,
    claim_sent: Option<Slot>,
}

/// Counters a node reports (and the simulator aggregates).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub proofs_sent: u64,
    pub checks_asked: u64,
    pub audits_raised: u64,
    pub votes_sent: u64,
    pub lists_sent: u64,
    pub list_votes_sent: u64,
    /// Rounds in which the audit guard found a task's verdicts suspect (all tasks).
    pub suspect_rounds: u64,
}

pub struct NodeCore {
    me: Pubkey,
    /// The node's own sampling seed (SPEC §5 "its own seeded choice").
    seed: Hash,
    resend_after_slots: u64,
    tasks: BTreeMap<TaskId, TaskState>,
    out: VecDeque<Action>,
    stats: NodeStats,
}

impl NodeCore {
    pub fn new(me: Pubkey, seed: Hash) -> NodeCore {
        NodeCore {
            me,
            seed,
            resend_after_slots: 10,
            tasks: BTreeMap::new(),
            out: VecDeque::new(),
            stats: NodeStats::default(),
        }
    }

    /// Re-send anything not visible on the ledger after this many slots (default 10).
    pub fn set_resend_after_slots(&mut self, slots: u64) {
        self.resend_after_slots = slots.max(1);
    }

    pub fn me(&self) -> Pubkey {
        self.me
    }

    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    pub fn add_task(&mut self, task: TaskId, config: TaskConfig) {
        self.tasks.entry(task).or_default().config = config;
    }

    pub fn remove_task(&mut self, task: &TaskId) {
        self.tasks.remove(task);
    }

    /// Rounds of `task` in which the audit guard found the task's verdicts suspect.
    pub fn suspect_rounds(&self, task: &TaskId) -> u64 {
        self.tasks.get(task).map_or(0, |st| st.suspect_rounds)
    }

    pub fn task_ids(&self) -> Vec<TaskId> {
        self.tasks.keys().copied().collect()
    }

    /// The next action for the shell, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.pop_front()
    }

    /// The task answered [`Action::MakeProof`]; `None` means it has no proof this round.
    pub fn handle_proof(&mut self, task: &TaskId, round: u64, value: Option<Vec<u8>>, at: Slot) {
        let Some(st) = self.tasks.get_mut(task) else {
            return;
        };
        match value {
            Some(value) => {
                self.out.push_back(Action::Send {
                    task: *task,
                    ix: Instruction::SubmitProof {
                        task: *task,
                        round,
                        value: value.clone(),
                    },
                });
                self.stats.proofs_sent += 1;
                st.proofs.insert(round, Proof::Sent { at, value });
            }
            None => {
                st.proofs.insert(round, Proof::None);
            }
        }
    }

    /// The task answered [`Action::CheckProof`]. Votes go out at the next `handle_slot`,
    /// batched per round.
    pub fn handle_check(&mut self, task: &TaskId, round: u64, candidate: Pubkey, verdict: Verdict) {
        if let Some(st) = self.tasks.get_mut(task) {
            st.checks.insert((round, candidate), Check::Done(verdict));
        }
    }

    /// The task answered [`Action::MakeDistribution`] with its reward list.
    pub fn handle_list(
        &mut self,
        task: &TaskId,
        round: u64,
        attempt: u16,
        purpose: ListPurpose,
        mut list: Vec<(Pubkey, u64)>,
        view: &dyn LedgerView,
    ) {
        let at = view.slot() + 1;
        let Some(st) = self.tasks.get_mut(task) else {
            return;
        };
        match purpose {
            ListPurpose::Submit => {
                list.sort_unstable_by_key(|(n, _)| *n);
                send_list(&mut self.out, task, round, attempt, &list, 0);
                self.stats.lists_sent += 1;
                st.lists
                    .insert((round, attempt, true), List::Sent { at, list });
            }
            ListPurpose::Audit => {
                list.sort_unstable_by_key(|(n, _)| *n);
                let uploaded = view.distribution_list(task, round, attempt);
                let verdict = if uploaded == list {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                self.out.push_back(Action::Send {
                    task: *task,
                    ix: Instruction::AuditDistribution {
                        task: *task,
                        round,
                        attempt,
                        verdict,
                    },
                });
                self.stats.list_votes_sent += 1;
                st.lists
                    .insert((round, attempt, false), List::Voted { at, verdict });
            }
        }
    }

    /// The earliest slot at which `handle_slot` may have something new to do: the next slot
    /// while any window of a task is open, else the next window boundary.
    pub fn poll_timeout(&self, view: &dyn LedgerView) -> Option<Slot> {
        let at = view.slot() + 1;
        let mut next: Option<Slot> = None;
        for id in self.tasks.keys() {
            let Some(info) = view.task(id) else { continue };
            let c = info.clock;
            let now = c.round(at);
            let offsets = [0, c.submission_window, c.submission_window + c.audit_window];
            let in_window = offsets[1..].iter().any(|end| at < c.start(now) + end);
            if in_window {
                return Some(at);
            }
            let boundary = c.start(now + 1);
            next = Some(next.map_or(boundary, |n| n.min(boundary)));
        }
        next
    }

    /// Look at the ledger after a block and queue whatever is due. Calling it again with the
    /// same view queues nothing new.
    pub fn handle_slot(&mut self, view: &dyn LedgerView) {
        let ids: Vec<TaskId> = self.tasks.keys().copied().collect();
        for id in ids {
            self.step_task(&id, view);
        }
    }

    fn due(&self, sent: Option<Slot>, at: Slot) -> bool {
        sent.is_none_or(|s| at >= s + self.resend_after_slots)
    }

    fn step_task(&mut self, id: &TaskId, view: &dyn LedgerView) {
        let Some(info) = view.task(id) else { return };
        let at = view.slot() + 1;
        let me = self.me;
        let clock = info.clock;
        let now = clock.round(at);
        let stake = view.stake(id, &me);
        let resend = self.resend_after_slots;
        let st = self.tasks.get_mut(id).expect("listed");

        // Operator comforts: stake when below the minimum, claim when rewards pile up.
        // A stake placed now counts from the next round, so it must meet that round's
        // minimum. The node tops up to the configured amount and never past it: a manager
        // raising the minimum above it stops this node working the task instead of
        // draining its balance one resend at a time.
        // Nor does it stake for a round that will not run.
        // A node that left the task on the audit guard's word does not stake it again.
        if let Some(target) = st.config.stake_roe.filter(|_| !st.leave) {
            let next = info.terms_for(now + 1);
            let next_min = next.minimum_stake;
            let top_up = match &stake {
                None => target,
                Some(s) if s.unstake_round.is_some() => 0,
                Some(s) if s.amount >= next_min => 0,
                Some(s) => target.saturating_sub(s.amount),
            };
            let held = stake.as_ref().map_or(0, |s| s.amount);
            if top_up > 0
                && next.is_active
                && held + top_up >= next_min
                && !info.closed
                && st.stake_sent.is_none_or(|s| at >= s + resend)
                && view.balance(&me) >= top_up
            {
                let url = st.config.url.clone();
                self.out.push_back(Action::Send {
                    task: *id,
                    ix: Instruction::Stake {
                        task: *id,
                        amount: top_up,
                        url,
                        owner: None,
                    },
                });
                st.stake_sent = Some(at);
            }
        }
        if let Some(threshold) = st.config.claim_at_roe {
            let pending = view.pending_reward(id, &me);
            if pending > 0 && pending >= threshold && st.claim_sent.is_none_or(|s| at >= s + resend)
            {
                self.out.push_back(Action::Send {
                    task: *id,
                    ix: Instruction::Claim { task: *id },
                });
                st.claim_sent = Some(at);
            }
        }

        // Round terms (SPEC §2): whether a round runs, and the stake it asks for, were fixed
        // at its start; a manager's update only counts from the next round on.
        let terms = |r: u64| round_terms(view, id, &info, r);
        let eligible = |r: u64| {
            let min = terms(r).minimum_stake;
            stake.as_ref().is_some_and(|s| {
                s.amount >= min && s.unstake_round.is_none() && s.staked_slot < clock.start(r)
            })
        };
        let working = |r: u64| !info.closed && terms(r).is_active;

        // Work period of the current round.
        if working(now) && eligible(now) && st.worked_round != Some(now) {
            st.worked_round = Some(now);
            self.out.push_back(Action::RunTask {
                task: *id,
                round: now,
            });
        }

        if let Some(r) = now.checked_sub(1) {
            // Proof submission for the previous round.
            if working(r)
                && clock.window(Window::ProofSubmission, r, 0).contains(at)
                && eligible(r)
                && view.submission(id, r, &me).is_none()
            {
                match st.proofs.get(&r) {
                    None => {
                        st.proofs.insert(r, Proof::Asked);
                        self.out.push_back(Action::MakeProof {
                            task: *id,
                            round: r,
                        });
                    }
                    Some(Proof::Sent { at: sent, value }) if at >= sent + resend => {
                        let value = value.clone();
                        self.out.push_back(Action::Send {
                            task: *id,
                            ix: Instruction::SubmitProof {
                                task: *id,
                                round: r,
                                value: value.clone(),
                            },
                        });
                        st.proofs.insert(r, Proof::Sent { at, value });
                    }
                    _ => {}
                }
            }
            // Proof audits for the previous round: raises only until the raise cutoff
            // (SPEC §5 *Vote window*), seat votes until the window closes.
            let w = clock.window(Window::ProofAudit, r, 0);
            if w.contains(at) {
                // The round's own terms bound the raises (SPEC §2 *Round terms*).
                let sample = terms(r).audit_sample;
                let last = raise_last_slot(w.opens, clock.audit_window, view.slot_ms());
                self.audit_round(id, r, at, sample, last, view);
            }
        }

        // The audit guard asked to leave (`abstain-and-unstake`): unstake once; re-sent only
        // while the ledger does not show it.
        let st = self.tasks.get_mut(id).expect("listed");
        if st.leave
            && stake
                .as_ref()
                .is_some_and(|s| s.amount > 0 && s.unstake_round.is_none())
            && st.unstake_sent.is_none_or(|s| at >= s + resend)
        {
            self.out.push_back(Action::Send {
                task: *id,
                ix: Instruction::Unstake { task: *id },
            });
            st.unstake_sent = Some(at);
        }

        // Distribution duties for rounds whose attempts may be under way.
        let most_attempts = info
            .terms_log
            .iter()
            .map(|(_, t)| t.allowed_failed_distributions)
            .chain([info.params.allowed_failed_distributions])
            .max()
            .unwrap_or_default();
        let span = u64::from(most_attempts) + 3;
        for r in now.saturating_sub(span)..now.saturating_sub(1) {
            self.distribution_round(id, r, at, &info, view);
        }

        // Forget rounds that can no longer change.
        let st = self.tasks.get_mut(id).expect("listed");
        let keep_from = now.saturating_sub(span + 1);
        st.proofs = st.proofs.split_off(&keep_from);
        st.checks = st.checks.split_off(&(keep_from, Pubkey([0; 32])));
        st.votes_sent = st.votes_sent.split_off(&(keep_from, Pubkey([0; 32])));
        st.sampled = st.sampled.split_off(&keep_from);
        st.picked = st.picked.split_off(&(keep_from, Pubkey([0; 32])));
        st.suspect = st.suspect.split_off(&keep_from);
        st.lists = st.lists.split_off(&(keep_from, 0, false));
    }

    /// Proof audit duties for round `r` at slot `at`. `raise_last` is the last slot at which
    /// the ledger accepts a raise; after it the node only votes where it holds a seat.
    fn audit_round(
        &mut self,
        id: &TaskId,
        r: u64,
        at: Slot,
        sample: u16,
        raise_last: Slot,
        view: &dyn LedgerView,
    ) {
        let me = self.me;
        let may_raise = at <= raise_last;
        let st = self.tasks.get_mut(id).expect("listed");
        // 1. Sample peers once per round (pointless once no raise can land).
        if st.sampled.insert(r) && may_raise {
            let subs = view.submitters(id, r);
            let n = subs.len() as u64;
            let want = usize::from(sample).min(subs.len().saturating_sub(1));
            let mut picked = BTreeSet::new();
            let mut j: u64 = 0;
            while picked.len() < want && j < 8 * u64::from(sample) + 16 {
                let h = Hash::domain(
                    "gradual/node-sample/v1",
                    &[&self.seed.0, &id.0, &r.to_le_bytes(), &j.to_le_bytes()],
                );
                let idx = (u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes")) % n) as usize;
                if subs[idx].0 != me {
                    picked.insert(subs[idx].0);
                }
                j += 1;
            }
            for cand in picked {
                if let Some(sub) = view.submission(id, r, &cand) {
                    st.checks.insert((r, cand), Check::Asked);
                    st.picked.insert((r, cand));
                    self.stats.checks_asked += 1;
                    self.out.push_back(Action::CheckProof {
                        task: *id,
                        round: r,
                        candidate: cand,
                        value: sub.value,
                    });
                }
            }
        }
        // 2. Every raised audit where this node holds a seat must be checked.
        for cand in view.seated_audits(id, r, &me) {
            if st.checks.contains_key(&(r, cand)) || cand == me {
                continue;
            }
            let Some(audit) = view.audit(id, r, &cand) else {
                continue;
            };
            let seated = audit
                .committee
                .as_ref()
                .is_some_and(|c| c.seats_of(&me) > 0);
            if seated && !audit.votes.iter().any(|(n, _)| *n == me) {
                if let Some(sub) = view.submission(id, r, &cand) {
                    st.checks.insert((r, cand), Check::Asked);
                    self.stats.checks_asked += 1;
                    self.out.push_back(Action::CheckProof {
                        task: *id,
                        round: r,
                        candidate: cand,
                        value: sub.value,
                    });
                }
            }
        }
        // 3. The audit guard judges the task's verdicts on this round's own sample (seat
        //    checks are of accused proofs, so they would bias it) before any `Invalid` leaves:
        //    those are held until the sample is all checked or the raise cutoff is near,
        //    whichever comes first. Once suspect, a round stays suspect.
        let guard = st.config.audit_guard;
        let (mut sampled, mut pending, mut checked, mut invalid) = (0u64, 0u64, 0u64, 0u64);
        for (_, cand) in st
            .picked
            .range((r, Pubkey([0; 32]))..=(r, Pubkey([0xff; 32])))
        {
            sampled += 1;
            match st.checks.get(&(r, *cand)) {
                Some(Check::Done(Verdict::Invalid)) => {
                    checked += 1;
                    invalid += 1;
                }
                Some(Check::Done(_)) => checked += 1,
                Some(Check::Asked) | None => pending += 1,
            }
        }
        let released =
            !guard.on() || pending == 0 || at >= raise_last.saturating_sub(RAISE_MARGIN_SLOTS);
        if released && !st.suspect.contains(&r) && guard.trips(checked, invalid) {
            let unstake = guard.on_suspect == SuspectPolicy::AbstainAndUnstake;
            st.suspect.insert(r);
            st.suspect_rounds += 1;
            st.leave |= unstake;
            self.stats.suspect_rounds += 1;
            self.out.push_back(Action::SuspectAudits {
                task: *id,
                round: r,
                sampled,
                checked,
                invalid,
                unstake,
            });
        }
        let suspect = st.suspect.contains(&r);

        // 4. Votes from finished checks: raise an audit on an invalid proof nobody has raised
        //    yet; vote where this node holds a seat.
        let mut votes = Vec::new();
        let done: Vec<(Pubkey, Verdict)> = st
            .checks
            .range((r, Pubkey([0; 32]))..=(r, Pubkey([0xff; 32])))
            .filter_map(|((_, c), ch)| match ch {
                Check::Done(v) => Some((*c, *v)),
                Check::Asked => None,
            })
            .collect();
        // Raises already on their way this round (the ledger takes `audit_sample` per node).
        let mut raises_sent = self.tasks[id]
            .votes_sent
            .range((r, Pubkey([0; 32]))..=(r, Pubkey([0xff; 32])))
            .filter(|(_, (_, raise))| *raise)
            .count();
        for (cand, verdict) in done {
            let last = self.tasks[id].votes_sent.get(&(r, cand)).copied();
            let already_raised = matches!(last, Some((_, true)));
            match view.audit(id, r, &cand) {
                None if verdict == Verdict::Invalid
                    && may_raise
                    && released
                    && !suspect
                    && raises_sent < usize::from(sample)
                    && self.due(last.map(|(s, _)| s), at) =>
                {
                    votes.push((cand, Verdict::Invalid, true));
                    self.stats.audits_raised += 1;
                    if !already_raised {
                        raises_sent += 1;
                    }
                }
                None => {}
                Some(audit) => {
                    let Some(c) = audit.committee.as_ref() else {
                        continue;
                    };
                    // A seat owed in a suspect round is still voted, as `Abstain`, so the node
                    // is not counted silent; an `Invalid` waits for the guard's decision.
                    let verdict = match verdict {
                        Verdict::Invalid if suspect => Verdict::Abstain,
                        Verdict::Invalid if !released => continue,
                        v => v,
                    };
                    // A raise that lost the race to another accuser is no seat vote: vote now.
                    let due = matches!(last, None | Some((_, true)))
                        || self.due(last.map(|(s, _)| s), at);
                    if due && c.seats_of(&me) > 0 && !audit.votes.iter().any(|(n, _)| *n == me) {
                        votes.push((cand, verdict, false));
                        self.stats.votes_sent += 1;
                    }
                }
            }
        }
        let st = self.tasks.get_mut(id).expect("listed");
        for (cand, _, raise) in &votes {
            st.votes_sent.insert((r, *cand), (at, *raise));
        }
        // Raises and seat votes travel in separate batches, so that a batch's receipt is about
        // one kind of vote. Each vote of a batch stands or falls on its own, and a raise that
        // loses the race to another accuser in the same block counts as this node's vote
        // (SPEC §1 [v2]).
        let (raises, seat_votes): (Vec<_>, Vec<_>) =
            votes.into_iter().partition(|(_, _, raise)| *raise);
        for group in [raises, seat_votes] {
            let group: Vec<(Pubkey, Verdict)> = group.into_iter().map(|(c, v, _)| (c, v)).collect();
            for batch in group.chunks(AUDIT_VOTES_PER_TX_MAX) {
                let ix = if batch.len() == 1 {
                    Instruction::AuditProof {
                        task: *id,
                        round: r,
                        candidate: batch[0].0,
                        verdict: batch[0].1,
                    }
                } else {
                    Instruction::AuditProofs {
                        task: *id,
                        round: r,
                        votes: batch.to_vec(),
                    }
                };
                self.out.push_back(Action::Send { task: *id, ix });
            }
        }
    }

    fn distribution_round(
        &mut self,
        id: &TaskId,
        r: u64,
        at: Slot,
        info: &crate::view::TaskInfo,
        view: &dyn LedgerView,
    ) {
        let me = self.me;
        let resend = self.resend_after_slots;
        let Some(rec) = view.round_record(id, r) else {
            return;
        };
        if rec.status != RoundStatus::Distributing {
            return;
        }
        let i = rec.current_attempt;
        let Some(att) = view.attempt(id, r, i) else {
            return;
        };
        let clock = info.clock;
        let st = self.tasks.get_mut(id).expect("listed");
        let submitters = || -> Vec<Pubkey> {
            view.submitters(id, r)
                .iter()
                .filter(|(_, v)| !v)
                .map(|(n, _)| *n)
                .collect()
        };
        let bpr = rec.terms.bounty_per_round;
        if clock
            .window(Window::DistributionSubmission, r, i)
            .contains(at)
            && att.submitter == me
            && att.list.is_none()
        {
            match st.lists.get(&(r, i, true)) {
                None => {
                    st.lists.insert((r, i, true), List::Asked);
                    let bounty = bpr.min(info.available_bounty);
                    self.out.push_back(Action::MakeDistribution {
                        task: *id,
                        round: r,
                        attempt: i,
                        purpose: ListPurpose::Submit,
                        submitters: submitters(),
                        bounty,
                    });
                }
                // A missed turn is slashed `missed_list_bps` (SPEC §6 [v2]) and the window is
                // short, so a list is resent every slot until the ledger shows it, from the
                // first chunk the ledger does not have: a lost chunk costs one slot, not the
                // turn, and a resend repeats no chunk that already landed.
                Some(List::Sent { at: sent, list }) if at > *sent => {
                    let list = list.clone();
                    send_list(&mut self.out, id, r, i, &list, att.upload.chunks);
                    st.lists.insert((r, i, true), List::Sent { at, list });
                }
                _ => {}
            }
        }
        let Some(list) = att.list.as_ref() else {
            return;
        };
        if !clock.window(Window::DistributionAudit, r, i).contains(at) {
            return;
        }
        let seated = att.committee.as_ref().is_some_and(|c| c.seats_of(&me) > 0);
        if !seated || att.votes.iter().any(|(n, _)| *n == me) {
            return;
        }
        match st.lists.get(&(r, i, false)) {
            None => {
                st.lists.insert((r, i, false), List::Asked);
                // The list under audit already reserved its own sum: add it back.
                let bounty = bpr.min(info.available_bounty.saturating_add(list.total_roe));
                self.out.push_back(Action::MakeDistribution {
                    task: *id,
                    round: r,
                    attempt: i,
                    purpose: ListPurpose::Audit,
                    submitters: submitters(),
                    bounty,
                });
            }
            Some(List::Voted { at: sent, verdict }) if at >= sent + resend => {
                let verdict = *verdict;
                self.out.push_back(Action::Send {
                    task: *id,
                    ix: Instruction::AuditDistribution {
                        task: *id,
                        round: r,
                        attempt: i,
                        verdict,
                    },
                });
                st.lists.insert((r, i, false), List::Voted { at, verdict });
            }
            _ => {}
        }
    }
}

/// Upload `list` from chunk `from` on (the chunks before it are on the ledger) and submit it.
fn send_list(
    out: &mut VecDeque<Action>,
    task: &TaskId,
    round: u64,
    attempt: u16,
    list: &[(Pubkey, u64)],
    from: u32,
) {
    let chunks = list.chunks(DISTRIBUTION_ENTRIES_PER_CHUNK_MAX).enumerate();
    for (index, chunk) in chunks.skip(from as usize) {
        out.push_back(Action::Send {
            task: *task,
            ix: Instruction::UploadDistributionChunk {
                task: *task,
                round,
                attempt,
                index: index as u32,
                entries: chunk.to_vec(),
            },
        });
    }
    out.push_back(Action::Send {
        task: *task,
        ix: Instruction::SubmitDistribution {
            task: *task,
            round,
            attempt,
            digest: distribution_digest(list),
            count: list.len() as u32,
        },
    });
}

/// The terms round `r` runs under: the ledger's round record once it exists, else the
/// task's terms log (the ledger's own fallback when it opens the round).
fn round_terms(view: &dyn LedgerView, id: &TaskId, info: &TaskInfo, r: u64) -> RoundTerms {
    view.round_record(id, r)
        .map_or_else(|| info.terms_for(r), |rec| rec.terms)
}

/// SPEC §6 default policy: `bounty` split equally among `submitters` (floor division; the
/// remainder stays in the task), sorted by node.
pub fn equal_split(submitters: &[Pubkey], bounty: u64) -> Vec<(Pubkey, u64)> {
    if submitters.is_empty() {
        return Vec::new();
    }
    let share = bounty / submitters.len() as u64;
    let mut list: Vec<(Pubkey, u64)> = submitters.iter().map(|n| (*n, share)).collect();
    list.sort_unstable_by_key(|(n, _)| *n);
    list
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
