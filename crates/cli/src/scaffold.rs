//! `gradual task new <name>`: write a ready-to-build Rust task project into `<dir>/<name>`
//! (Cargo.toml on gradual-task-sdk, a working equal-split task with a unit test, task.yml,
//! README). Nothing is overwritten: an existing target directory is an error.
//!
//! The project's Cargo.toml names the SDK like a published crate (`gradual-task-sdk =
//! "0.1.0"`), so it holds no path of this machine and builds wherever the SDK can be found.
//! Until the SDK is on crates.io, `.cargo/config.toml` in the project patches it (and
//! `gradual-types`, which the unit test uses) to a checkout: `--sdk-path`, else the checkout
//! this binary was built from if it is still there. That file is the only machine-specific
//! one (it is git-ignored; a copy of the directory elsewhere on this machine builds as is,
//! another machine edits its two paths). The checkout's Cargo.lock is copied too, so the
//! project resolves to the versions already in Cargo's cache and builds `--offline`.

use std::path::{Path, PathBuf};

/// Where the SDK sat when this binary was built; used when it still exists.
const SDK_BUILD_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../task-sdk");
/// The SDK version the project asks for.
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

/// The SDK checkout to build against: `--sdk-path` (checked), else this binary's own if it
/// is still there, else none.
fn sdk_checkout(sdk_path: Option<&Path>) -> Result<Option<PathBuf>, ScaffoldError> {
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
    Ok(path.map(|p| std::fs::canonicalize(&p).unwrap_or(p)))
}

/// A TOML string (basic string, escaped).
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `.cargo/config.toml`: the SDK (and `gradual-types`, a sibling crate of the checkout)
/// patched in from `sdk`.
fn cargo_config(sdk: &Path) -> String {
    let mut s = String::from(
        "# gradual-task-sdk is not on crates.io yet: Cargo takes it (and gradual-types) from a\n\
         # gradual checkout on this machine. On another machine, point these paths at its\n\
         # crates/task-sdk and crates/types (or delete this file once the SDK is published).\n\
         [patch.crates-io]\n",
    );
    s += &format!(
        "gradual-task-sdk = {{ path = {} }}\n",
        toml_str(&sdk.display().to_string())
    );
    let types = sdk.parent().map(|p| p.join("types"));
    if let Some(t) = types.filter(|t| t.join("Cargo.toml").is_file()) {
        s += &format!(
            "gradual-types = {{ path = {} }}\n",
            toml_str(&t.display().to_string())
        );
    }
    s
}

