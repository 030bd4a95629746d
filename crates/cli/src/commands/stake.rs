//! Staking commands: unstake, withdraw and claim, which read the ledger's answer back.

use super::{koii, CliError, Ctx};
use anyhow::anyhow;
use gradual_client::{ClientError, TaskInfoFlags};
use gradual_rpc::codes;
use gradual_rpc::dto::{DistributionInfoDto, RoundStatusDto, StakeDto, SubmissionInfoDto};
use gradual_types::{Instruction, Pubkey, TaskId};
use serde_json::json;

/// What `node` still owes round `dist.round` of a task and would waste by unstaking now:
/// its turn as a ranked distribution candidate (attempt `i` belongs to `candidates[i]`, of
/// `allowed_failed + 1` attempts) that has not come or not ended, and its seats on
/// committees (proof audits, distribution attempts) that have not decided. Empty: none.
pub(super) fn round_duties(
    node: &Pubkey,
    allowed_failed: u16,
    subs: &SubmissionInfoDto,
    dist: &DistributionInfoDto,
) -> Vec<String> {
    let round = dist.round;
    let mut out = Vec::new();
    let unsettled = matches!(
        dist.status,
        RoundStatusDto::Reviewing | RoundStatusDto::Distributing
    );
    if !unsettled {
        return out;
    }
    let attempts = usize::from(allowed_failed) + 1;
    if let Some(i) = dist.candidates.iter().position(|c| c == node) {
        let current = usize::from(dist.current_attempt);
        let ended = dist
            .attempts
            .iter()
            .any(|a| usize::from(a.attempt) == i && a.outcome.is_some());
        if i < attempts && i >= current && !ended {
            out.push(if i == current {
                format!(
                    "it is the selected distribution submitter of round {round} (attempt {i})"
                )
            } else {
                format!(
                    "it is distribution candidate #{i} of round {round}: it submits the list if attempts {current} to {} fail",
                    i - 1
                )
            });
        }
    }
    let seats = |v: &gradual_rpc::dto::VotingDto| -> u16 {
        v.committee
            .iter()
            .flat_map(|c| &c.seats)
            .filter(|s| s.node == *node)
            .map(|s| s.seats)
            .sum()
    };
    let audits = subs.audits.iter().filter(|a| a.outcome.is_none()).map(|a| {
        let what = format!("auditing {}'s proof of round {round}", a.candidate);
        (&a.voting, what)
    });
    let attempts = dist
        .attempts
        .iter()
        .filter(|a| a.outcome.is_none())
        .map(|a| {
            let what = format!("of distribution attempt {} of round {round}", a.attempt);
            (&a.voting, what)
        });
    for (voting, what) in audits.chain(attempts) {
        let n = seats(voting);
        if n > 0 {
            out.push(format!("it holds {n} seat(s) on the open committee {what}"));
        }
    }
    out
}

