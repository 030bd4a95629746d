//! `gradual`: the command line of a gradual chain. Keys, transfers, tasks, staking and
//! rewards through a validator's JSON-RPC, and `gradual validator` to run one.
//!
//! `gradual node` runs a task node (`gradual-node`) and `gradual devnet` a whole local
//! network (`gradual-devnet`); this binary only parses their flags. Otherwise it does **not** run
//! tasks or hold any state of its own besides the
//! keypair file; every answer comes from the validator.
//!
//! ```text
//!   gradual <command> --url http://validator --keypair id.json [--json]
//!       │ parse + check every argument / task.yml field (nothing sent on error)
//!       ▼
//!   gradual-client ──JSON-RPC──▶ validator ──▶ confirmed result ──▶ text or JSON on stdout
//!                                                 errors ──▶ "error: ..." on stderr, exit 2
//! ```

mod commands;
mod node_cmd;
mod scaffold;
mod taskfile;
mod validator_cmd;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gradual_types::{parse_koii, Hash, Pubkey};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "gradual",
    version,
    about = "Gradual Consensus: tasks, stakes and rewards on a K2-style ledger"
)]
pub struct Cli {
    /// Validator JSON-RPC URL.
    #[arg(
        long,
        global = true,
        env = "GRADUAL_URL",
        default_value = "http://127.0.0.1:8899"
    )]
    pub url: String,
    /// Keypair file (JSON array of 64 bytes); default ~/.config/gradual/id.json.
    #[arg(long, global = true, env = "GRADUAL_KEYPAIR")]
    pub keypair: Option<PathBuf>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// A KOII amount with up to 9 decimals.
fn koii(s: &str) -> Result<u64, String> {
    parse_koii(s).map_err(|e| e.to_string())
}

fn pubkey(s: &str) -> Result<Pubkey, String> {
    s.parse()
        .map_err(|e: gradual_types::ParseKeyError| format!("{e}; expected a base58 address"))
}

fn node_url(s: &str) -> Result<String, String> {
    gradual_types::validate_node_url(s)
        .map(|()| s.to_string())
        .map_err(|e| format!("{e}; expected e.g. http://203.0.113.7:8080"))
}

