//! The driver loop: one [`NodeCore`] for every task of the node, fed a fresh [`Snapshot`]
//! at each new head slot and the tasks' answers as they come, through the shared loop of
//! [`gradual_node_proto::driver`] (one pass per slot: task calls answer later, through
//! [`driver::answer`]). Its actions become control calls (`calls.rs`, concurrent, each with
//! a timeout) and signed transactions (`sender.rs`, in order).

use crate::calls::{self, Call, Kind};
use crate::sender::Sender;
use crate::shared::{Counters, NodeShared, Published};
use crate::status::{self, declared_ports, unapproved_ports, Process, TaskStatus};
use crate::supervisor::{stopped, Phase};
use crate::view::Snapshot;
use gradual_client::Client;
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
}

impl Driver {
    pub(crate) async fn run(self, mut core: NodeCore, mut stop: watch::Receiver<bool>) {
        let sh = self.shared.clone();
        let (head_rx, watcher) = watch_head(sh.clone(), stop.clone());
        let mut head_rx = head_rx;
        // Sender: signs and sends in order.
        let (send_tx, send_rx) = mpsc::unbounded_channel::<(Instruction, Slot)>();
        let sender = tokio::spawn(self.sender.clone().run(send_rx));
        let (ans_tx, mut ans_rx) = mpsc::unbounded_channel::<Answer>();
        let ids: Vec<TaskId> = core.task_ids();
        let mut snap = Snapshot::default();
        let mut have = false;
        let mut last_low_warn: Option<Slot> = None;
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
                    self.publish(&snap, &core);
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
                    let mut shell = self.shell(snap.slot, &send_tx, &ans_tx);
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
                    let mut shell = self.shell(snap.slot, &send_tx, &ans_tx);
                    driver::answer(&mut core, a, &snap, &mut shell);
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
    ) -> NodeShell<'a> {
        NodeShell {
            driver: self,
            slot,
            send,
            ans,
        }
    }

    /// Update what `/info` and `/metrics` show.
    fn publish(&self, snap: &Snapshot, core: &NodeCore) {
        let sh = &self.shared;
        let me = sh.me();
        let mut statuses = BTreeMap::new();
        let mut peers = BTreeMap::new();
        let mut clocks = BTreeMap::new();
        let failed = sh.calls_failed();
        for (id, p) in sh.tasks() {
            let info = p.info();
            let t = snap.tasks.get(id);
            let stake = t.and_then(|t| t.stakes.get(&me));
            let round = t.map(|t| t.info.clock.round(snap.slot + 1)).unwrap_or(0);
            let process = Process {
                running: matches!(info.phase, Phase::Running { .. }),
                restarts: info.restarts,
                last_error: info.last_error.as_deref(),
            };
            let (status, detail) = status::health(t.map(|t| &t.info), stake, round, process);
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
        for (id, p) in self.shared.tasks() {
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
        let Some(p) = self.shared.task(&call.0).cloned() else {
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
}

impl Shell for NodeShell<'_> {
    fn act(&mut self, action: Action) -> Option<Answer> {
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
