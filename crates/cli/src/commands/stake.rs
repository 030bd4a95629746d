//! Staking commands: unstake, withdraw and claim, which read the ledger's answer back.

use super::{koii, Ctx};
use anyhow::anyhow;
use gradual_client::TaskInfoFlags;
use gradual_rpc::dto::StakeDto;
use gradual_types::{Instruction, Pubkey, TaskId};
use serde_json::json;

/// `Unstake`, then the round the stake can be withdrawn in: the ledger fixes it at
/// `round of the unstake + unstake_cooldown` (SPEC §7).
pub(super) async fn unstake(ctx: &Ctx, task: TaskId) -> anyhow::Result<()> {
    let kp = ctx.keypair()?;
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
        .and_then(|s| s.withdraw_round)
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
    let what = match stake.and_then(|s| Some((s.amount, s.withdraw_round?))) {
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
