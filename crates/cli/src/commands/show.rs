//! Read-only task views: the task list, one task, one round.

use super::{koii, Ctx};
use gradual_client::TaskInfoFlags;
use gradual_rpc::dto::*;
use gradual_types::window::Window;
use gradual_types::TaskId;
use serde_json::json;

fn state_word(closed: bool, active: bool) -> &'static str {
    if closed {
        "closed"
    } else if active {
        "active"
    } else {
        "inactive"
    }
}

pub(super) async fn list_tasks(ctx: &Ctx, active: bool) -> anyhow::Result<()> {
    let tasks = ctx.client.get_program_tasks(active).await?;
    ctx.emit(serde_json::to_value(&tasks)?, || {
        if tasks.is_empty() {
            return "no tasks".into();
        }
        let mut s = String::new();
        for t in &tasks {
            s += &format!(
                "{}  {:<24}  {:<8}  round {:<5} bounty {:<18} stakers {}\n",
                t.id,
                t.name,
                state_word(t.closed, t.is_active),
                t.current_round,
                koii(t.total_bounty),
                t.stakers
            );
        }
        s
    })
}

/// `proof submission`, ...: the wire name, for people.
fn window_name(w: Window) -> String {
    gradual_rpc::wire::window_name(w).replace('_', " ")
}

fn status_text(s: &RoundStatusDto) -> String {
    match s {
        RoundStatusDto::Reviewing => "reviewing proofs".into(),
        RoundStatusDto::Distributing => "distributing".into(),
        RoundStatusDto::Paid {
            attempt,
            total_roe: total,
        } => {
            format!("paid {} (attempt {attempt})", koii(*total))
        }
        RoundStatusDto::Failed => "failed: every distribution attempt failed, nothing paid".into(),
        RoundStatusDto::NoCandidates => "no valid submitter, nothing to pay".into(),
    }
}

pub(super) async fn show_task(ctx: &Ctx, task: TaskId) -> anyhow::Result<()> {
    let flags = TaskInfoFlags {
        submissions: false,
        distributions: true,
        stakes: true,
        rewards: true,
    };
    let t = ctx.client.get_task_account_info(&task, flags).await?;
    ctx.emit(serde_json::to_value(&t)?, || {
        let p = &t.params;
        let state = state_word(t.closed, t.is_active);
        let free = t.total_bounty.saturating_sub(t.reserved_bounty);
        let rounds_left = free.checked_div(p.bounty_per_round).unwrap_or(0);
        let mut s = format!("task {} \"{}\" ({state})\n", t.id, p.name);
        if !p.description.is_empty() {
            s += &format!("  {}\n", p.description);
        }
        s += &format!("manager      {}\n", t.manager);
        s += &format!(
            "executable   {} ({}) {}\n",
            p.executable.digest,
            p.executable.runtime,
            p.executable.urls.join(" ")
        );
        s += &format!(
            "bounty       {} left ({} reserved), {} per round, about {rounds_left} rounds left; {} paid so far\n",
            koii(t.total_bounty),
            koii(t.reserved_bounty),
            koii(p.bounty_per_round),
            koii(t.paid_total)
        );
        s += &format!(
            "timing       {} slots per round (submission {}, audit {}), started at slot {}\n",
            p.round_time, p.submission_window, p.audit_window, t.starting_slot
        );
        s += &format!("now          slot {}, round {}", t.slot, t.current_round);
        if t.open_windows.is_empty() {
            s += ", no window open (work period only)\n";
        } else {
            s += "\n";
            for w in &t.open_windows {
                s += &format!(
                    "  open: {} window for round {} (closes at slot {})\n",
                    window_name(w.window),
                    w.round,
                    w.closes
                );
            }
        }
        s += &format!(
            "stake        minimum {}; {} stakers, {} total\n",
            koii(p.minimum_stake),
            t.stakers,
            koii(t.total_stake)
        );
        for st in t.stakes.iter().flatten() {
            let unstaking = match (st.stake.unstake_round, st.stake.withdraw_round) {
                (Some(r), Some(w)) => {
                    format!(" (unstaking since round {r}, withdraw from round {w})")
                }
                (Some(r), None) => format!(" (unstaking since round {r})"),
                _ => String::new(),
            };
            let owner = if st.stake.owner != st.node {
                format!(" owner {}", st.stake.owner)
            } else {
                String::new()
            };
            s += &format!(
                "  {}  {}{owner}{unstaking}\n",
                st.node,
                koii(st.stake.amount)
            );
        }
        let pending: u64 = t.pending_rewards.iter().flatten().map(|r| r.amount).sum();
        s += &format!("rewards      {} pending\n", koii(pending));
        let paid: Vec<&RoundDto> = t
            .rounds
            .iter()
            .flatten()
            .filter(|r| !matches!(r.record.status, RoundStatusDto::Reviewing))
            .collect();
        if paid.is_empty() {
            s += "payouts      none yet\n";
        } else {
            s += "payouts\n";
            for r in paid.iter().rev().take(5) {
                s += &format!("  round {}: {}\n", r.round, status_text(&r.record.status));
            }
        }
        s
    })
}

