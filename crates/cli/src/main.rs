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
//!                                     (with --json: {"error": {"code", "message"}} on stdout)
//! ```
//!
//! `--url`, `--keypair` and `--json` are declared on each command that uses them (so `--help`
//! shows only those) and also before the command; [`Cli::settings`] merges them.

mod commands;
mod node_cmd;
mod scaffold;
mod taskfile;
mod validator_cmd;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gradual_types::{parse_koii, Hash, Pubkey};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "gradual",
    version,
    about = "Gradual Consensus: tasks, stakes and rewards on a K2-style ledger",
    after_help = "--url, --keypair and --json go before or after the command (`gradual --keypair k.json stake ...` \
or `gradual stake ... --keypair k.json`); after wins, then GRADUAL_URL / GRADUAL_KEYPAIR, then the default. \
Each command lists the ones it uses.\n\n\
A refused command exits with status 2 and prints `error: <what was wrong>` on stderr; with --json it prints \
{\"error\": {\"code\": \"<stable code>\", \"message\": \"...\"}} on stdout instead (docs/operator-guide.md)."
)]
pub struct Cli {
    #[command(flatten)]
    pub top: ChainFlags,
    #[command(subcommand)]
    pub command: Command,
    /// `gradual devnet --json` (its flags are `node_cmd::DevnetArgs`; this one is added to
    /// the command by [`json_arg`] and read back by [`Cli::parse_from_args`]).
    #[arg(skip)]
    pub devnet_json: bool,
}

/// `--json` as a plain argument, for a command whose flags struct is not ours.
fn json_arg() -> clap::Arg {
    clap::Arg::new("json")
        .long("json")
        .action(clap::ArgAction::SetTrue)
        .help(JSON_HELP)
}

const URL_HELP: &str = "Validator JSON-RPC URL [env: GRADUAL_URL] [default: http://127.0.0.1:8899]";
const KEYPAIR_HELP: &str =
    "Keypair file (JSON array of 64 bytes) [env: GRADUAL_KEYPAIR] [default: ~/.config/gradual/id.json]";
const JSON_HELP: &str = "Print results, and errors, as JSON on stdout";
/// The validator `--url` when neither the flag nor `GRADUAL_URL` gives one.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8899";

/// Commands that sign with a key and talk to the validator; also the flags given before the
/// command (`gradual --keypair k.json stake ...`, the field `Cli::top`), which the same flags
/// after it override.
#[derive(Debug, Clone, Default, Args)]
pub struct ChainFlags {
    #[arg(long, value_name = "URL", help = URL_HELP)]
    pub url: Option<String>,
    #[arg(long, value_name = "FILE", help = KEYPAIR_HELP)]
    pub keypair: Option<PathBuf>,
    #[arg(long, help = JSON_HELP)]
    pub json: bool,
}

/// Commands that only read from the validator.
#[derive(Debug, Clone, Default, Args)]
pub struct QueryFlags {
    #[arg(long, value_name = "URL", help = URL_HELP)]
    pub url: Option<String>,
    #[arg(long, help = JSON_HELP)]
    pub json: bool,
}

/// Commands that use a key file but no validator.
#[derive(Debug, Clone, Default, Args)]
pub struct KeyFlags {
    #[arg(long, value_name = "FILE", help = KEYPAIR_HELP)]
    pub keypair: Option<PathBuf>,
    #[arg(long, help = JSON_HELP)]
    pub json: bool,
}

/// Commands whose only shared flag is `--json`.
#[derive(Debug, Clone, Default, Args)]
pub struct JsonFlag {
    #[arg(long, help = JSON_HELP)]
    pub json: bool,
}

/// The shared flags one command was given (after the command).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given {
    pub url: Option<String>,
    pub keypair: Option<PathBuf>,
    pub json: bool,
}

impl From<&ChainFlags> for Given {
    fn from(f: &ChainFlags) -> Given {
        Given {
            url: f.url.clone(),
            keypair: f.keypair.clone(),
            json: f.json,
        }
    }
}

impl From<&QueryFlags> for Given {
    fn from(f: &QueryFlags) -> Given {
        Given {
            url: f.url.clone(),
            keypair: None,
            json: f.json,
        }
    }
}

impl From<&KeyFlags> for Given {
    fn from(f: &KeyFlags) -> Given {
        Given {
            url: None,
            keypair: f.keypair.clone(),
            json: f.json,
        }
    }
}

impl From<&JsonFlag> for Given {
    fn from(f: &JsonFlag) -> Given {
        Given {
            json: f.json,
            ..Given::default()
        }
    }
}

/// What a command runs with: the shared flags after the command, else before it, else the
/// environment, else the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub url: String,
    pub keypair: Option<PathBuf>,
    pub json: bool,
}

