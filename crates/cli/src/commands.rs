//! What each command does: read arguments, talk to the validator, print text or JSON.

use crate::taskfile;
use crate::{Cli, Command, TaskCommand};
use anyhow::{anyhow, bail, Context};
use base64::Engine;
use gradual_client::{read_keypair_file, write_keypair_file, Client, Confirmed, TaskInfoFlags};
use gradual_rpc::dto::*;
use gradual_types::{format_koii, Instruction, Keypair, Pubkey, Signature, TaskId};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

struct Ctx {
    client: Client,
    keypair_path: Option<PathBuf>,
    json: bool,
}

fn default_keypair_path() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join(".config").join("gradual").join("id.json")
}

impl Ctx {
    fn keypair_path(&self) -> PathBuf {
        self.keypair_path
            .clone()
            .unwrap_or_else(default_keypair_path)
    }

    fn keypair(&self) -> anyhow::Result<Keypair> {
        Ok(read_keypair_file(&self.keypair_path())?)
    }

    fn me_or(&self, address: Option<Pubkey>) -> anyhow::Result<Pubkey> {
        match address {
            Some(a) => Ok(a),
            None => Ok(self.keypair()?.pubkey()),
        }
    }

    /// Print `text` for people, or `value` with `--json`.
    fn emit(&self, value: Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        if self.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
        } else {
            let t = text();
            write!(out, "{t}")?;
            if !t.ends_with('\n') {
                writeln!(out)?;
            }
        }
        Ok(())
    }

    /// Sign, send, confirm, and print the signature and slot.
    async fn submit(&self, ix: Instruction, what: String) -> anyhow::Result<Confirmed> {
        let kp = self.keypair()?;
        let c = self.client.send_and_confirm(&kp, ix).await?;
        self.emit(
            json!({"signature": c.signature.to_base58(), "slot": c.slot, "result": "ok"}),
            || format!("{what}\nsignature {} (slot {})", c.signature, c.slot),
        )?;
        Ok(c)
    }
}

