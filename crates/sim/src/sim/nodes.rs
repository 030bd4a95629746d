//! Stepping the nodes of one slot: each core through the shared driver loop
//! (`gradual_node_proto::driver`), its strategy as the shell that answers the core's actions.

use super::{Held, ListFact, LATE_TRIES, PASSES_MAX, SIM_SLOT_MS};
use crate::config::Strategy;
use crate::strategy::{self, coin, Ctx, Grind, GrindPool};
use gradual_ledger::{Ledger, Window};
use gradual_node_proto::{
    driver, Action, Answer, AuditGuard, CachedView, LedgerView, ListPurpose, NodeCore, Shell,
};
use gradual_types::constants::raise_last_slot;
use gradual_types::{Hash, Instruction, Pubkey, Slot, Verdict};
use std::collections::BTreeMap;

/// What one slot's node stepping needs (shared, read-only).
pub(super) struct Env<'a> {
    pub(super) ctx: Ctx<'a>,
    pub(super) ledger: &'a Ledger,
    pub(super) pubkeys: &'a [Pubkey],
    pub(super) offline: &'a [bool],
    pub(super) copy_pending: &'a BTreeMap<u32, u64>,
    pub(super) held: &'a BTreeMap<u32, Vec<Held>>,
    pub(super) grind_pool: Option<&'a GrindPool>,
    pub(super) head_randomness: Hash,
    pub(super) grind_tries: u32,
    pub(super) flood_raises: usize,
    pub(super) clock: gradual_ledger::Clock,
    pub(super) at: Slot,
}

impl Env<'_> {
    /// The last slot at which the ledger takes a raise for round `r` (SPEC §5 *Vote window*).
    fn raise_last(&self, r: u64) -> Slot {
        let w = self.clock.window(Window::ProofAudit, r, 0);
        raise_last_slot(w.opens, self.clock.audit_window, SIM_SLOT_MS)
    }
}

/// What stepping a range of nodes produced, in node order.
#[derive(Default)]
pub(super) struct StepOut {
    pub(super) sends: Vec<(u32, Instruction)>,
    /// Copier bookkeeping: `Some(round)` waits for a peer proof, `None` is done.
    pub(super) copy_ops: Vec<(u32, Option<u64>)>,
    /// Late accusers: the node's held checks after this slot (empty = none left).
    pub(super) held_ops: Vec<(u32, Vec<Held>)>,
    pub(super) lists: Vec<((u64, u16), ListFact)>,
    pub(super) grind: Grind,
    pub(super) grind_raises: u64,
    pub(super) grind_candidates: u64,
}

/// Step nodes `first..first + cores.len()`: each core looks at the ledger (re-polled while
/// its task answered something, so votes go out in the same slot) and its strategy answers.
/// The node's audit guard (docs/operator-guide.md): an operator who accuses on purpose runs a
/// node without it; everyone else keeps the default.
pub(super) fn audit_guard(s: Strategy) -> AuditGuard {
    if s.votes_invalid_on_honest() {
        AuditGuard::OFF
    } else {
        AuditGuard::default()
    }
}

pub(super) fn drive_nodes(env: &Env, first: u32, cores: &mut [NodeCore]) -> StepOut {
    let view = CachedView::new(env.ledger);
    let ctx = &env.ctx;
    let (at, clock, task) = (env.at, env.clock, ctx.task);
    let mut out = StepOut::default();
    for (j, core) in cores.iter_mut().enumerate() {
        let i = first + j as u32;
        if env.offline[i as usize] {
            continue;
        }
        let me = env.pubkeys[i as usize];
        let s = ctx.strategy[i as usize];
        let mut held: Vec<Held> = env.held.get(&i).cloned().unwrap_or_default();
        let held_before = held.len();
        if s == Strategy::LateAccuser {
            late_accuser(env, &view, i, &me, core, &mut held, &mut out);
        }
        if s == Strategy::RaiseFlood {
            raise_flood(env, &view, i, &me, &mut out);
        }
        if let Some(&r) = env.copy_pending.get(&i) {
            if !clock.window(Window::ProofSubmission, r, 0).contains(at) {
                out.copy_ops.push((i, None));
            } else if let Some(v) = copy_proof(ctx, &view, &me, r, at, &clock) {
                core.handle_proof(&task, r, Some(v), at);
                out.copy_ops.push((i, None));
            }
        }
        let mut shell = NodeShell {
            env,
            view: &view,
            i,
            me,
            s,
            held: &mut held,
            out: &mut out,
        };
        driver::step(core, &view, &mut shell, PASSES_MAX);
        if s == Strategy::LateAccuser && (held_before > 0 || !held.is_empty()) {
            out.held_ops.push((i, held));
        }
    }
    out
}

