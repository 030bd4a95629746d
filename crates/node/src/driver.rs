//! The driver loop: one [`NodeCore`] for every task of the node, fed a fresh [`Snapshot`]
//! at each new head slot and the tasks' answers as they come, through the shared loop of
//! [`gradual_node_proto::driver`] (one pass per slot: task calls answer later, through
//! [`driver::answer`]). Its actions become control calls (`calls.rs`, concurrent, each with
//! a timeout) and signed transactions (`sender.rs`, in order).

use crate::calls::{self, Call, Kind};
use crate::config::{NodeConfig, TaskEntry};
use crate::events::Tracker;
use crate::launcher::{self, Launcher};
use crate::node::task_config;
use crate::sender::Sender;
use crate::shared::{Counters, NodeShared, Published};
use crate::status::{self, declared_ports, unapproved_ports, Hold, Process, TaskStatus};
use crate::supervisor::{stopped, Phase};
use crate::view::Snapshot;
use gradual_client::Client;
use gradual_ledger::state::StakeRecord;
use gradual_node_proto::{driver, Action, Answer, ListPurpose, NodeCore, Shell};
use gradual_types::constants::retention_rounds;
use gradual_types::{format_koii, Instruction, Slot, TaskId};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Process starts seen when `task` was last called, and for which round.
type RunMark = (u64, Option<u64>);

/// Re-warn about a low balance at most this often (slots).
const LOW_BALANCE_WARN_EVERY: Slot = 100;

pub(crate) struct Driver {
    pub shared: Arc<NodeShared>,
    pub sender: Sender,
    /// Per task: process starts when `task` was last called, and for which round.
    pub ran: Mutex<BTreeMap<TaskId, RunMark>>,
    /// `unpaid_rounds_warn` of the config.
    pub unpaid_rounds_warn: u64,
    /// Starts and stops task processes (tasks added or removed on a reload).
    pub launcher: Arc<Launcher>,
    /// The node's URL as registered with its stakes.
    pub public_url: String,
}

/// What the driver follows of one task between snapshots (the node shell's side: the
/// core knows nothing of it).
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// This node's round events, logged once each, and their totals.
    pub events: Tracker,
    /// The node saw its stake unstaking (then gone: withdrawn).
    pub saw_unstaking: bool,
    /// Its stake was withdrawn and none came back (kept in the store).
    pub withdrawn: bool,
    /// Whether, and why, the node holds the task back now.
    pub hold: Option<(Hold, String)>,
    /// This node's pending rewards in the last snapshot (a drop: claimed).
    pub last_pending: Option<u64>,
    /// The pending update last judged (`worse_terms`), so it is reported once.
    pub update_seen: Option<gradual_types::TaskParams>,
}

impl Watch {
    /// Follow this node's stake record; whether its stake is withdrawn now: seen unstaking,
    /// then no stake record at all (or withdrawn already); a stake back ends it.
    pub(crate) fn follow_stake(&mut self, stake: Option<&StakeRecord>) -> bool {
        // A withdrawn stake whose owner is another key leaves an empty record behind.
        match stake.filter(|s| s.amount > 0) {
            Some(s) if s.unstake_round.is_some() => {
                self.saw_unstaking = true;
                false
            }
            Some(_) => {
                self.saw_unstaking = false;
                false
            }
            None => self.withdrawn || self.saw_unstaking,
        }
    }
}

/// Whether the node drops `action` of a task it holds back ([`Hold`]): new work (the
/// task's run, its proof, audits of peers, stakes) is dropped; the duties of rounds already
/// under way (distribution lists and their votes), claims, unstakes and withdrawals go on.
pub(crate) fn held_back(action: &Action) -> bool {
    match action {
        Action::RunTask { .. } | Action::MakeProof { .. } | Action::CheckProof { .. } => true,
        Action::MakeDistribution(_) | Action::SuspectAudits { .. } => false,
        Action::Send { ix, .. } => matches!(
            ix,
            Instruction::SubmitProof { .. }
                | Instruction::AuditProof { .. }
                | Instruction::AuditProofs { .. }
                | Instruction::Stake { .. }
        ),
    }
}