impl Cli {
    /// Parse a command line (the first item is the program name).
    pub fn parse_from_args<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let mut cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
        cli.devnet_json = matches
            .subcommand_matches("devnet")
            .is_some_and(|m| m.get_flag("json"));
        Ok(cli)
    }

    pub fn settings(&self) -> Settings {
        self.settings_with_env(|k| std::env::var_os(k))
    }

    fn settings_with_env(&self, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Settings {
        let g = self.command.given();
        let url = g
            .url
            .or_else(|| self.top.url.clone())
            .or_else(|| env("GRADUAL_URL").map(|v| v.to_string_lossy().into_owned()))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let keypair = g
            .keypair
            .or_else(|| self.top.keypair.clone())
            .or_else(|| env("GRADUAL_KEYPAIR").map(PathBuf::from))
            .filter(|p| !p.as_os_str().is_empty());
        Settings {
            url,
            keypair,
            json: g.json || self.top.json || self.devnet_json,
        }
    }
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
    #[command(arg = json_arg())]
    Devnet(Box<node_cmd::DevnetArgs>),
    /// Deterministic network simulator: strategies, reports, sweeps, scale (see
    /// docs/simulation.md). Same seed, same run.
    Sim {
        #[command(flatten)]
        args: Box<gradual_sim::SimArgs>,
        /// Print reports as JSON instead of tables.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Create a new keypair file.
    Keygen {
        /// Where to write it (default: --keypair).
        #[arg(long)]
        outfile: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        key: KeyFlags,
    },
    /// Print the address of --keypair.
    Address {
        #[command(flatten)]
        key: KeyFlags,
    },
    /// Balance of an address (default: --keypair's).
    Balance {
        /// Address to look up, base58 (default: the --keypair's).
        #[arg(value_parser = pubkey)]
        address: Option<Pubkey>,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Devnet: ask the validator's faucet for KOII.
    #[command(
        after_help = "The faucet's limits are the chain's (genesis): with `gradual validator` defaults, at most 10,000 KOII per request and per address every 150 slots. A refusal names the limit and the slot from which more can be asked."
    )]
    Airdrop {
        /// KOII to ask for (up to 9 decimals).
        #[arg(value_parser = koii)]
        amount: u64,
        /// Who gets it, base58 (default: the --keypair's address).
        #[arg(value_parser = pubkey)]
        address: Option<Pubkey>,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Send KOII to another address.
    Transfer {
        /// Recipient address, base58.
        #[arg(value_parser = pubkey)]
        to: Pubkey,
        /// KOII to send (up to 9 decimals).
        #[arg(value_parser = koii)]
        amount: u64,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Wait for a transaction and print its result.
    Confirm {
        /// Transaction signature, base58 (printed by every command that sends one).
        signature: String,
        #[command(flatten)]
        query: QueryFlags,
    },
    /// The last block: slot, height, hash.
    Slot {
        #[command(flatten)]
        query: QueryFlags,
    },
    /// Task management and inspection.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Stake KOII on a task (lets this key submit proofs and sit on committees).
    Stake {
        /// Task id, base58 (see `gradual task list`).
        #[arg(value_parser = task_id)]
        task: Hash,
        /// KOII to stake (up to 9 decimals); at least the task's minimum stake in all.
        #[arg(value_parser = koii)]
        amount: u64,
        /// URL peers reach this node at (for audits); http(s)://host[:port][/path].
        #[arg(long, default_value = "", value_parser = node_url)]
        node_url: String,
        /// Who may withdraw the stake and claim its rewards (default: --keypair). Only on
        /// the first stake; change it later with `gradual set-owner`.
        #[arg(long, value_parser = pubkey)]
        owner: Option<Pubkey>,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Change the URL peers reach this node at for a task (the stake stays as it is).
    SetUrl {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        /// http(s)://host[:port][/path]; "" removes it.
        #[arg(value_parser = node_url, value_name = "URL")]
        node_url: String,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Hand a stake's withdraw authority to another owner (signed by the current owner).
    SetOwner {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        /// The staking node.
        #[arg(value_parser = pubkey)]
        node: Pubkey,
        /// The new owner.
        #[arg(value_parser = pubkey)]
        owner: Pubkey,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Start the unstake cooldown on a task; prints the round the stake can be withdrawn in.
    ///
    /// Refused without --force while the key is a ranked distribution candidate or holds
    /// seats on an open committee of the task.
    Unstake {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        /// Unstake even though this key has open duties on the task (its distribution turn
        /// or committee seats are then wasted).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Return the stake of a task to its owner once its withdraw round has come.
    Withdraw {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Move pending rewards to the balance.
    Claim {
        /// Task id, base58 (or --all).
        #[arg(value_parser = task_id, required_unless_present = "all", conflicts_with = "all")]
        task: Option<Hash>,
        /// Claim from every task with pending rewards.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Pending rewards per task (default: --keypair's).
    Rewards {
        /// Address to look up, base58 (default: the --keypair's).
        #[arg(value_parser = pubkey)]
        address: Option<Pubkey>,
        #[command(flatten)]
        chain: ChainFlags,
    },
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Scaffold a Rust task project in ./<NAME> (Cargo.toml, src/main.rs with a unit test,
    /// task.yml, README).
    New {
        /// Package and directory name: lowercase letters, digits, '-' and '_'.
        name: String,
        /// Directory to create the project in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path of crates/task-sdk to build against (default: the checkout this binary was
        /// built from, if it is still there). Written to the project's .cargo/config.toml,
        /// never to its Cargo.toml.
        #[arg(long)]
        sdk_path: Option<PathBuf>,
        #[command(flatten)]
        out: JsonFlag,
    },
    /// Create a task from a task.yml (uploads the executable first).
    Create {
        /// The task.yml (reference config-task.yml field names, amounts in KOII).
        file: PathBuf,
        /// Task id nonce (default: from the clock). The id is hash(manager, nonce).
        #[arg(long)]
        nonce: Option<u64>,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Add KOII to a task's bounty.
    Fund {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        /// KOII to add (up to 9 decimals).
        #[arg(value_parser = koii)]
        amount: u64,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// New parameters from a task.yml, effective next round (timing stays fixed).
    Update {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        /// The task.yml with the new parameters.
        file: PathBuf,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Let the task accept submissions.
    Activate {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Stop accepting submissions.
    Deactivate {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Close an inactive, settled task; the remaining bounty returns to the manager.
    Close {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        #[command(flatten)]
        chain: ChainFlags,
    },
    /// Summary: round, open windows, bounty, stakers, last payouts.
    Show {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        #[command(flatten)]
        query: QueryFlags,
    },
    /// Every task on the chain.
    List {
        /// Only active tasks.
        #[arg(long)]
        active: bool,
        #[command(flatten)]
        query: QueryFlags,
    },
    /// One round: submissions, audits with committees and verdicts, distribution, payout.
    Round {
        /// Task id, base58.
        #[arg(value_parser = task_id)]
        task: Hash,
        /// Round number (see `gradual task show`).
        round: u64,
        #[command(flatten)]
        query: QueryFlags,
    },
}

impl Command {
    /// The shared flags given after the command.
    pub fn given(&self) -> Given {
        use Command as C;
        match self {
            C::Validator(_) | C::Node(_) => Given::default(),
            // Its --json is read from the matches (see `Cli::parse_from_args`).
            C::Devnet(_) => Given::default(),
            C::Sim { json, .. } => Given {
                json: *json,
                ..Given::default()
            },
            C::Keygen { key, .. } | C::Address { key } => key.into(),
            C::Confirm { query, .. } | C::Slot { query } => query.into(),
            C::Balance { chain, .. }
            | C::Airdrop { chain, .. }
            | C::Transfer { chain, .. }
            | C::Stake { chain, .. }
            | C::SetUrl { chain, .. }
            | C::SetOwner { chain, .. }
            | C::Unstake { chain, .. }
            | C::Withdraw { chain, .. }
            | C::Claim { chain, .. }
            | C::Rewards { chain, .. } => chain.into(),
            C::Task(t) => t.given(),
        }
    }
}

impl TaskCommand {
    pub fn given(&self) -> Given {
        use TaskCommand as T;
        match self {
            T::New { out, .. } => out.into(),
            T::Create { chain, .. }
            | T::Fund { chain, .. }
            | T::Update { chain, .. }
            | T::Activate { chain, .. }
            | T::Deactivate { chain, .. }
            | T::Close { chain, .. } => chain.into(),
            T::Show { query, .. } | T::List { query, .. } | T::Round { query, .. } => query.into(),
        }
    }
}

/// Whether `--json` is among the arguments (before a `--`): how a command line that did
/// not parse still gets its error as JSON.
fn json_requested(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

fn main() -> ExitCode {
    // `gradual __task-sandbox ...`: the node starting a confined task process. First, while
    // this process has one thread (Landlock confines the calling thread).
    if let Some(code) = gradual_node::sandbox::run_if_launcher() {
        return code;
    }
    let cli = match Cli::parse_from_args(std::env::args_os()) {
        Ok(cli) => cli,
        // --help and --version print as usual; usage errors as JSON when asked for.
        Err(e) if e.use_stderr() && json_requested(std::env::args_os()) => {
            commands::print_error_json(&commands::usage_error(&e));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let settings = cli.settings();
    let json = settings.json;
    // One error path: a runtime that cannot start is reported like any failed command.
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|rt| rt.block_on(commands::run(cli.command, settings)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed stdout (e.g. `| head`) is not a failure.
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            if json {
                commands::print_error_json(&commands::error_json(&e));
            } else {
                eprintln!("error: {}", commands::message_of(&e));
            }
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests;
