//! `gradual task new <name>`: write a ready-to-build Rust task project into `<dir>/<name>`
//! (Cargo.toml on gradual-task-sdk, a working equal-split task, task.yml, README). Nothing is
//! overwritten: an existing target directory is an error.

use std::path::{Path, PathBuf};

/// Where the SDK sat when this binary was built; used when it still exists.
const SDK_BUILD_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../task-sdk");
/// The SDK version asked for when no local path is known.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Longest package name we accept.
const NAME_BYTES_MAX: usize = 64;

/// Why a project could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaffoldError {
    BadName { name: String, reason: String },
    Exists { path: String },
    BadSdkPath { path: String },
    Write { path: String, reason: String },
}

impl std::fmt::Display for ScaffoldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScaffoldError::BadName { name, reason } => write!(
                f,
                "task name '{name}' {reason}; use lowercase letters, digits, '-' and '_', starting with a letter (e.g. my-task)"
            ),
            ScaffoldError::Exists { path } => write!(
                f,
                "'{path}' already exists; choose another name or --dir, or remove it first (nothing is overwritten)"
            ),
            ScaffoldError::BadSdkPath { path } => write!(
                f,
                "--sdk-path '{path}' has no Cargo.toml of gradual-task-sdk; point it at crates/task-sdk of a gradual checkout"
            ),
            ScaffoldError::Write { path, reason } => write!(f, "cannot write '{path}': {reason}"),
        }
    }
}

impl std::error::Error for ScaffoldError {}