/// Every duty `node` still has on `task` ([`round_duties`] over the unsettled rounds the
/// validator reports).
async fn open_duties(ctx: &Ctx, task: TaskId, node: &Pubkey) -> anyhow::Result<Vec<String>> {
    let flags = TaskInfoFlags {
        distributions: true,
        ..TaskInfoFlags::default()
    };
    let t = ctx.client.get_task_account_info(&task, flags).await?;
    let mut out = Vec::new();
    for r in t.rounds.iter().flatten().filter(|r| {
        matches!(
            r.record.status,
            RoundStatusDto::Reviewing | RoundStatusDto::Distributing
        )
    }) {
        let both = async {
            let subs = ctx.client.get_task_submission_info(&task, r.round).await?;
            let dist = ctx
                .client
                .get_task_distribution_info(&task, r.round)
                .await?;
            Ok::<_, ClientError>((subs, dist))
        };
        match both.await {
            Ok((subs, dist)) => out.extend(round_duties(
                node,
                r.record.terms.allowed_failed_distributions,
                &subs,
                &dist,
            )),
            // Pruned since: it settled, nothing is owed.
            Err(e) if e.rpc_error().is_some_and(|r| r.code == codes::NOT_FOUND) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// `Unstake`, then the round the stake can be withdrawn in: the ledger fixes it at
/// `round of the unstake + unstake_cooldown` (SPEC §7). Refused without `force` while the
/// key has open duties on the task ([`round_duties`]).
pub(super) async fn unstake(ctx: &Ctx, task: TaskId, force: bool) -> anyhow::Result<()> {
    let kp = ctx.keypair()?;
    let me = kp.pubkey();
    let duties = open_duties(ctx, task, &me).await?;
    if !duties.is_empty() {
        let what = format!("{me} has open duties on task {task}: {}", duties.join("; "));
        if !force {
            return Err(CliError::new(
                "unstake_has_duties",
                format!(
                    "not unstaking: {what}. Unstaking now wastes them (a distribution turn is lost and the retry may find no one to audit it). Wait until those rounds settle (`gradual task show {task}`), or pass --force"
                ),
            )
            .into());
        }
        eprintln!("warning: unstaking anyway (--force): {what}");
    }
    let t = ctx
        .client
        .get_task_account_info(&task, TaskInfoFlags::default())
        .await?;
    let c = ctx
        .client
        .send_and_confirm(&kp, Instruction::Unstake { task })
        .await?;
    let clock = gradual_client::task_clock(&t);
    let round = clock.round(c.slot);
    // The ledger fixed the withdraw round when the Unstake landed; read it back.
    let withdraw_round = my_stake(ctx, task, &kp.pubkey())
        .await?
        .and_then(|s| s.stake.withdraw_round)
        .unwrap_or(round + t.params.unstake_cooldown);
    ctx.emit(
        json!({
            "signature": c.signature.to_base58(),
            "slot": c.slot,
            "result": "ok",
            "unstake_round": round,
            "withdraw_round": withdraw_round,
            "withdraw_slot": clock.start(withdraw_round),
        }),
        || {
            format!(
                "unstake requested in round {round}; withdraw from round {withdraw_round} (slot {})\nsignature {} (slot {})",
                clock.start(withdraw_round),
                c.signature,
                c.slot
            )
        },
    )
}

/// `Withdraw`: the stake goes back to its owner once the withdraw round fixed by `Unstake`
/// has come (the ledger's refusal names that round).
pub(super) async fn withdraw(ctx: &Ctx, task: TaskId) -> anyhow::Result<()> {
    let me = ctx.keypair()?.pubkey();
    let stake = my_stake(ctx, task, &me).await?;
    let what = match stake.and_then(|s| Some((s.stake.amount, s.stake.withdraw_round?))) {
        Some((amount, r)) => format!(
            "withdrew the stake of task {task}: {} (withdraw round {r})",
            koii(amount)
        ),
        None => format!("withdrew the stake of task {task}"),
    };
    ctx.submit(Instruction::Withdraw { task }, what).await
}

/// The stake `node` holds on `task`, as the ledger has it now (its `withdraw_round` is the
/// first round `Withdraw` is allowed, once an unstake was requested).
async fn my_stake(ctx: &Ctx, task: TaskId, node: &Pubkey) -> anyhow::Result<Option<StakeDto>> {
    let flags = TaskInfoFlags {
        stakes: true,
        ..TaskInfoFlags::default()
    };
    let t = ctx.client.get_task_account_info(&task, flags).await?;
    Ok(t.stakes.into_iter().flatten().find(|s| s.node == *node))
}

pub(super) async fn claim(ctx: &Ctx, task: Option<TaskId>, all: bool) -> anyhow::Result<()> {
    let kp = ctx.keypair()?;
    let tasks: Vec<(TaskId, u64)> = if all {
        let acct = ctx.client.get_account(&kp.pubkey()).await?;
        acct.pending_rewards
            .iter()
            .map(|r| (r.task, r.amount))
            .collect()
    } else {
        let t = task.ok_or_else(|| anyhow!("give a task id or --all"))?;
        vec![(t, 0)]
    };
    if tasks.is_empty() {
        return ctx.emit(json!([]), || "no pending rewards to claim".into());
    }
    // Send every claim first, then confirm them: one block for all.
    let mut sigs = Vec::new();
    for (t, _) in &tasks {
        sigs.push((
            *t,
            ctx.client
                .send(&kp, Instruction::Claim { task: *t })
                .await?,
        ));
    }
    let mut out = Vec::new();
    let mut text = String::new();
    let mut failed = None;
    for (t, sig) in sigs {
        match ctx.client.confirm(&sig).await {
            Ok(c) => {
                out.push(
                    json!({"task": t.to_base58(), "signature": sig.to_base58(), "slot": c.slot}),
                );
                text += &format!("claimed task {t} (signature {sig}, slot {})\n", c.slot);
            }
            Err(e) => failed = Some(e),
        }
    }
    if let Some(e) = failed {
        if out.is_empty() {
            return Err(e.into());
        }
        eprintln!("warning: {e}");
    }
    let after = ctx.client.get_balance(&kp.pubkey()).await?;
    text += &format!("balance {}", koii(after));
    ctx.emit(json!(out), || text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_rpc::dto::*;
    use gradual_types::Hash;

    fn pk(i: u8) -> Pubkey {
        Pubkey([i; 32])
    }

    fn voting(seats: &[(u8, u16)]) -> VotingDto {
        VotingDto {
            committee: Some(CommitteeDto {
                seed: Hash::ZERO,
                size: seats.iter().map(|s| s.1).sum(),
                seats: seats
                    .iter()
                    .map(|&(n, seats)| SeatDto { node: pk(n), seats })
                    .collect(),
            }),
            votes: vec![],
            tally: TallyDto {
                valid: 0,
                invalid: 0,
                abstain: 0,
            },
        }
    }

    fn attempt(i: u16, submitter: u8, seats: &[(u8, u16)], ended: bool) -> AttemptDto {
        AttemptDto {
            attempt: i,
            submitter: pk(submitter),
            upload: UploadDto::default(),
            list: None,
            entries: None,
            voting: voting(seats),
            outcome: ended.then_some(AttemptOutcomeDto::FailedNoCommittee),
        }
    }

    fn round(
        status: RoundStatusDto,
        candidates: &[u8],
        current: u16,
        attempts: Vec<AttemptDto>,
        audits: Vec<AuditDto>,
    ) -> (SubmissionInfoDto, DistributionInfoDto) {
        let task = Hash::domain("t", &[]);
        (
            SubmissionInfoDto {
                task,
                round: 7,
                status: status.clone(),
                submissions: vec![],
                audits,
                next: None,
            },
            DistributionInfoDto {
                task,
                round: 7,
                status,
                seed: None,
                candidates: candidates.iter().map(|&c| pk(c)).collect(),
                current_attempt: current,
                attempts,
                entries_attempt: None,
                next_offset: None,
            },
        )
    }

    fn audit(candidate: u8, seats: &[(u8, u16)], open: bool) -> AuditDto {
        AuditDto {
            candidate: pk(candidate),
            accuser: pk(99),
            trigger_slot: 1,
            seed: Hash::ZERO,
            voting: voting(seats),
            outcome: (!open).then_some(AuditOutcomeDto::Unresolved),
        }
    }

    #[test]
    fn ranked_candidates_and_open_committee_seats_are_duties() {
        let d = RoundStatusDto::Distributing;
        // Candidates 1, 2, 3; attempt 0 (node 1) under way; 2 retries allowed.
        let (s, r) = round(
            d.clone(),
            &[1, 2, 3],
            0,
            vec![attempt(0, 1, &[(4, 2)], false)],
            vec![],
        );
        let duties = round_duties(&pk(1), 2, &s, &r);
        assert_eq!(duties.len(), 1, "{duties:?}");
        assert!(duties[0].contains("selected distribution submitter of round 7"));
        let duties = round_duties(&pk(3), 2, &s, &r);
        assert!(duties[0].contains("candidate #2 of round 7"), "{duties:?}");
        // A seat on the open committee of attempt 0.
        let duties = round_duties(&pk(4), 2, &s, &r);
        assert!(duties[0].contains("2 seat(s) on the open committee of distribution attempt 0"));
        // Ranked beyond the attempts the task allows: never selected.
        assert!(round_duties(&pk(3), 1, &s, &r).is_empty());
        assert!(round_duties(&pk(9), 2, &s, &r).is_empty());

        // Attempt 0 ended and 1 is under way: node 1's turn is over.
        let (s, r) = round(
            d.clone(),
            &[1, 2],
            1,
            vec![attempt(0, 1, &[(4, 2)], true), attempt(1, 2, &[], false)],
            vec![],
        );
        assert!(round_duties(&pk(1), 3, &s, &r).is_empty());
        assert!(
            round_duties(&pk(4), 3, &s, &r).is_empty(),
            "that committee decided"
        );
        assert_eq!(round_duties(&pk(2), 3, &s, &r).len(), 1);

        // Proof audits: seats on an undecided one count, a decided one does not.
        let (s, r) = round(
            RoundStatusDto::Reviewing,
            &[],
            0,
            vec![],
            vec![audit(8, &[(5, 1)], true), audit(9, &[(6, 3)], false)],
        );
        let duties = round_duties(&pk(5), 3, &s, &r);
        assert!(duties[0].contains("auditing"), "{duties:?}");
        assert!(round_duties(&pk(6), 3, &s, &r).is_empty());

        // A settled round owes nothing.
        let paid = RoundStatusDto::Paid {
            attempt: 0,
            total_roe: 1,
        };
        let (s, r) = round(paid, &[1], 0, vec![attempt(0, 1, &[(4, 1)], false)], vec![]);
        assert!(round_duties(&pk(1), 3, &s, &r).is_empty());
        assert!(round_duties(&pk(4), 3, &s, &r).is_empty());
    }
}
