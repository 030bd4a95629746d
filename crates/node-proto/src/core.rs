//! `NodeCore`: what a node does for each of its tasks, slot by slot (SPEC §3–8).
//!
//! ```text
//!  handle_slot(view) ─┐                       ┌─▶ Action::RunTask / MakeProof / CheckProof /
//!  handle_proof(..)  ─┼─▶ NodeCore (no I/O) ──┤    MakeDistribution   (the shell asks the task)
//!  handle_check(..)  ─┤                       ├─▶ Action::Send(instruction) (the shell signs, sends)
//!  handle_list(..)   ─┘                       └─▶ Action::SuspectAudits       (the shell warns)
//!                 poll_action() pulls them; `crate::driver` runs this loop for every shell
//! ```
//! Every decision is re-derived from the ledger view, so the core is idempotent across
//! restarts: a proof already on the ledger is not sent again, a vote already counted is not
//! cast again, and anything sent but not yet visible is re-sent after `resend_after_slots`.
//! A shell calls `handle_slot` once per new block; there is no timer to ask for, since all
//! the core does is re-read from the view.
//!
//! The task's verdicts are not trusted blindly: the [`AuditGuard`](crate::AuditGuard) holds
//! `Invalid`s until a round's sample is checked and turns them into no raise and `Abstain`
//! when the task called most of the sample invalid (node policy; docs/operator-guide.md
//! "Audit guard").

mod audit;
mod distribution;

pub use self::distribution::equal_split;
use crate::driver::Answer;
use crate::policy::{SuspectPolicy, TaskConfig};
use crate::view::{LedgerView, TaskInfo};
use gradual_ledger::state::{may_submit, RoundTerms};
use gradual_ledger::Window;
use gradual_types::constants::raise_last_slot;
use gradual_types::{Hash, Instruction, Pubkey, Slot, TaskId, Verdict};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Held raises are released at the latest this many slots before the raise cutoff, so that
/// a raise on a truly bad proof still lands in time (one slot to be included, one spare).
const RAISE_MARGIN_SLOTS: u64 = 2;

/// Why the node asks its task for a distribution list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListPurpose {
    /// This node is the selected submitter of the attempt.
    Submit,
    /// This node holds a seat on the attempt's committee and checks the uploaded list.
    Audit,
}

/// The core asks its task for the reward list of `round`'s attempt `attempt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub task: TaskId,
    pub round: u64,
    pub attempt: u16,
    pub purpose: ListPurpose,
    /// Non-voided submitters of `round`, sorted.
    pub submitters: Vec<Pubkey>,
    /// Most the list may pay: `min(bounty_per_round, bounty available to it)`.
    pub bounty: u64,
}

impl ListRequest {
    /// The task's answer to this request: its list.
    pub fn answer(&self, list: Vec<(Pubkey, u64)>) -> Answer {
        Answer::List {
            task: self.task,
            round: self.round,
            attempt: self.attempt,
            purpose: self.purpose,
            list,
        }
    }
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
    /// Ask the task for the reward list of an attempt; answer with
    /// [`NodeCore::handle_list`] (or [`ListRequest::answer`]).
    MakeDistribution(ListRequest),
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
    /// The last `Stake` sent and not yet seen on the ledger: when, and the amount it brings
    /// the stake to.
    stake_sent: Option<(Slot, u64)>,
    /// The shell holds the task back (paused, withdrawn): no new work, proofs, audits or
    /// stakes; duties of rounds under way (lists and their votes), claims and unstakes go on.
    held: bool,
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

    /// Hold `task` back or let it go on (see `TaskState::held`). The core, not the shell,
    /// skips the held work, so nothing is left half-asked when the task resumes.
    pub fn set_held(&mut self, task: &TaskId, held: bool) {
        if let Some(st) = self.tasks.get_mut(task) {
            st.held = held;
        }
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

    /// Feed one of the task's answers back (`at`, for a proof, is `view.slot() + 1`).
    pub fn handle_answer(&mut self, answer: Answer, view: &dyn LedgerView) {
        match answer {
            Answer::Proof { task, round, value } => {
                self.handle_proof(&task, round, value, view.slot() + 1)
            }
            Answer::Check {
                task,
                round,
                candidate,
                verdict,
            } => self.handle_check(&task, round, candidate, verdict),
            Answer::List {
                task,
                round,
                attempt,
                purpose,
                list,
            } => self.handle_list(&task, round, attempt, purpose, list, view),
        }
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
        if let Some(target) = st.config.stake_roe.filter(|_| !st.leave && !st.held) {
            let next = info.terms_for(now + 1);
            let next_min = next.minimum_stake;
            let top_up = match &stake {
                None => target,
                Some(s) if s.unstake_round.is_some() => 0,
                Some(s) if s.amount >= next_min => 0,
                Some(s) => target.saturating_sub(s.amount),
            };
            let held = stake.as_ref().map_or(0, |s| s.amount);
            // The stake reached what the last `Stake` brings it to: it landed (a stake that
            // grew for another reason, a restake or the owner's, does not count).
            if st.stake_sent.is_some_and(|(_, to)| held >= to) {
                st.stake_sent = None;
            }
            if top_up > 0
                && next.is_active
                && held + top_up >= next_min
                && !info.closed
                // Stakes add up: until the last one is seen, a resend waits for it (signed
                // at its decision slot) to expire, so a slow block or a lagging view cannot
                // double it.
                && st
                    .stake_sent
                    .is_none_or(|(s, _)| at > s + view.tx_max_age_slots().max(resend))
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
                st.stake_sent = Some((at, held + top_up));
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
        let eligible = |r: u64| may_submit(stake.as_ref(), terms(r).minimum_stake, clock.start(r));
        let held = st.held;
        let working = |r: u64| !held && !info.closed && terms(r).is_active;

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
            if !held && w.contains(at) {
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
        let span = gradual_types::constants::retention_rounds(most_attempts);
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
}

/// The terms round `r` runs under: the ledger's round record once it exists, else the
/// task's terms log (the ledger's own fallback when it opens the round).
fn round_terms(view: &dyn LedgerView, id: &TaskId, info: &TaskInfo, r: u64) -> RoundTerms {
    view.round_record(id, r)
        .map_or_else(|| info.terms_for(r), |rec| rec.terms)
}
