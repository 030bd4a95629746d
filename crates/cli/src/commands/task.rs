//! `gradual task ...`: create, update, fund and switch tasks; the views are in `show`.

use super::{koii, show, Ctx};
use crate::taskfile;
use crate::TaskCommand;
use anyhow::{anyhow, bail, Context};
use gradual_client::TaskInfoFlags;
use gradual_types::{Instruction, TaskId};
use serde_json::json;
use std::path::{Path, PathBuf};

fn nonce_from_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

pub(super) async fn run(ctx: &Ctx, cmd: TaskCommand) -> anyhow::Result<()> {
    match cmd {
        TaskCommand::Create { file, nonce, .. } => create_task(ctx, file, nonce).await,
        TaskCommand::New {
            name,
            dir,
            sdk_path,
            ..
        } => new_task(ctx, &name, &dir, sdk_path.as_deref()),
        TaskCommand::Fund { task, amount, .. } => {
            ctx.submit(
                Instruction::FundTask { task, amount },
                format!("funded task {task} with {}", koii(amount)),
            )
            .await
        }
        TaskCommand::Update { task, file, .. } => update_task(ctx, task, file).await,
        TaskCommand::Activate { task, .. } => {
            ctx.submit(
                Instruction::SetActive { task, active: true },
                format!("task {task} is active"),
            )
            .await
        }
        TaskCommand::Deactivate { task, .. } => {
            ctx.submit(
                Instruction::SetActive {
                    task,
                    active: false,
                },
                format!("task {task} is inactive"),
            )
            .await
        }
        TaskCommand::Close { task, .. } => {
            ctx.submit(
                Instruction::CloseTask { task },
                format!("task {task} is closed; its remaining bounty went back to the manager"),
            )
            .await
        }
        TaskCommand::Show { task, .. } => show::show_task(ctx, task).await,
        TaskCommand::List { active, .. } => show::list_tasks(ctx, active).await,
        TaskCommand::Round { task, round, .. } => show::show_round(ctx, task, round).await,
    }
}

async fn load_and_upload(ctx: &Ctx, file: &Path) -> anyhow::Result<taskfile::TaskFile> {
    let mut tf = taskfile::load(file)?;
    for n in &tf.notes {
        eprintln!("note: {n}");
    }
    let bytes = if tf.entry.is_some() {
        // A directory task: its deterministic tar archive is the artifact.
        let packed = gradual_client::pack::pack_dir(
            &tf.executable_path,
            gradual_types::constants::ARTIFACT_BYTES_MAX,
        )?;
        eprintln!(
            "note: packed '{}' ({} files, {} directories) into a {}-byte archive; nodes run {}",
            tf.executable_path.display(),
            packed.files,
            packed.dirs,
            packed.bytes.len(),
            tf.params.executable.runtime
        );
        packed.bytes
    } else {
        std::fs::read(&tf.executable_path).with_context(|| {
            format!(
                "cannot read task_executable '{}' (paths are relative to the task file)",
                tf.executable_path.display()
            )
        })?
    };
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
    tf.params.executable.digest = art.digest;
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
}

fn new_task(ctx: &Ctx, name: &str, dir: &Path, sdk_path: Option<&Path>) -> anyhow::Result<()> {
    let files = crate::scaffold::generate(dir, name, sdk_path)?;
    let root = dir.join(name);
    if !files.iter().any(|f| f.ends_with(".cargo/config.toml")) {
        eprintln!(
            "note: no gradual checkout found (this binary's is gone); gradual-task-sdk is not on crates.io yet, so before building give {}/.cargo/config.toml a [patch.crates-io] entry with the path of a checkout's crates/task-sdk and crates/types (see its README.md), or run `gradual task new` again with --sdk-path",
            root.display()
        );
    }
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