fn action_task(action: &Action) -> TaskId {
    match action {
        Action::RunTask { task, .. }
        | Action::MakeProof { task, .. }
        | Action::CheckProof { task, .. }
        | Action::Send { task, .. }
        | Action::SuspectAudits { task, .. } => *task,
        Action::MakeDistribution(req) => req.task,
    }
}

impl Driver {
    pub(crate) async fn run(
        self,
        mut core: NodeCore,
        mut config: NodeConfig,
        mut reload: mpsc::UnboundedReceiver<NodeConfig>,
        mut stop: watch::Receiver<bool>,
    ) {
        let sh = self.shared.clone();
        let (head_rx, watcher) = watch_head(sh.clone(), stop.clone());
        let mut head_rx = head_rx;
        // Sender: signs and sends in order.
        let (send_tx, send_rx) = mpsc::unbounded_channel::<(Instruction, Slot)>();
        let sender = tokio::spawn(self.sender.clone().run(send_rx));
        let (ans_tx, mut ans_rx) = mpsc::unbounded_channel::<Answer>();
        let mut ids: Vec<TaskId> = core.task_ids();
        let mut snap = Snapshot::default();
        let mut have = false;
        let mut last_low_warn: Option<Slot> = None;
        let mut watches: BTreeMap<TaskId, Watch> = ids
            .iter()
            .map(|id| {
                let withdrawn = sh.store().withdrawn(id).unwrap_or(false);
                (
                    *id,
                    Watch {
                        withdrawn,
                        ..Watch::default()
                    },
                )
            })
            .collect();
        let mut held: BTreeMap<TaskId, Hold> = BTreeMap::new();
        loop {
            tokio::select! {
                r = head_rx.changed() => {
                    if r.is_err() { break; }
                    let head = *head_rx.borrow_and_update();
                    if have && head <= snap.slot { continue; }
                    match Snapshot::fetch(sh.client(), &sh.me(), &ids).await {
                        Ok(s) => { snap = s; have = true; Counters::bump(&sh.counters().snapshots); }
                        Err(e) => {
                            Counters::bump(&sh.counters().snapshot_errors);
                            tracing::warn!(error = %e, "cannot read the ledger; keeping the last view");
                            continue;
                        }
                    }
                    self.follow(&mut snap, &mut watches, &config, &send_tx).await;
                    held = watches
                        .iter()
                        .filter_map(|(id, w)| w.hold.as_ref().map(|h| (*id, h.0)))
                        .collect();
                    self.publish(&snap, &core, &watches);
                    if sh.low_balance(snap.balance)
                        && last_low_warn.is_none_or(|s| snap.slot >= s + LOW_BALANCE_WARN_EVERY) {
                        last_low_warn = Some(snap.slot);
                        tracing::warn!(balance = %format_koii(snap.balance), threshold = %format_koii(sh.low_balance_warn_roe()),
                            "low balance: top up this node's account (fees and restakes come from it)");
                    }
                    for id in &ids {
                        // Proofs are journaled as long as their round can still change (the ledger's
                        // own retention horizon), then pruned.
                        let keep_from = snap.tasks.get(id).map(|t| t.current_round.saturating_sub(
                            retention_rounds(t.info.params.allowed_failed_distributions))).unwrap_or(0);
                        let _ = sh.store().prune_proofs(id, keep_from);
                    }
                    for id in &ids {
                        core.set_held(id, held.contains_key(id));
                    }
                    let mut shell = self.shell(snap.slot, &send_tx, &ans_tx, &held);
                    driver::step(&mut core, &snap, &mut shell, 1);
                    self.rerun_after_restart(&snap, &ans_tx);
                }
                Some(a) = ans_rx.recv() => {
                    if let Answer::List { task, round, attempt, purpose: ListPurpose::Audit, .. } = &a {
                        if let Err(e) = snap.fetch_list(sh.client(), task, *round, *attempt).await {
                            // Without the uploaded list there is nothing to compare: no vote.
                            tracing::warn!(task = %task, round, attempt, error = %e, "cannot read the list under audit; not voting");
                            continue;
                        }
                    }
                    let mut shell = self.shell(snap.slot, &send_tx, &ans_tx, &held);
                    driver::answer(&mut core, a, &snap, &mut shell);
                }
                Some(new) = reload.recv() => {
                    self.reload(&mut config, new, &mut core, &mut watches).await;
                    ids = core.task_ids();
                    held.retain(|id, _| ids.contains(id));
                    // The next head brings a snapshot with the new tasks in it.
                    have = false;
                }
                _ = stopped(&mut stop) => break,
            }
        }
        drop(send_tx);
        let _ = sender.await;
        watcher.abort();
    }