fn koii(roe: u64) -> String {
    format!("{} KOII", format_koii(roe))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx {
        client: Client::new(&cli.url),
        keypair_path: cli.keypair.clone(),
        json: cli.json,
    };
    match cli.command {
        Command::Validator(args) => crate::validator_cmd::run(*args).await,
        Command::Node(args) => crate::node_cmd::run_node(*args).await,
        Command::Devnet(args) => crate::node_cmd::run_devnet(*args, ctx.json).await,
        Command::Sim(args) => {
            // The simulator is CPU-bound and synchronous: keep it off the async runtime.
            let code = tokio::task::spawn_blocking(move || gradual_sim::run_cli(*args, ctx.json))
                .await??;
            if code != std::process::ExitCode::SUCCESS {
                anyhow::bail!("simulation failed its checks (see the report above)");
            }
            Ok(())
        }
        Command::Keygen { outfile, force } => {
            let path = outfile.unwrap_or_else(|| ctx.keypair_path());
            let kp = Keypair::generate();
            write_keypair_file(&path, &kp, force)?;
            ctx.emit(
                json!({"pubkey": kp.pubkey().to_base58(), "path": path.display().to_string()}),
                || {
                    format!(
                        "wrote new keypair to {}\npubkey {}",
                        path.display(),
                        kp.pubkey()
                    )
                },
            )
        }
        Command::Address => {
            let pk = ctx.keypair()?.pubkey();
            ctx.emit(json!({"pubkey": pk.to_base58()}), || pk.to_string())
        }
        Command::Balance { address } => {
            let who = ctx.me_or(address)?;
            let roe = ctx.client.get_balance(&who).await?;
            ctx.emit(
                json!({"pubkey": who.to_base58(), "balance_roe": roe, "balance_koii": format_koii(roe)}),
                || koii(roe),
            )
        }
        Command::Airdrop { amount, address } => {
            let who = ctx.me_or(address)?;
            let c = ctx.client.airdrop_and_confirm(&who, amount).await?;
            let balance = ctx.client.get_balance(&who).await?;
            ctx.emit(
                json!({"signature": c.signature.to_base58(), "slot": c.slot, "pubkey": who.to_base58(), "balance_roe": balance}),
                || format!("airdropped {} to {who}; balance {}\nsignature {} (slot {})", koii(amount), koii(balance), c.signature, c.slot),
            )
        }
        Command::Transfer { to, amount } => ctx
            .submit(
                Instruction::Transfer { to, amount },
                format!("sent {} to {to}", koii(amount)),
            )
            .await
            .map(drop),
        Command::Confirm { signature } => {
            let sig: Signature = signature
                .parse()
                .map_err(|e| anyhow!("{e}; expected a base58 transaction signature"))?;
            let c = ctx.client.confirm(&sig).await?;
            ctx.emit(
                json!({"signature": sig.to_base58(), "slot": c.slot, "result": "ok"}),
                || format!("transaction {sig} succeeded in slot {}", c.slot),
            )
        }
        Command::Slot => {
            let h = ctx.client.get_head().await?;
            ctx.emit(serde_json::to_value(&h)?, || {
                format!("slot {} height {} hash {}", h.slot, h.height, h.hash)
            })
        }
        Command::Task(t) => task(&ctx, t).await,
        Command::Stake {
            task,
            amount,
            node_url,
            owner,
        } => {
            let to = owner.map(|o| format!("; owner {o}")).unwrap_or_default();
            ctx.submit(
                Instruction::Stake {
                    task,
                    amount,
                    url: node_url,
                    owner,
                },
                format!("staked {} on task {task}{to}", koii(amount)),
            )
            .await
            .map(drop)
        }
        Command::SetUrl {
            task,
            node_url: url,
        } => {
            let what = if url.is_empty() {
                format!("removed the node URL of task {task}")
            } else {
                format!("node URL of task {task} is now {url}")
            };
            ctx.submit(Instruction::SetNodeUrl { task, url }, what)
                .await
                .map(drop)
        }
        Command::SetOwner { task, node, owner } => ctx
            .submit(
                Instruction::SetStakeOwner { task, node, owner },
                format!("the stake of {node} on task {task} now belongs to {owner}"),
            )
            .await
            .map(drop),
        Command::Unstake { task } => unstake(&ctx, task).await,
        Command::Withdraw { task } => withdraw(&ctx, task).await,
        Command::Claim { task, all } => claim(&ctx, task, all).await,
        Command::Rewards { address } => {
            let who = ctx.me_or(address)?;
            let acct = ctx.client.get_account(&who).await?;
            let total: u64 = acct.pending_rewards.iter().map(|r| r.amount).sum();
            ctx.emit(serde_json::to_value(&acct.pending_rewards)?, || {
                if acct.pending_rewards.is_empty() {
                    return format!("no pending rewards for {who}");
                }
                let mut s = String::new();
                for r in &acct.pending_rewards {
                    s += &format!("{}  {}\n", r.task, koii(r.amount));
                }
                s += &format!("total {}", koii(total));
                s
            })
        }
    }
}