/// Node `i`'s shell for one slot: its strategy answers the core's questions at once (or
/// holds them back), and its instructions are collected for signing.
struct NodeShell<'a, 'v> {
    env: &'a Env<'a>,
    view: &'a CachedView<'v>,
    i: u32,
    me: Pubkey,
    s: Strategy,
    held: &'a mut Vec<Held>,
    out: &'a mut StepOut,
}

impl Shell for NodeShell<'_, '_> {
    fn act(&mut self, action: Action) -> Option<Answer> {
        let (env, s, me) = (self.env, self.s, &self.me);
        let ctx = &env.ctx;
        match action {
            Action::RunTask { .. } => None,
            Action::MakeProof { task, round } => match strategy::proof(s, ctx, me, round) {
                Some(v) => Some(Answer::Proof {
                    task,
                    round,
                    value: Some(v),
                }),
                None => {
                    self.out.copy_ops.push((self.i, Some(round)));
                    None
                }
            },
            Action::CheckProof {
                task,
                round,
                candidate,
                value,
            } => {
                let raised = self.view.audit(&task, round, &candidate).is_some();
                if s == Strategy::LateAccuser && !raised && env.at < env.raise_last(round) {
                    // Hold the verdict back until the raise cutoff.
                    self.held.push(Held { round, candidate });
                    return None;
                }
                let verdict = match (s, env.grind_pool) {
                    (Strategy::Grinder, Some(pool))
                        if !raised && ctx.strategy_of(&candidate) != Some(Strategy::Grinder) =>
                    {
                        let (v, g) = strategy::grind_check(
                            ctx,
                            &env.head_randomness,
                            pool,
                            me,
                            &candidate,
                            round,
                            env.grind_tries,
                        );
                        let out = &mut *self.out;
                        out.grind.tries += g.tries;
                        out.grind.distinct += g.distinct;
                        out.grind.predicted_seats += g.predicted_seats;
                        out.grind_candidates += 1;
                        if v == Verdict::Invalid {
                            out.grind_raises += 1;
                        }
                        v
                    }
                    _ => strategy::check(s, ctx, &candidate, round, &value),
                };
                Some(Answer::Check {
                    task,
                    round,
                    candidate,
                    verdict,
                })
            }
            Action::MakeDistribution(req) => {
                let (round, attempt) = (req.round, req.attempt);
                let list = match req.purpose {
                    // A list blocker wins its turn and submits nothing.
                    ListPurpose::Submit if s == Strategy::ListBlocker => return None,
                    ListPurpose::Submit => {
                        let (list, honest) =
                            strategy::submit_list(s, ctx, me, round, &req.submitters, req.bounty);
                        self.out.lists.push(((round, attempt), ListFact { honest }));
                        list
                    }
                    ListPurpose::Audit => strategy::audit_list(
                        s,
                        ctx,
                        me,
                        env.ledger,
                        round,
                        attempt,
                        &req.submitters,
                        req.bounty,
                    ),
                };
                Some(req.answer(list))
            }
            Action::Send { ix, .. } => {
                self.out.sends.push((self.i, ix));
                None
            }
            // The guard's alert: nothing to log here; its effect is in the votes.
            Action::SuspectAudits { .. } => None,
        }
    }
}