fn task_id(s: &str) -> Result<Hash, String> {
    Hash::from_base58(s)
        .map_err(|e| format!("{e}; expected a base58 task id (see `gradual task list`)"))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a validator (creates the chain on first run).
    Validator(Box<validator_cmd::ValidatorArgs>),
    /// Run a task node: stake, work, submit, audit, distribute (see docs/operator-guide.md).
    Node(Box<node_cmd::NodeArgs>),
    /// A local network: validator, one task, N nodes (one adversarial); live progress and a
    /// verdict (exit 0 only if every settled round paid the honest nodes).
    Devnet(Box<node_cmd::DevnetArgs>),
    /// Deterministic network simulator: strategies, reports, sweeps, scale (see
    /// docs/simulation.md). Same seed, same run.
    Sim(Box<gradual_sim::SimArgs>),
    /// Create a new keypair file.
    Keygen {
        /// Where to write it (default: --keypair).
        #[arg(long)]
        outfile: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the address of --keypair.
    Address,
    /// Balance of an address (default: --keypair's).
    Balance {
        #[arg(value_parser = pubkey)]
        address: Option<Pubkey>,
    },
    /// Devnet: ask the validator's faucet for KOII.
    Airdrop {
        #[arg(value_parser = koii)]
        amount: u64,
        #[arg(value_parser = pubkey)]
        address: Option<Pubkey>,
    },
    /// Send KOII to another address.
    Transfer {
        #[arg(value_parser = pubkey)]
        to: Pubkey,
        #[arg(value_parser = koii)]
        amount: u64,
    },
    /// Wait for a transaction and print its result.
    Confirm { signature: String },
    /// The last block: slot, height, hash.
    Slot,
    /// Task management and inspection.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Stake KOII on a task (lets this key submit proofs and sit on committees).
    Stake {
        #[arg(value_parser = task_id)]
        task: Hash,
        #[arg(value_parser = koii)]
        amount: u64,
        /// URL peers reach this node at (for audits); http(s)://host[:port][/path].
        #[arg(long, default_value = "", value_parser = node_url)]
        node_url: String,
        /// Who may withdraw the stake and claim its rewards (default: --keypair). Only on
        /// the first stake; change it later with `gradual set-owner`.
        #[arg(long, value_parser = pubkey)]
        owner: Option<Pubkey>,
    },
    /// Change the URL peers reach this node at for a task (the stake stays as it is).
    SetUrl {
        #[arg(value_parser = task_id)]
        task: Hash,
        /// http(s)://host[:port][/path]; "" removes it.
        #[arg(value_parser = node_url, value_name = "URL")]
        node_url: String,
    },
    /// Hand a stake's withdraw authority to another owner (signed by the current owner).
    SetOwner {
        #[arg(value_parser = task_id)]
        task: Hash,
        /// The staking node.
        #[arg(value_parser = pubkey)]
        node: Pubkey,
        /// The new owner.
        #[arg(value_parser = pubkey)]
        owner: Pubkey,
    },
    /// Start the unstake cooldown on a task; prints the round the stake can be withdrawn in.
    Unstake {
        #[arg(value_parser = task_id)]
        task: Hash,
    },
    /// Return the stake of a task to its owner once its withdraw round has come.
    Withdraw {
        #[arg(value_parser = task_id)]
        task: Hash,
    },
    /// Move pending rewards to the balance.
    Claim {
        #[arg(value_parser = task_id, required_unless_present = "all", conflicts_with = "all")]
        task: Option<Hash>,
        /// Claim from every task with pending rewards.
        #[arg(long)]
        all: bool,
    },
    /// Pending rewards per task (default: --keypair's).
    Rewards {
        #[arg(value_parser = pubkey)]
        address: Option<Pubkey>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Scaffold a Rust task project in ./<NAME> (Cargo.toml, src/main.rs, task.yml, README).
    New {
        /// Package and directory name: lowercase letters, digits, '-' and '_'.
        name: String,
        /// Directory to create the project in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path of crates/task-sdk to depend on (default: this build's checkout if present,
        /// else the published version).
        #[arg(long)]
        sdk_path: Option<PathBuf>,
    },
    /// Create a task from a task.yml (uploads the executable first).
    Create {
        file: PathBuf,
        /// Task id nonce (default: from the clock). The id is hash(manager, nonce).
        #[arg(long)]
        nonce: Option<u64>,
    },
    /// Add KOII to a task's bounty.
    Fund {
        #[arg(value_parser = task_id)]
        task: Hash,
        #[arg(value_parser = koii)]
        amount: u64,
    },
    /// New parameters from a task.yml, effective next round (timing stays fixed).
    Update {
        #[arg(value_parser = task_id)]
        task: Hash,
        file: PathBuf,
    },
    /// Let the task accept submissions.
    Activate {
        #[arg(value_parser = task_id)]
        task: Hash,
    },
    /// Stop accepting submissions.
    Deactivate {
        #[arg(value_parser = task_id)]
        task: Hash,
    },
    /// Close an inactive, settled task; the remaining bounty returns to the manager.
    Close {
        #[arg(value_parser = task_id)]
        task: Hash,
    },
    /// Summary: round, open windows, bounty, stakers, last payouts.
    Show {
        #[arg(value_parser = task_id)]
        task: Hash,
    },
    /// Every task on the chain.
    List {
        /// Only active tasks.
        #[arg(long)]
        active: bool,
    },
    /// One round: submissions, audits with committees and verdicts, distribution, payout.
    Round {
        #[arg(value_parser = task_id)]
        task: Hash,
        round: u64,
    },
}

fn main() -> ExitCode {
    // `gradual __task-sandbox ...`: the node starting a confined task process. First, while
    // this process has one thread (Landlock confines the calling thread).
    if let Some(code) = gradual_node::sandbox::run_if_launcher() {
        return code;
    }
    let cli = Cli::parse();
    // One error path: a runtime that cannot start is reported like any failed command.
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(commands::run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (e.g. `| head`) is not a failure.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn stake_owner_and_url_commands_parse() {
        let task = Hash::domain("t", &[]).to_base58();
        let node = gradual_types::Keypair::from_seed([1; 32])
            .pubkey()
            .to_string();
        let owner = gradual_types::Keypair::from_seed([2; 32]).pubkey();
        let owner_s = owner.to_string();
        let ok = Cli::try_parse_from([
            "gradual",
            "stake",
            &task,
            "2",
            "--node-url",
            "http://10.0.0.1:8080",
            "--owner",
            &owner_s,
        ])
        .unwrap();
        assert!(matches!(ok.command, Command::Stake { owner: Some(o), .. } if o == owner));
        let e =
            Cli::try_parse_from(["gradual", "stake", &task, "2", "--owner", "nope"]).unwrap_err();
        assert!(e.to_string().contains("expected a base58 address"), "{e}");
        let e = Cli::try_parse_from(["gradual", "stake", &task, "2", "--node-url", "ftp://x"])
            .unwrap_err();
        assert!(e.to_string().contains("http:// or https://"), "{e}");
        let ok = Cli::try_parse_from(["gradual", "set-url", &task, "https://n.example"]).unwrap();
        assert!(
            matches!(ok.command, Command::SetUrl { node_url, .. } if node_url == "https://n.example")
        );
        // The URL is the node's, never the global --url of the validator.
        assert_eq!(ok.url, "http://127.0.0.1:8899");
        let e = Cli::try_parse_from(["gradual", "set-url", &task, "http://u:p@host"]).unwrap_err();
        assert!(e.to_string().contains("user info"), "{e}");
        let ok = Cli::try_parse_from(["gradual", "set-owner", &task, &node, &owner_s]).unwrap();
        assert!(matches!(ok.command, Command::SetOwner { owner: o, .. } if o == owner));
        let e = Cli::try_parse_from(["gradual", "set-owner", &task, &node]).unwrap_err();
        assert!(e.to_string().contains("<OWNER>"), "{e}");
    }

    #[test]
    fn amounts_and_keys_are_checked_at_parse() {
        let e = Cli::try_parse_from(["gradual", "transfer", "abc", "1"]).unwrap_err();
        assert!(e.to_string().contains("expected a base58 address"), "{e}");
        let k = gradual_types::Keypair::from_seed([1; 32])
            .pubkey()
            .to_string();
        let e = Cli::try_parse_from(["gradual", "transfer", &k, "1.0000000001"]).unwrap_err();
        assert!(e.to_string().contains("more than 9 decimals"), "{e}");
        let ok = Cli::try_parse_from(["gradual", "--json", "transfer", &k, "2.5"]).unwrap();
        assert!(ok.json);
        assert!(matches!(
            ok.command,
            Command::Transfer {
                amount: 2_500_000_000,
                ..
            }
        ));
        let e = Cli::try_parse_from(["gradual", "claim"]).unwrap_err();
        assert!(e.to_string().contains("<TASK>"), "{e}");
        let e = Cli::try_parse_from(["gradual", "task", "show", "zz"]).unwrap_err();
        assert!(e.to_string().contains("task id"), "{e}");
    }
}