    fn shell<'a>(
        &'a self,
        slot: Slot,
        send: &'a mpsc::UnboundedSender<(Instruction, Slot)>,
        ans: &'a mpsc::UnboundedSender<Answer>,
        held: &'a BTreeMap<TaskId, Hold>,
    ) -> NodeShell<'a> {
        NodeShell {
            driver: self,
            slot,
            send,
            ans,
            held,
        }
    }

    /// Follow each task in a new snapshot: log this node's round events (fetching the lists
    /// that say what it was paid), notice a withdrawn stake, and hold back (or resume) tasks
    /// that are deactivated, out of bounty or withdrawn, saying so once on each change.
    async fn follow(
        &self,
        snap: &mut Snapshot,
        watches: &mut BTreeMap<TaskId, Watch>,
        config: &NodeConfig,
        send: &mpsc::UnboundedSender<(Instruction, Slot)>,
    ) {
        let sh = &self.shared;
        let me = sh.me();
        for (id, w) in watches.iter_mut() {
            let Some(t) = snap.tasks.get(id) else {
                continue;
            };
            for (round, attempt) in w.events.lists_needed(&me, t) {
                if let Err(e) = snap.fetch_list(sh.client(), id, round, attempt).await {
                    tracing::debug!(task = %id, round, error = %e, "cannot read the paid list yet");
                }
            }
            let Some(t) = snap.tasks.get(id) else {
                continue;
            };
            let log = sh.task(id).map(|p| p.log.clone());
            for e in w.events.observe(&me, t, self.unpaid_rounds_warn) {
                let line = e.line();
                if e.is_warning() {
                    tracing::warn!(task = %id, "{line}");
                } else {
                    tracing::info!(task = %id, "{line}");
                }
                if let Some(log) = &log {
                    log.note(&line);
                }
            }
            let stake = t.stakes.get(&me);
            let withdrawn = w.follow_stake(stake);
            if withdrawn != w.withdrawn {
                w.withdrawn = withdrawn;
                if let Err(e) = sh.store().set_withdrawn(id, withdrawn) {
                    tracing::warn!(task = %id, error = %e, "cannot record the withdrawal");
                }
            }
            let round = t.info.clock.round(snap.slot + 1);
            let hold = status::hold(&t.info, stake, round, w.withdrawn);
            if hold.as_ref().map(|h| &h.1) != w.hold.as_ref().map(|h| &h.1) {
                match &hold {
                    Some((Hold::Paused, why)) => {
                        tracing::info!(task = %id, reason = %why, "task paused")
                    }
                    Some((Hold::Withdrawn, why)) => {
                        tracing::info!(task = %id, reason = %why, "task withdrawn")
                    }
                    None if w.hold.is_some() => tracing::info!(task = %id, "task resumed"),
                    None => {}
                }
                if let Some(p) = sh.task(id) {
                    let why = hold.as_ref().map_or("resumed", |h| h.1.as_str());
                    p.set_wanted(!matches!(hold, Some((Hold::Withdrawn, _))), why);
                }
                w.hold = hold;
            }
            if let Some(entry) = config.tasks.iter().find(|e| e.id == *id) {
                self.policies(id, t, entry, w, snap.slot, snap.balance, send);
            }
        }
    }

    /// The operator's policies that act on what the snapshot shows: compound claimed
    /// rewards (`restake_rewards`, KIP #25), and leave a task whose pending update makes the
    /// terms worse (`unstake_on_worse_terms`; without it, only a warning).
    #[allow(clippy::too_many_arguments)]
    fn policies(
        &self,
        id: &TaskId,
        t: &crate::view::TaskSnap,
        entry: &TaskEntry,
        w: &mut Watch,
        slot: Slot,
        balance: u64,
        send: &mpsc::UnboundedSender<(Instruction, Slot)>,
    ) {
        let me = self.shared.me();
        let stake = t.stakes.get(&me);
        let staking = stake.filter(|s| s.unstake_round.is_none());
        let pending = t.rewards.get(&me).copied().unwrap_or(0);
        let claimed = w.last_pending.map_or(0, |p| p.saturating_sub(pending));
        w.last_pending = Some(pending);
        if let (Some(cap), Some(s), None) = (entry.restake_up_to_roe, staking, &w.hold) {
            // Claims pay the stake's owner: only a node that owns its stake compounds.
            let amount = status::restake_amount(claimed, s.amount, cap, balance);
            if amount > 0 && s.owner == me {
                tracing::info!(task = %id, amount = %format_koii(amount), cap = %format_koii(cap),
                    "restaking claimed rewards (restake_rewards)");
                let _ = send.send((
                    Instruction::Stake {
                        task: *id,
                        amount,
                        url: self.public_url.clone(),
                        owner: None,
                    },
                    slot,
                ));
            }
        }
        let Some(next) = &t.pending_params else {
            w.update_seen = None;
            return;
        };
        if w.update_seen.as_ref() == Some(next) {
            return;
        }
        w.update_seen = Some(next.clone());
        let worse = status::worse_terms(&t.info.params, next);
        if worse.is_empty() || staking.is_none() {
            return;
        }
        let what = worse.join(", ");
        if entry.unstake_on_worse_terms {
            tracing::warn!(task = %id, changes = %what,
                "the manager's update makes the terms worse from the next round; unstaking (unstake_on_worse_terms)");
            let _ = send.send((Instruction::Unstake { task: *id }, slot));
        } else {
            tracing::warn!(task = %id, changes = %what,
                "the manager's update makes the terms worse from the next round; set unstake_on_worse_terms = true to leave on such updates, or run `gradual unstake`");
        }
    }

    /// Apply a re-read config ([`crate::RunningNode::reload`]).
    async fn reload(
        &self,
        config: &mut NodeConfig,
        new: NodeConfig,
        core: &mut NodeCore,
        watches: &mut BTreeMap<TaskId, Watch>,
    ) {
        let sh = &self.shared;
        let plan = launcher::plan(config, &new);
        for id in &plan.removed {
            core.remove_task(id);
            self.launcher.stop(id).await;
            sh.remove_task(id);
            watches.remove(id);
            config.tasks.retain(|t| t.id != *id);
            tracing::info!(task = %id, "reload: task removed from the config; its process is stopped");
        }
        let added: Vec<TaskEntry> = new
            .tasks
            .iter()
            .filter(|t| plan.added.contains(&t.id))
            .cloned()
            .collect();
        match self.launcher.processes(&added, &launcher::uids_in_use(sh)) {
            Ok(procs) => {
                for (p, t) in procs.into_iter().zip(&added) {
                    sh.add_task(p.clone());
                    self.launcher.start(p, t);
                    core.add_task(t.id, task_config(t, &self.public_url));
                    let withdrawn = sh.store().withdrawn(&t.id).unwrap_or(false);
                    watches.insert(
                        t.id,
                        Watch {
                            withdrawn,
                            ..Watch::default()
                        },
                    );
                    config.tasks.push(t.clone());
                    tracing::info!(task = %t.id, "reload: task added to the config; starting it");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "reload: cannot create the new tasks' directories; not starting them")
            }
        }
        for id in &plan.kept {
            let (Some(t), Some(cur)) = (
                new.tasks.iter().find(|t| t.id == *id),
                config.tasks.iter_mut().find(|t| t.id == *id),
            ) else {
                continue;
            };
            core.add_task(*id, task_config(t, &self.public_url));
            // Stake, claim and audit guard apply now; the process keeps what it runs with.
            cur.stake_roe = t.stake_roe;
            cur.claim_at_roe = t.claim_at_roe;
            cur.audit_guard = t.audit_guard;
        }
        for what in &plan.need_restart {
            tracing::warn!("reload: {what} changed; restart the node to apply it");
        }
        tracing::info!(
            added = plan.added.len(),
            removed = plan.removed.len(),
            kept = plan.kept.len(),
            "config reloaded"
        );
    }

    /// Update what `/info` and `/metrics` show.
    fn publish(&self, snap: &Snapshot, core: &NodeCore, watches: &BTreeMap<TaskId, Watch>) {
        let sh = &self.shared;
        let me = sh.me();
        let mut statuses = BTreeMap::new();
        let mut peers = BTreeMap::new();
        let mut clocks = BTreeMap::new();
        let failed = sh.calls_failed();
        for (id, p) in &sh.tasks() {
            let info = p.info();
            let t = snap.tasks.get(id);
            let stake = t.and_then(|t| t.stakes.get(&me));
            let round = t.map(|t| t.info.clock.round(snap.slot + 1)).unwrap_or(0);
            let process = Process {
                running: matches!(info.phase, Phase::Running { .. }),
                restarts: info.restarts,
                last_error: info.last_error.as_deref(),
            };
            let w = watches.get(id);
            let withdrawn = w.is_some_and(|w| w.withdrawn);
            let (status, detail) =
                status::health(t.map(|t| &t.info), stake, round, withdrawn, process);
            let ev = w.map(|w| &w.events);
            if let Some(t) = t {
                peers.insert(
                    *id,
                    t.stakes
                        .iter()
                        .map(|(n, s)| (*n, s.url.clone(), s.amount))
                        .collect::<Vec<_>>(),
                );
                clocks.insert(*id, t.info.clock);
            }
            let prev = sh.last_status(id);
            if prev.as_ref().map(|p| p.0) != Some(status) {
                tracing::info!(task = %id, status = status.as_str(), detail = %detail, "task status");
            }
            let declared = t
                .map(|t| declared_ports(&t.info.params.metadata))
                .unwrap_or_default();
            let allowed = p.connect_ports().map(<[u16]>::to_vec);
            let unapproved = unapproved_ports(&declared, allowed.as_deref());
            if !unapproved.is_empty() && prev.as_ref().map(|p| &p.1) != Some(&unapproved) {
                tracing::warn!(
                    task = %id,
                    ports = ?unapproved,
                    "the task declares TCP ports this node does not allow, so its connections \
                     there are refused; to allow them add connect_ports = {unapproved:?} to its \
                     [[task]] entry in the node config (docs/operator-guide.md, Task confinement)"
                );
            }
            statuses.insert(
                *id,
                TaskStatus {
                    task: id.to_base58(),
                    name: t.map(|t| t.info.params.name.clone()).unwrap_or_default(),
                    status,
                    detail,
                    round,
                    stake_roe: stake.map(|s| s.amount).unwrap_or(0),
                    pending_rewards_roe: t.and_then(|t| t.rewards.get(&me).copied()).unwrap_or(0),
                    restarts: info.restarts,
                    last_error: info.last_error.clone(),
                    log_file: p.log.path().display().to_string(),
                    calls_failed: failed.get(id).copied().unwrap_or(0),
                    suspect_audit_rounds: core.suspect_rounds(id),
                    declared_ports: declared,
                    allowed_ports: allowed,
                    unapproved_ports: unapproved,
                    last_proof_round: ev.and_then(|e| e.last_proof_round),
                    last_paid_round: ev.and_then(|e| e.last_paid.map(|p| p.0)),
                    last_paid_roe: ev.and_then(|e| e.last_paid.map(|p| p.1)),
                    slashes: ev.map_or(0, |e| e.slashes),
                    slashed_roe: ev.map_or(0, |e| e.slashed_roe),
                    last_slash: ev.and_then(|e| e.last_slash.clone()),
                    unpaid_rounds: ev.map_or(0, |e| e.unpaid_rounds),
                },
            );
        }
        sh.publish(Published {
            slot: snap.slot,
            balance: snap.balance,
            stats: core.stats(),
            statuses,
            peers,
            clocks,
        });
    }

    /// A task process that (re)started after the round's `task` call gets it again
    /// (docs/task-protocol.md §2: "and again for the current round after a restart").
    fn rerun_after_restart(&self, snap: &Snapshot, ans: &mpsc::UnboundedSender<Answer>) {
        let Ok(mut ran) = self.ran.lock() else { return };
        for (id, p) in &self.shared.tasks() {
            let info = p.info();
            let Some(entry) = ran.get_mut(id) else {
                continue;
            };
            let round = snap
                .tasks
                .get(id)
                .map(|t| t.info.clock.round(snap.slot + 1));
            if entry.1 == round
                && entry.0 < info.starts
                && matches!(info.phase, Phase::Running { .. })
            {
                entry.0 = info.starts;
                if let Some(r) = round {
                    p.log.note(&format!(
                        "calling task for round {r} again after the restart"
                    ));
                    calls::spawn_call(
                        self.shared.clone(),
                        p.clone(),
                        calls::run_task(*id, r),
                        ans.clone(),
                    );
                }
            }
        }
    }

    /// Make a control call, remembering a `task` call for [`Driver::rerun_after_restart`].
    fn call(&self, call: Call, ans: &mpsc::UnboundedSender<Answer>) {
        let Some(p) = self.shared.task(&call.0) else {
            return;
        };
        if let (Kind::Task { round }, Ok(mut ran)) = (&call.2, self.ran.lock()) {
            ran.insert(call.0, (p.info().starts, Some(*round)));
        }
        calls::spawn_call(self.shared.clone(), p, call, ans.clone());
    }
}