/// `Unstake`, then the round the stake can be withdrawn in: the ledger fixes it at
/// `round of the unstake + unstake_cooldown` (SPEC §7).
async fn unstake(ctx: &Ctx, task: TaskId) -> anyhow::Result<()> {
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
    let after = ctx
        .client
        .get_task_account_info(
            &task,
            TaskInfoFlags {
                stakes: true,
                ..TaskInfoFlags::default()
            },
        )
        .await?;
    let me = kp.pubkey().to_base58();
    let withdraw_round = after
        .stakes
        .iter()
        .flatten()
        .find(|s| s.node == me)
        .and_then(stake_withdraw_round)
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
async fn withdraw(ctx: &Ctx, task: TaskId) -> anyhow::Result<()> {
    let me = ctx.keypair()?.pubkey();
    let t = ctx
        .client
        .get_task_account_info(
            &task,
            TaskInfoFlags {
                stakes: true,
                ..TaskInfoFlags::default()
            },
        )
        .await?;
    let stake = t.stakes.iter().flatten().find(|s| s.node == me.to_base58());
    let what = match stake.and_then(|s| Some((s, stake_withdraw_round(s)?))) {
        Some((s, r)) => format!(
            "withdrew the stake of task {task}: {} (withdraw round {r})",
            koii(s.amount)
        ),
        None => format!("withdrew the stake of task {task}"),
    };
    ctx.submit(Instruction::Withdraw { task }, what)
        .await
        .map(drop)
}

/// The first round `Withdraw` is allowed, once an unstake was requested.
fn stake_withdraw_round(s: &StakeDto) -> Option<u64> {
    s.withdraw_round
}

async fn claim(ctx: &Ctx, task: Option<TaskId>, all: bool) -> anyhow::Result<()> {
    let kp = ctx.keypair()?;
    let tasks: Vec<(TaskId, u64)> = if all {
        let acct = ctx.client.get_account(&kp.pubkey()).await?;
        acct.pending_rewards
            .iter()
            .map(|r| Ok((gradual_client::hash(&r.task)?, r.amount)))
            .collect::<anyhow::Result<_>>()?
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

fn nonce_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

async fn task(ctx: &Ctx, cmd: TaskCommand) -> anyhow::Result<()> {
    match cmd {
        TaskCommand::Create { file, nonce } => create_task(ctx, file, nonce).await,
        TaskCommand::New {
            name,
            dir,
            sdk_path,
        } => new_task(ctx, &name, &dir, sdk_path.as_deref()),
        TaskCommand::Fund { task, amount } => ctx
            .submit(
                Instruction::FundTask { task, amount },
                format!("funded task {task} with {}", koii(amount)),
            )
            .await
            .map(drop),
        TaskCommand::Update { task, file } => update_task(ctx, task, file).await,
        TaskCommand::Activate { task } => ctx
            .submit(
                Instruction::SetActive { task, active: true },
                format!("task {task} is active"),
            )
            .await
            .map(drop),
        TaskCommand::Deactivate { task } => ctx
            .submit(
                Instruction::SetActive {
                    task,
                    active: false,
                },
                format!("task {task} is inactive"),
            )
            .await
            .map(drop),
        TaskCommand::Close { task } => ctx
            .submit(
                Instruction::CloseTask { task },
                format!("task {task} is closed; its remaining bounty went back to the manager"),
            )
            .await
            .map(drop),
        TaskCommand::Show { task } => show_task(ctx, task).await,
        TaskCommand::List { active } => {
            let tasks = ctx.client.get_program_tasks(active).await?;
            ctx.emit(serde_json::to_value(&tasks)?, || {
                if tasks.is_empty() {
                    return "no tasks".into();
                }
                let mut s = String::new();
                for t in &tasks {
                    let state = if t.closed {
                        "closed"
                    } else if t.is_active {
                        "active"
                    } else {
                        "inactive"
                    };
                    s += &format!(
                        "{}  {:<24}  {:<8}  round {:<5} bounty {:<18} stakers {}\n",
                        t.id,
                        t.name,
                        state,
                        t.current_round,
                        koii(t.total_bounty),
                        t.stakers
                    );
                }
                s
            })
        }
        TaskCommand::Round { task, round } => show_round(ctx, task, round).await,
    }
}

async fn load_and_upload(ctx: &Ctx, file: &Path) -> anyhow::Result<taskfile::TaskFile> {
    let mut tf = taskfile::load(file)?;
    for n in &tf.notes {
        eprintln!("note: {n}");
    }
    let bytes = std::fs::read(&tf.executable_path).with_context(|| {
        format!(
            "cannot read task_executable '{}' (paths are relative to the task file)",
            tf.executable_path.display()
        )
    })?;
    if bytes.is_empty() {
        bail!(
            "task_executable '{}' is empty",
            tf.executable_path.display()
        );
    }
    // Signed by the key that sends the task transaction (it must hold the chain fee).
    let art = ctx
        .client
        .upload_artifact_signed(&ctx.keypair()?, bytes)
        .await?;
    tf.params.executable.digest = gradual_client::hash(&art.digest)?;
    tf.params.executable.urls.insert(0, art.url);
    tf.params
        .validate()
        .map_err(|e| anyhow!("{}: {e}", file.display()))?;
    Ok(tf)
}

async fn create_task(ctx: &Ctx, file: PathBuf, nonce: Option<u64>) -> anyhow::Result<()> {
    // Everything local first: a bad file never reaches the network.
    let kp = ctx.keypair()?;
    let parsed = taskfile::load(&file)?;
    let genesis = ctx.client.genesis().await?;
    let fee = genesis.fee_roe;
    taskfile::check_for_chain(&parsed, &file.display().to_string(), genesis.slot_ms)?;
    let balance = ctx.client.get_balance(&kp.pubkey()).await?;
    let needed = parsed.total_bounty.saturating_add(fee);
    if balance < needed {
        bail!(
            "insufficient funds: creating this task escrows {} (plus {} fee), {} has {}",
            koii(parsed.total_bounty),
            koii(fee),
            kp.pubkey(),
            koii(balance)
        );
    }
    let tf = load_and_upload(ctx, &file).await?;
    let nonce = nonce.unwrap_or_else(nonce_from_clock);
    let id = gradual_types::task_id(&kp.pubkey(), nonce);
    let c = ctx
        .client
        .send_and_confirm(
            &kp,
            Instruction::CreateTask {
                nonce,
                params: tf.params.clone(),
                total_bounty: tf.total_bounty,
            },
        )
        .await?;
    ctx.emit(
        json!({
            "task": id.to_base58(),
            "signature": c.signature.to_base58(),
            "slot": c.slot,
            "executable": tf.params.executable.digest.to_base58(),
            "executable_url": tf.params.executable.urls[0],
        }),
        || {
            format!(
                "created task {id} \"{}\"\nbounty {} ({} per round), executable {}\nsignature {} (slot {})",
                tf.params.name,
                koii(tf.total_bounty),
                koii(tf.params.bounty_per_round),
                tf.params.executable.urls[0],
                c.signature,
                c.slot
            )
        },
    )
}

async fn update_task(ctx: &Ctx, task: TaskId, file: PathBuf) -> anyhow::Result<()> {
    let parsed = taskfile::load(&file)?;
    let slot_ms = ctx.client.genesis().await?.slot_ms;
    taskfile::check_for_chain(&parsed, &file.display().to_string(), slot_ms)?;
    let current = ctx
        .client
        .get_task_account_info(&task, TaskInfoFlags::default())
        .await?;
    let p = &current.params;
    let mut fixed = Vec::new();
    for (name, was, now) in [
        ("round_time", p.round_time, parsed.params.round_time),
        (
            "submission_window",
            p.submission_window,
            parsed.params.submission_window,
        ),
        ("audit_window", p.audit_window, parsed.params.audit_window),
    ] {
        if was != now {
            fixed.push(format!("{name} is {was}, the file says {now}"));
        }
    }
    if !fixed.is_empty() {
        bail!(
            "{}: timing is fixed at creation ({}); keep those values or create a new task",
            file.display(),
            fixed.join("; ")
        );
    }
    if parsed.total_bounty != current.total_bounty {
        eprintln!(
            "note: total_bounty_amount is not changed by update; use `gradual task fund` to add bounty"
        );
    }
    let tf = load_and_upload(ctx, &file).await?;
    ctx.submit(
        Instruction::UpdateTask {
            task,
            params: tf.params,
        },
        format!(
            "task {task} updated; the new parameters apply from round {}",
            current.current_round + 1
        ),
    )
    .await
    .map(drop)
}

fn window_name(w: &str) -> &str {
    match w {
        "proof_submission" => "proof submission",
        "proof_audit" => "proof audit",
        "distribution_submission" => "distribution submission",
        "distribution_audit" => "distribution audit",
        other => other,
    }
}

fn status_text(s: &RoundStatusDto) -> String {
    match s {
        RoundStatusDto::Reviewing => "reviewing proofs".into(),
        RoundStatusDto::Distributing => "distributing".into(),
        RoundStatusDto::Paid { attempt, total } => {
            format!("paid {} (attempt {attempt})", koii(*total))
        }
        RoundStatusDto::Failed => "failed: every distribution attempt failed, nothing paid".into(),
        RoundStatusDto::NoCandidates => "no valid submitter, nothing to pay".into(),
    }
}

async fn show_task(ctx: &Ctx, task: TaskId) -> anyhow::Result<()> {
    let flags = TaskInfoFlags {
        submissions: false,
        distributions: true,
        stakes: true,
        rewards: true,
    };
    let t = ctx.client.get_task_account_info(&task, flags).await?;
    ctx.emit(serde_json::to_value(&t)?, || {
        let p = &t.params;
        let state = if t.closed {
            "closed"
        } else if t.is_active {
            "active"
        } else {
            "inactive"
        };
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
                    window_name(&w.window),
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
            let unstaking = match (st.unstake_round, st.withdraw_round) {
                (Some(r), Some(w)) => {
                    format!(" (unstaking since round {r}, withdraw from round {w})")
                }
                (Some(r), None) => format!(" (unstaking since round {r})"),
                _ => String::new(),
            };
            let owner = if st.owner != st.node {
                format!(" owner {}", st.owner)
            } else {
                String::new()
            };
            s += &format!(
                "  {}  {}{owner}{unstaking}\n",
                st.node,
                koii(st.amount)
            );
        }
        let pending: u64 = t.pending_rewards.iter().flatten().map(|r| r.amount).sum();
        s += &format!("rewards      {} pending\n", koii(pending));
        let paid: Vec<&RoundDto> = t
            .rounds
            .iter()
            .flatten()
            .filter(|r| !matches!(r.status, RoundStatusDto::Reviewing))
            .collect();
        if paid.is_empty() {
            s += "payouts      none yet\n";
        } else {
            s += "payouts\n";
            for r in paid.iter().rev().take(5) {
                s += &format!("  round {}: {}\n", r.round, status_text(&r.status));
            }
        }
        s
    })
}

fn committee_text(c: &Option<CommitteeDto>, votes: &[VoteDto], tally: &TallyDto) -> String {
    let Some(c) = c else {
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
            .map(|v| v.verdict.as_str())
            .unwrap_or("no vote");
        s += &format!("      {} x{}: {vote}\n", seat.node, seat.seats);
    }
    s += &format!(
        "    seats voting: valid {}, invalid {}, abstain {}\n",
        tally.valid, tally.invalid, tally.abstain
    );
    s
}

async fn show_round(ctx: &Ctx, task: TaskId, round: u64) -> anyhow::Result<()> {
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
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&sub.value)
                .unwrap_or_default();
            let shown = value_short(&bytes);
            let void = if sub.voided { "  VOIDED" } else { "" };
            s += &format!("  {}  slot {}  {shown}{void}\n", sub.node, sub.slot);
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
            s += &committee_text(&a.committee, &a.votes, &a.tally);
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
                Some(AttemptOutcomeDto::PayoutSuccessful { total }) => {
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
                        koii(l.total),
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
                s += &committee_text(&a.committee, &a.votes, &a.tally);
            }
        }
        s
    })
}

/// A proof value for display: base64, cut short.
fn value_short(bytes: &[u8]) -> String {
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    if s.len() > 24 {
        format!("{}... ({} bytes)", &s[..24], bytes.len())
    } else {
        s
    }
}

fn new_task(ctx: &Ctx, name: &str, dir: &Path, sdk_path: Option<&Path>) -> anyhow::Result<()> {
    let files = crate::scaffold::generate(dir, name, sdk_path)?;
    let root = dir.join(name);
    ctx.emit(
        json!({
            "path": root.display().to_string(),
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        }),
        || {
            format!(
                "created task project {}\nnext: cd {} && cargo build --release && gradual task create task.yml",
                root.display(),
                root.display()
            )
        },
    )
}
