//! What each command does: read arguments, talk to the validator, print text or JSON.
//! This file holds the shared context and the account and transfer commands; staking,
//! tasks and the read-only task views each have their own module.

mod errors;
mod show;
mod stake;
mod task;

pub use errors::{error_json, message_of, print_error_json, usage_error, CliError};

use crate::{Command, Settings};
use anyhow::anyhow;
use gradual_client::{read_keypair_file, write_keypair_file, Client};
use gradual_rpc::codes;
use gradual_rpc::dto::FaucetDto;
use gradual_types::{format_koii, Instruction, Keypair, Pubkey, Signature};
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;

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
    async fn submit(&self, ix: Instruction, what: String) -> anyhow::Result<()> {
        let kp = self.keypair()?;
        let c = self.client.send_and_confirm(&kp, ix).await?;
        self.emit(
            json!({"signature": c.signature.to_base58(), "slot": c.slot, "result": "ok"}),
            || format!("{what}\nsignature {} (slot {})", c.signature, c.slot),
        )
    }
}

fn koii(roe: u64) -> String {
    format!("{} KOII", format_koii(roe))
}

/// The faucet's limits in words: "at most X KOII per request and Y KOII per address every
/// N slots (about T s)".
fn faucet_limits(f: &FaucetDto, slot_ms: u64) -> String {
    let secs = f.recipient_window_slots.saturating_mul(slot_ms) / 1000;
    format!(
        "at most {} per request and {} per address every {} slots, about {secs} s",
        koii(f.mint_max_roe),
        koii(f.recipient_max_roe),
        f.recipient_window_slots
    )
}

/// Devnet airdrop. An amount above what the faucet gives in one request is refused here,
/// in KOII and with the largest amount that works; the validator's own refusals (the
/// per-address window, the lifetime cap) get the limits added.
async fn airdrop(ctx: &Ctx, amount: u64, address: Option<Pubkey>) -> anyhow::Result<()> {
    let who = ctx.me_or(address)?;
    let g = ctx.client.genesis().await?;
    let (limits, per_request) = match &g.faucet {
        Some(f) => (
            Some(faucet_limits(f, g.slot_ms)),
            f.mint_max_roe.min(f.recipient_max_roe),
        ),
        None => (None, u64::MAX),
    };
    if amount > per_request {
        let limits = limits.unwrap_or_default();
        return Err(CliError::new(
            "faucet_limit",
            format!(
                "asked for {}, but this chain's faucet gives {limits}: ask for at most {} at a time, and again after the window for more",
                koii(amount),
                koii(per_request),
            ),
        )
        .into());
    }
    let c = match ctx.client.airdrop_and_confirm(&who, amount).await {
        Ok(c) => c,
        Err(e)
            if e.rpc_error()
                .is_some_and(|r| r.code == codes::FAUCET_UNAVAILABLE) =>
        {
            let hint = match limits {
                Some(l) => format!("the faucet refused (it gives {l})"),
                None => "the faucet refused".to_string(),
            };
            return Err(anyhow::Error::new(e).context(hint));
        }
        Err(e) => return Err(e.into()),
    };
    let balance = ctx.client.get_balance(&who).await?;
    ctx.emit(
        json!({"signature": c.signature.to_base58(), "slot": c.slot, "pubkey": who.to_base58(), "balance_roe": balance}),
        || format!("airdropped {} to {who}; balance {}\nsignature {} (slot {})", koii(amount), koii(balance), c.signature, c.slot),
    )
}

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let ctx = Ctx {
        client: Client::new(&settings.url),
        keypair_path: settings.keypair,
        json: settings.json,
    };
    match command {
        Command::Validator(args) => crate::validator_cmd::run(*args).await,
        Command::Node(args) => crate::node_cmd::run_node(*args, ctx.json).await,
        Command::Devnet(args) => crate::node_cmd::run_devnet(*args, ctx.json).await,
        Command::Sim { args, .. } => {
            // The simulator is CPU-bound and synchronous: keep it off the async runtime.
            let json = ctx.json;
            let code =
                tokio::task::spawn_blocking(move || gradual_sim::run_cli(*args, json)).await??;
            if code != std::process::ExitCode::SUCCESS {
                anyhow::bail!("simulation failed its checks (see the report above)");
            }
            Ok(())
        }
        Command::Keygen { outfile, force, .. } => {
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
        Command::Address { .. } => {
            let pk = ctx.keypair()?.pubkey();
            ctx.emit(json!({"pubkey": pk.to_base58()}), || pk.to_string())
        }
        Command::Balance { address, .. } => {
            let who = ctx.me_or(address)?;
            let roe = ctx.client.get_balance(&who).await?;
            ctx.emit(
                json!({"pubkey": who.to_base58(), "balance_roe": roe, "balance_koii": format_koii(roe)}),
                || koii(roe),
            )
        }
        Command::Airdrop {
            amount, address, ..
        } => airdrop(&ctx, amount, address).await,
        Command::Transfer { to, amount, .. } => {
            ctx.submit(
                Instruction::Transfer { to, amount },
                format!("sent {} to {to}", koii(amount)),
            )
            .await
        }
        Command::Confirm { signature, .. } => {
            let sig: Signature = signature
                .parse()
                .map_err(|e| anyhow!("{e}; expected a base58 transaction signature"))?;
            let c = ctx.client.confirm(&sig).await?;
            ctx.emit(
                json!({"signature": sig.to_base58(), "slot": c.slot, "result": "ok"}),
                || format!("transaction {sig} succeeded in slot {}", c.slot),
            )
        }
        Command::Slot { .. } => {
            let h = ctx.client.get_head().await?;
            ctx.emit(serde_json::to_value(&h)?, || {
                format!("slot {} height {} hash {}", h.slot, h.height, h.hash)
            })
        }
        Command::Task(t) => task::run(&ctx, t).await,
        Command::Stake {
            task,
            amount,
            node_url,
            owner,
            ..
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
        }
        Command::SetUrl {
            task,
            node_url: url,
            ..
        } => {
            let what = if url.is_empty() {
                format!("removed the node URL of task {task}")
            } else {
                format!("node URL of task {task} is now {url}")
            };
            ctx.submit(Instruction::SetNodeUrl { task, url }, what)
                .await
        }
        Command::SetOwner {
            task, node, owner, ..
        } => {
            ctx.submit(
                Instruction::SetStakeOwner { task, node, owner },
                format!("the stake of {node} on task {task} now belongs to {owner}"),
            )
            .await
        }
        Command::Unstake { task, force, .. } => stake::unstake(&ctx, task, force).await,
        Command::Withdraw { task, .. } => stake::withdraw(&ctx, task).await,
        Command::Claim { task, all, .. } => stake::claim(&ctx, task, all).await,
        Command::Rewards { address, .. } => {
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