/// The node's shell for the shared driver loop: every question becomes a control call whose
/// answer comes later, so `act` never answers at once.
struct NodeShell<'a> {
    driver: &'a Driver,
    /// The snapshot's slot: transactions are signed with it as their recent slot.
    slot: Slot,
    send: &'a mpsc::UnboundedSender<(Instruction, Slot)>,
    ans: &'a mpsc::UnboundedSender<Answer>,
    /// Tasks the node holds back (paused, withdrawn).
    held: &'a BTreeMap<TaskId, Hold>,
}

impl Shell for NodeShell<'_> {
    fn act(&mut self, action: Action) -> Option<Answer> {
        if self.held.contains_key(&action_task(&action)) && held_back(&action) {
            tracing::debug!(action = ?action, "task held back: not doing it");
            return None;
        }
        match action {
            Action::Send { ix, .. } => {
                let _ = self.send.send((ix, self.slot));
            }
            Action::SuspectAudits {
                task,
                round,
                sampled,
                checked,
                invalid,
                unstake,
            } => {
                let did = if unstake {
                    "raising nothing, voting abstain, unstaking"
                } else {
                    "raising nothing, voting abstain"
                };
                tracing::warn!(task = %task, round, sampled, checked, invalid, action = did,
                    "the task called most of this round's sampled peers invalid; its audit code may be broken or time-bombed");
                if let Some(p) = self.driver.shared.task(&task) {
                    p.log.note(&format!(
                        "audit guard: round {round}: {invalid} of {checked} checked peers invalid; {did}"
                    ));
                }
            }
            question => {
                if let Some(call) = calls::call_for(question) {
                    self.driver.call(call, self.ans);
                }
            }
        }
        None
    }
}

/// The head watcher: long-polls the validator and publishes each new head slot.
fn watch_head(
    sh: Arc<NodeShared>,
    mut stop: watch::Receiver<bool>,
) -> (watch::Receiver<u64>, tokio::task::JoinHandle<()>) {
    let (head_tx, head_rx) = watch::channel(0u64);
    let client = Client::new(sh.client().url());
    let watcher = tokio::spawn(async move {
        let mut next = 0u64;
        loop {
            tokio::select! {
                r = client.wait_for_slot(next, 5_000) => match r {
                    Ok(w) => {
                        if w.head.slot >= next {
                            // `/node/v1/slot`: the latest block slot seen, at once.
                            sh.see_slot(w.head.slot);
                            head_tx.send_replace(w.head.slot);
                            next = w.head.slot + 1;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot follow the validator's head; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                },
                _ = stopped(&mut stop) => return,
            }
        }
    });
    (head_rx, watcher)
}

#[cfg(test)]
mod tests;