/// Check a task/package name.
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let bad = |reason: String| ScaffoldError::BadName {
        name: name.chars().take(80).collect(),
        reason,
    };
    if name.is_empty() || name.len() > NAME_BYTES_MAX {
        return Err(bad(format!(
            "is {} bytes, it must be 1 to {NAME_BYTES_MAX}",
            name.len()
        )));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(bad("does not start with a lowercase letter".into()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_'))
    {
        return Err(bad(format!("contains '{c}'")));
    }
    Ok(())
}

/// How the project depends on the SDK.
fn sdk_dependency(sdk_path: Option<&Path>) -> Result<String, ScaffoldError> {
    let path = match sdk_path {
        Some(p) => {
            if !p.join("Cargo.toml").is_file() {
                return Err(ScaffoldError::BadSdkPath {
                    path: p.display().to_string(),
                });
            }
            Some(p.to_path_buf())
        }
        None => Some(PathBuf::from(SDK_BUILD_PATH)).filter(|p| p.join("Cargo.toml").is_file()),
    };
    Ok(match path {
        Some(p) => {
            let abs = std::fs::canonicalize(&p).unwrap_or(p);
            format!(
                "gradual-task-sdk = {{ path = {:?} }}",
                abs.display().to_string()
            )
        }
        None => format!("gradual-task-sdk = \"{SDK_VERSION}\""),
    })
}

fn cargo_toml(name: &str, sdk_dep: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
{sdk_dep}
blake3 = "1"

# A project of its own, even when created inside another Cargo workspace.
[workspace]
"#
    )
}

fn main_rs(name: &str) -> String {
    format!(
        r#"//! `{name}`: a gradual task. Each round it digests the ledger's blocks of the round's work
//! period and submits `blake3(digest ‖ node ‖ round)`; auditors recompute the digest from
//! their own node's view and compare. Rewards: the SDK's default equal split.
//!
//! It does **not** talk to the validator or to peers itself: the node runs it, calls it, and
//! gives it its services through `Context` (see docs/task-protocol.md).
//!
//! ```text
//!  node ──task / submission / audit / distribution──▶ {name} ──blocks, kv, sign──▶ node
//! ```

use gradual_task_sdk::{{anyhow, Context, Pubkey, Task, Verdict}};
use std::process::ExitCode;

struct MyTask;

/// blake3 over (slot, hash) of every block in the round's work period. Fails (and the node
/// abstains or submits nothing) until the round is over.
async fn round_digest(ctx: &Context, round: u64) -> anyhow::Result<[u8; 32]> {{
    let slots = ctx.round_slots(round).await?;
    let blocks = ctx.blocks_in(slots).await?;
    let mut h = blake3::Hasher::new();
    for b in &blocks {{
        h.update(&b.slot.to_le_bytes());
        h.update(b.hash.as_bytes());
    }}
    Ok(*h.finalize().as_bytes())
}}

/// Bind the proof to the node and the round, so a copied proof fails its audit.
fn proof(digest: &[u8; 32], node: &Pubkey, round: u64) -> Vec<u8> {{
    gradual_task_sdk::bound_proof(b"{name}/proof/v1", digest, node, round)
}}

impl Task for MyTask {{
    async fn task(&self, ctx: &Context, round: u64) -> anyhow::Result<()> {{
        // Real work goes here; this task only notes when the round started.
        let slot = ctx.slot().await?.slot;
        ctx.kv_put(&format!("started/{{round}}"), &slot.to_le_bytes())
            .await?;
        Ok(())
    }}

    async fn submission(&self, ctx: &Context, round: u64) -> anyhow::Result<Option<Vec<u8>>> {{
        let digest = round_digest(ctx, round).await?;
        Ok(Some(proof(&digest, &ctx.node(), round)))
    }}

    async fn audit(
        &self,
        ctx: &Context,
        round: u64,
        candidate: Pubkey,
        value: Vec<u8>,
    ) -> anyhow::Result<Verdict> {{
        let digest = round_digest(ctx, round).await?;
        Ok(if value == proof(&digest, &candidate, round) {{
            Verdict::Valid
        }} else {{
            Verdict::Invalid
        }})
    }}

    // `distribution` defaults to the SPEC's equal split; `routes` to none.
}}

fn main() -> ExitCode {{
    gradual_task_sdk::run(MyTask)
}}
"#
    )
}

fn task_yml(name: &str) -> String {
    let display: String = name.chars().take(24).collect();
    format!(
        r#"# Task parameters (reference field names; amounts in KOII). Check with
# `gradual task create task.yml` against a devnet.
task_name: "{display}"
task_description: "A gradual task created with gradual task new"
task_executable: target/release/{name}
runtime: native
# Slots. The audit window must be at least twice the vote window: 6 s of slots
# (60 at 100 ms slots, 16 at 400 ms). These fit both.
round_time: 80
submission_window: 10
audit_window: 60
minimum_stake_amount: 1
total_bounty_amount: 100
bounty_amount_per_round: 1
allowed_failed_distributions: 3
audit_sample: 8
committee_size: 64
missed_list_bps: 100
"#
    )
}

fn readme(name: &str) -> String {
    format!(
        r#"# {name}

A Gradual Consensus task built on `gradual-task-sdk`.

```sh
cargo build --release                        # target/release/{name}
gradual devnet --task target/release/{name}   # try it on a local network
gradual task create task.yml                 # deploy: uploads the executable, creates the task
```

`src/main.rs` has the five entry points (`task`, `submission`, `audit`, `distribution`,
`routes`). The node runs the binary and calls it; see docs/task-developer-guide.md and
docs/task-protocol.md in the gradual repository. Set `GRADUAL_ADVERSARY=garbage` (or
`false-accuser`, `bad-distribution`, `offline`) on a test network to watch audits catch it.
"#
    )
}

/// Write the project into `dir/name`; returns the files written.
pub fn generate(
    dir: &Path,
    name: &str,
    sdk_path: Option<&Path>,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    check_name(name)?;
    let root = dir.join(name);
    if root.exists() {
        return Err(ScaffoldError::Exists {
            path: root.display().to_string(),
        });
    }
    let sdk_dep = sdk_dependency(sdk_path)?;
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk_dep)),
        ("src/main.rs", main_rs(name)),
        ("task.yml", task_yml(name)),
        ("README.md", readme(name)),
        (".gitignore", "/target\n".to_string()),
    ];
    let write_err = |p: &Path, e: std::io::Error| ScaffoldError::Write {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(root.join("src")).map_err(|e| write_err(&root, e))?;
    let mut written = Vec::new();
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::write(&p, text).map_err(|e| write_err(&p, e))?;
        written.push(p);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_project_with_a_valid_task_yml() {
        let tmp = tempfile::tempdir().unwrap();
        let files = generate(tmp.path(), "my-task", None).unwrap();
        assert_eq!(files.len(), 5);
        let root = tmp.path().join("my-task");
        let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"my-task\""));
        assert!(cargo.contains("gradual-task-sdk = { path = "), "{cargo}");
        assert!(cargo.contains("[workspace]"));
        let main = std::fs::read_to_string(root.join("src/main.rs")).unwrap();
        assert!(main.contains("impl Task for MyTask") && main.contains("gradual_task_sdk::run"));
        // task.yml passes the same checks `gradual task create` runs.
        let yml = std::fs::read_to_string(root.join("task.yml")).unwrap();
        let tf = crate::taskfile::parse(&yml, "task.yml", &root).unwrap();
        assert_eq!(tf.params.name, "my-task");
        assert_eq!(tf.executable_path, root.join("target/release/my-task"));
        // ... and the vote window of a devnet (100 ms slots) and a default validator (400 ms).
        for slot_ms in [100, 400] {
            crate::taskfile::check_for_chain(&tf, "task.yml", slot_ms).unwrap();
        }
    }

    #[test]
    fn refuses_to_overwrite_and_bad_names() {
        let tmp = tempfile::tempdir().unwrap();
        generate(tmp.path(), "t1", None).unwrap();
        let e = generate(tmp.path(), "t1", None).unwrap_err();
        assert!(matches!(e, ScaffoldError::Exists { .. }));
        assert!(e.to_string().contains("nothing is overwritten"), "{e}");
        for bad in ["", "My-Task", "1task", "a/b", "../x", &"a".repeat(65)] {
            let e = generate(tmp.path(), bad, None).unwrap_err();
            assert!(matches!(e, ScaffoldError::BadName { .. }), "{bad}: {e}");
        }
        let e = generate(tmp.path(), "t2", Some(Path::new("/nonexistent"))).unwrap_err();
        assert!(e.to_string().contains("--sdk-path"), "{e}");
        assert!(!tmp.path().join("t2").exists());
    }

    /// Builds the generated project against this checkout's SDK (slow: compiles the SDK's
    /// dependencies unless the workspace's target dir is warm). `cargo test -- --ignored`.
    #[test]
    #[ignore]
    fn generated_project_compiles() {
        let tmp = tempfile::tempdir().unwrap();
        generate(tmp.path(), "compiles", None).unwrap();
        let root = tmp.path().join("compiles");
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        std::fs::copy(ws.join("Cargo.lock"), root.join("Cargo.lock")).unwrap();
        let out = std::process::Command::new(env!("CARGO"))
            .args(["check", "--quiet"])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", ws.join("target"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