fn committee_text(voting: &VotingDto) -> String {
    let (votes, tally) = (&voting.votes, &voting.tally);
    let Some(c) = &voting.committee else {
        return "    committee not drawn yet\n".into();
    };
    let mut s = format!(
        "    committee: {} seats over {} nodes (seed {})\n",
        c.size,
        c.seats.len(),
        c.seed
    );
    for seat in &c.seats {
        let vote = votes
            .iter()
            .find(|v| v.node == seat.node)
            .map(|v| gradual_rpc::wire::verdict_name(v.verdict))
            .unwrap_or("no vote");
        s += &format!("      {} x{}: {vote}\n", seat.node, seat.seats);
    }
    s += &format!(
        "    seats voting: valid {}, invalid {}, abstain {}\n",
        tally.valid, tally.invalid, tally.abstain
    );
    s
}

pub(super) async fn show_round(ctx: &Ctx, task: TaskId, round: u64) -> anyhow::Result<()> {
    let subs = ctx.client.get_task_submission_info(&task, round).await?;
    let dist = ctx.client.get_task_distribution_info(&task, round).await?;
    let value = json!({"submissions": subs, "distribution": dist});
    ctx.emit(value, || {
        let mut s = format!(
            "round {round} of task {task}: {}\n",
            status_text(&subs.status)
        );
        s += &format!("submissions ({})\n", subs.submissions.len());
        for sub in &subs.submissions {
            let shown = value_short(&sub.submission.value);
            let void = if sub.submission.voided { "  VOIDED" } else { "" };
            s += &format!("  {}  slot {}  {shown}{void}\n", sub.node, sub.submission.slot);
        }
        s += &format!("audits ({})\n", subs.audits.len());
        for a in &subs.audits {
            let outcome = match &a.outcome {
                None => "pending".to_string(),
                Some(AuditOutcomeDto::Upheld {
                    slashed,
                    accuser_reward,
                    voter_rewards,
                }) => format!(
                    "upheld: slashed {}, accuser got {}, voters {}",
                    koii(*slashed),
                    koii(*accuser_reward),
                    koii(*voter_rewards)
                ),
                Some(AuditOutcomeDto::Refuted {
                    slashed,
                    voter_rewards,
                }) => format!(
                    "refuted: accuser slashed {}, voters {}",
                    koii(*slashed),
                    koii(*voter_rewards)
                ),
                Some(AuditOutcomeDto::Unresolved) => "unresolved (presumed valid)".into(),
            };
            s += &format!(
                "  {} accused by {} at slot {}: {outcome}\n",
                a.candidate, a.accuser, a.trigger_slot
            );
            s += &committee_text(&a.voting);
        }
        if dist.candidates.is_empty() {
            s += "distribution candidates: not ranked yet\n";
        } else {
            s += "distribution candidates (attempt i belongs to the i-th)\n";
            for (i, c) in dist.candidates.iter().enumerate() {
                s += &format!("  {i}: {c}\n");
            }
        }
        for a in &dist.attempts {
            let outcome = match &a.outcome {
                None => "in progress".to_string(),
                Some(AttemptOutcomeDto::PayoutSuccessful { total_roe: total }) => {
                    format!("payout successful, {}", koii(*total))
                }
                Some(AttemptOutcomeDto::FailedNotSubmitted { slashed }) => format!(
                    "failed: no list submitted in the window, submitter slashed {}",
                    koii(*slashed)
                ),
                Some(AttemptOutcomeDto::FailedNoCommittee) => {
                    "failed: no committee was drawn in time (nobody slashed)".into()
                }
                Some(AttemptOutcomeDto::FailedRejected {
                    slashed,
                    vindicated,
                }) => match (slashed, vindicated) {
                    (_, true) => {
                        "failed: list rejected, then vindicated by an accepted list with the same digest (submitter not slashed)".into()
                    }
                    (Some(x), false) => {
                        format!("failed: list rejected, submitter slashed {}", koii(*x))
                    }
                    (None, false) => {
                        "failed: list rejected; the submitter's slash waits for the round to settle".into()
                    }
                },
            };
            s += &format!("attempt {} by {}: {outcome}\n", a.attempt, a.submitter);
            match &a.list {
                Some(l) => {
                    s += &format!(
                        "    list {} entries, {} total, digest {}, submitted at slot {}\n",
                        l.count,
                        koii(l.total_roe),
                        l.digest,
                        l.slot
                    );
                    for e in a.entries.iter().flatten() {
                        s += &format!("      {}  {}\n", e.node, koii(e.reward));
                    }
                }
                None => s += "    no list submitted\n",
            }
            if a.list.is_some() {
                s += &committee_text(&a.voting);
            }
        }
        s
    })
}

/// A proof value for display: base64, cut short.
fn value_short(bytes: &[u8]) -> String {
    let s = gradual_rpc::wire::encode_b64(bytes);
    if s.len() > 24 {
        format!("{}... ({} bytes)", &s[..24], bytes.len())
    } else {
        s
    }
}