fn cargo_toml(name: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
gradual-task-sdk = "{SDK_VERSION}"
blake3 = "1"

# What the unit test in src/main.rs uses: the SDK's fake node, a key, an async runtime,
# a temporary data directory.
[dev-dependencies]
gradual-task-sdk = {{ version = "{SDK_VERSION}", features = ["test-utils"] }}
gradual-types = "{SDK_VERSION}"
tokio = {{ version = "1", features = ["macros", "rt-multi-thread"] }}
tempfile = "3"

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

#[cfg(test)]
mod tests {{
    use super::*;
    use gradual_task_sdk::testing::{{block, start_task, task_dto, ControlClient, FakeNode}};

    /// Against a fake node (rounds of 10 slots from slot 100, so round 1 is slots
    /// 110..120): the round's proof passes its own audit, a wrong value fails it.
    #[tokio::test]
    async fn proof_passes_its_audit_and_garbage_fails() -> anyhow::Result<()> {{
        let dir = tempfile::tempdir()?;
        let task = gradual_task_sdk::Hash([1; 32]);
        let key = gradual_types::Keypair::from_seed([1; 32]);
        let node = FakeNode::start(task, key, "tok", task_dto(&task, 100, 10, 3, 3)).await?;
        node.with(|s| {{
            s.slot = 121;
            s.blocks = vec![block(110, &[])];
        }});
        let (url, _ctx) = start_task(MyTask, node.env(0, dir.path())).await?;
        let c = ControlClient::new(&url, "tok");
        let proof = c.submission_bytes(1).await?.expect("a proof for round 1");
        assert_eq!(c.verdict(1, &node.node(), &proof).await?, "valid");
        assert_eq!(c.verdict(1, &node.node(), b"not the work").await?, "invalid");
        Ok(())
    }}
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
cargo test                                   # the unit test: a fake node audits the proof
cargo build --release                        # target/release/{name}
gradual devnet --task target/release/{name}   # try it on a local network
gradual task create task.yml                 # deploy: uploads the executable, creates the task
```

`gradual-task-sdk` is not on crates.io yet: `.cargo/config.toml` tells Cargo where a gradual
checkout's `crates/task-sdk` and `crates/types` are on this machine (it is git-ignored; on
another machine, write the paths of its checkout there). `Cargo.lock` pins the versions that
checkout uses, so `cargo build --offline` works once they are in Cargo's cache.

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
    let sdk = sdk_checkout(sdk_path)?;
    let mut files = vec![
        ("Cargo.toml", cargo_toml(name)),
        ("src/main.rs", main_rs(name)),
        ("task.yml", task_yml(name)),
        ("README.md", readme(name)),
        (".gitignore", "/target\n/.cargo/config.toml\n".to_string()),
    ];
    if let Some(sdk) = &sdk {
        files.push((".cargo/config.toml", cargo_config(sdk)));
        // The checkout's lock: the same versions as its own build, already in the cache.
        let lock = sdk.join("../../Cargo.lock");
        if let Ok(text) = std::fs::read_to_string(lock) {
            files.push(("Cargo.lock", text));
        }
    }
    let write_err = |p: &Path, e: std::io::Error| ScaffoldError::Write {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    let mut written = Vec::new();
    for (rel, text) in files {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
        }
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
        // This test runs from the checkout: its SDK is patched in, its lock copied.
        assert_eq!(files.len(), 7, "{files:?}");
        let root = tmp.path().join("my-task");
        let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"my-task\""));
        // No path of this machine in Cargo.toml: the SDK is named like a published crate.
        assert!(!cargo.contains("path ="), "{cargo}");
        assert!(cargo.contains(&format!("gradual-task-sdk = \"{SDK_VERSION}\"")));
        for dev in [
            "features = [\"test-utils\"]",
            "gradual-types",
            "tokio",
            "tempfile",
        ] {
            assert!(cargo.contains(dev), "dev-dependency {dev} missing: {cargo}");
        }
        assert!(cargo.contains("[workspace]"));
        let config = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap();
        let sdk = std::fs::canonicalize(SDK_BUILD_PATH).unwrap();
        assert!(
            config.contains(&format!(
                "gradual-task-sdk = {{ path = {:?} }}",
                sdk.display().to_string()
            )),
            "{config}"
        );
        assert!(config.contains("gradual-types = { path = "), "{config}");
        let ignore = std::fs::read_to_string(root.join(".gitignore")).unwrap();
        assert!(ignore.contains("/.cargo/config.toml"));
        assert!(root.join("Cargo.lock").is_file());
        let main = std::fs::read_to_string(root.join("src/main.rs")).unwrap();
        assert!(main.contains("impl Task for MyTask") && main.contains("gradual_task_sdk::run"));
        assert!(main.contains("#[tokio::test]") && main.contains("FakeNode::start"));
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

    #[test]
    fn an_explicit_sdk_path_is_written_to_the_config_only() {
        let tmp = tempfile::tempdir().unwrap();
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../task-sdk");
        generate(tmp.path(), "p", Some(&sdk)).unwrap();
        let root = tmp.path().join("p");
        let cargo = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(!cargo.contains("path ="), "{cargo}");
        let config = std::fs::read_to_string(root.join(".cargo/config.toml")).unwrap();
        assert!(config.contains("[patch.crates-io]"), "{config}");
        assert_eq!(toml_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