/// A `late-accuser` at slot `at`: at the raise cutoff it answers every held check
/// `Invalid` (its scheduler then raises in the last slot the ledger allows); in the slot
/// after the cutoff it tries `LATE_TRIES` more raises on peers nobody has raised, which the
/// ledger must refuse (`RaiseTooLate`).
fn late_accuser(
    env: &Env,
    view: &CachedView,
    i: u32,
    me: &Pubkey,
    core: &mut NodeCore,
    held: &mut Vec<Held>,
    out: &mut StepOut,
) {
    let (at, task) = (env.at, env.ctx.task);
    held.retain(|h| {
        if at >= env.raise_last(h.round) {
            core.handle_check(&task, h.round, h.candidate, Verdict::Invalid);
            false
        } else {
            true
        }
    });
    let Some(r) = env.clock.round(at).checked_sub(1) else {
        return;
    };
    let w = env.clock.window(Window::ProofAudit, r, 0);
    if at != env.raise_last(r) + 1 || !w.contains(at) {
        return;
    }
    let subs = view.submitters(&task, r);
    let mut tried = 0;
    for (cand, _) in subs.iter() {
        if tried == LATE_TRIES {
            break;
        }
        if cand == me || view.audit(&task, r, cand).is_some() {
            continue;
        }
        out.sends.push((
            i,
            Instruction::AuditProof {
                task,
                round: r,
                candidate: *cand,
                verdict: Verdict::Invalid,
            },
        ));
        tried += 1;
    }
}

/// A `raise-flood` node at the first slot of an audit window: one raise transaction on each
/// of up to `flood_raises` peers (beyond what its scheduler raises on its sample). The
/// ledger takes `audit_sample` raises per node and round and refuses the rest
/// (`TooManyRaises`).
fn raise_flood(env: &Env, view: &CachedView, i: u32, me: &Pubkey, out: &mut StepOut) {
    let (at, task) = (env.at, env.ctx.task);
    let Some(r) = env.clock.round(at).checked_sub(1) else {
        return;
    };
    if at != env.clock.window(Window::ProofAudit, r, 0).opens {
        return;
    }
    let subs = view.submitters(&task, r);
    let n = subs.len().max(1) as u64;
    let start = coin(env.ctx.seed, &[&me.0, &r.to_le_bytes(), b"flood"], n) as usize;
    let mut sent = 0;
    for k in 0..subs.len() {
        if sent == env.flood_raises {
            break;
        }
        let cand = subs[(start + k) % subs.len()].0;
        if cand == *me || view.audit(&task, r, &cand).is_some() {
            continue;
        }
        out.sends.push((
            i,
            Instruction::AuditProof {
                task,
                round: r,
                candidate: cand,
                verdict: Verdict::Invalid,
            },
        ));
        sent += 1;
    }
}

/// A copier's proof: a landed peer proof of the same round (picked by a coin), or, in the
/// last slot of the submission window with nothing to copy, garbage.
fn copy_proof(
    ctx: &Ctx,
    view: &CachedView,
    me: &Pubkey,
    round: u64,
    at: Slot,
    clock: &gradual_ledger::Clock,
) -> Option<Vec<u8>> {
    let subs = view.submitters(&ctx.task, round);
    let peers: Vec<&Pubkey> = subs.iter().map(|(p, _)| p).filter(|p| *p != me).collect();
    if !peers.is_empty() {
        let k = coin(
            ctx.seed,
            &[&me.0, &round.to_le_bytes(), b"copy"],
            peers.len() as u64,
        ) as usize;
        return view.submission(&ctx.task, round, peers[k]).map(|s| s.value);
    }
    let window = clock.window(Window::ProofSubmission, round, 0);
    (at + 1 >= window.closes).then(|| strategy::garbage_proof(me, round))
}
