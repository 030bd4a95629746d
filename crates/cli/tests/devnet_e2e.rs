//! Issue #4 acceptance, part 1: a devnet of 5 real `gradual node` processes (one submitting
//! garbage proofs) over loopback sockets, fast slots, at least 6 settled rounds: every
//! honest node is paid for every settled round, the cheater's proofs are upheld invalid and
//! it is slashed, no node is wrongly slashed, supply is conserved, and no proof is sent twice.

//!
//! Issue #12: the final table explains every number (slashes, restakes, shares, bounty), the
//! nodes share one copy of the task executable, `--base-port` fixes the ports and a passing
//! run removes its temporary directory.

use gradual_devnet::{render_summary, Devnet, DevnetConfig, TaskChoice};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gradual");

/// The two devnets of this file run one after the other (2 cores are not enough for both).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_pays_honest_nodes_and_slashes_the_cheater() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    // A root node runs each task as its own user, which must be able to reach its files.
    let traversable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o711);
    std::fs::set_permissions(dir.path(), traversable).unwrap();
    let mut cfg = DevnetConfig::new(dir.path().join("net"), BIN.into());
    // v2 vote window: at 40 ms slots V = 75 slots, so the audit window needs 150 (6 s);
    // 175-slot rounds (7 s) leave 21 slots for proofs.
    cfg.set_timing(40, 175);
    cfg.task = TaskChoice::Builtin;
    cfg.adversary = Some("garbage".into());
    let mut net = Devnet::start(cfg).await.expect("devnet starts");
    let started = Instant::now();
    while net.settled() < 6 {
        assert!(
            started.elapsed() < Duration::from_secs(160),
            "only {} rounds settled in 160 s; logs in {:?}",
            net.settled(),
            dir.keep()
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
        let _ = net.poll().await;
        for i in 0..net.nodes.len() {
            assert!(net.node_alive(i), "node {} exited; see its node.log", i + 1);
        }
    }
    // Issue #10: task processes are confined by default, and each node says how.
    let http = reqwest::Client::new();
    for node in &net.nodes {
        let info: serde_json::Value = http
            .get(format!("{}/info", node.url()))
            .send()
            .await
            .expect("node answers /info")
            .json()
            .await
            .expect("/info is JSON");
        let c = &info["confinement"];
        assert_eq!(c["enabled"], true, "{info}");
        assert_eq!(c["filesystem"], true, "landlock on this kernel: {info}");
    }
    // Issue #12: one copy of the executable; every node used it (a node that fetched its
    // own would have replaced the link with a new file).
    let shared = std::fs::metadata(&net.shared_artifact).expect("shared artifact");
    assert!(shared.len() > 0);
    let name = net.shared_artifact.file_name().unwrap().to_owned();
    for node in &net.nodes {
        let cached = node.dir.join("data").join("artifacts").join(&name);
        let m = std::fs::metadata(&cached).expect("the node's cached executable");
        assert_eq!(
            (m.dev(), m.ino()),
            (shared.dev(), shared.ino()),
            "{} is not the shared copy",
            cached.display()
        );
    }
    net.stop_nodes().await;
    let summary = net.summary().await.expect("summary");
    let proofs = net.proof_submissions().await.expect("blocks");
    net.shutdown().await;
    let text = render_summary(&net, &summary);
    println!("{text}");
    for word in [
        "restaked", "slashed", "accuser", "voter", "legend", "bounty:",
    ] {
        assert!(text.contains(word), "no '{word}' in the summary");
    }
    assert!(summary.ok, "{:#?}", summary.failures);
    assert!(summary.settled_rounds >= 6);
    assert!(
        summary.adversary_slashes >= 1,
        "the garbage node was never slashed"
    );
    assert!(summary.supply_conserved);
    let cheater = net.nodes.last().unwrap().pubkey().to_base58();
    let caught = summary
        .rounds
        .iter()
        .filter(|r| r.upheld.contains(&cheater))
        .count();
    assert!(caught >= 1, "no upheld audit against the cheater");
    for ((node, round), n) in proofs {
        assert_eq!(n, 1, "node {node} submitted round {round} {n} times");
    }
    // Every node's numbers add up: balance = airdrop - staked + claimed.
    for n in &summary.nodes {
        assert!(n.accounts_add_up(net.stake_roe), "node{}: {n:#?}", n.index);
    }
    // The cheater's slashes: the verdict counts the settled ones, the table all of them.
    let c = summary.nodes.last().unwrap();
    assert!(c.slashes >= 1 && c.slashed_roe > 0, "{c:#?}");
    assert_eq!(c.slashes - c.slashes_unsettled, summary.adversary_slashes);
    assert_eq!(c.slashes_unsettled, summary.adversary_slashes_unsettled);
    for n in &summary.nodes[..summary.nodes.len() - 1] {
        assert_eq!(
            (n.slashes, n.slashed_roe, n.restaked_roe),
            (0, 0, 0),
            "{n:#?}"
        );
    }
    // Where the slashed ROE went, and the bounty's movements.
    assert_eq!(
        summary.slashed_roe,
        summary.accuser_shares_roe + summary.voter_shares_roe + summary.burned_roe
    );
    assert!(summary.accuser_shares_roe > 0, "the accuser got nothing");
    let shares: u64 = (summary.nodes.iter())
        .map(|n| n.accuser_shares_roe + n.voter_shares_roe)
        .sum();
    assert_eq!(
        shares,
        summary.accuser_shares_roe + summary.voter_shares_roe
    );
    assert_eq!(
        summary.bounty_funded_roe,
        summary.bounty_paid_roe + summary.bounty_left_roe
    );
    let rewards: u64 = summary.nodes.iter().map(|n| n.rewards_roe).sum();
    assert_eq!(rewards, summary.bounty_paid_roe);
}

/// `gradual devnet` as a user runs it: fixed ports, the legend under the table, and the
/// temporary directory gone after a passing run (kept, and named, with `--keep`).
#[test]
fn devnet_command_uses_the_base_port_and_cleans_up() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    let tmp = tempfile::tempdir().unwrap();
    let traversable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o711);
    std::fs::set_permissions(tmp.path(), traversable).unwrap();
    // Six free ports in a row.
    let free_from = |from: u16| {
        (from..60_000u16)
            .step_by(97)
            .find(|b| (0..6).all(|i| std::net::TcpListener::bind(("127.0.0.1", b + i)).is_ok()))
            .expect("free ports")
    };
    let base = free_from(20_000);
    let run = |keep: bool, base: u16| {
        let mut cmd = std::process::Command::new(BIN);
        cmd.args([
            "devnet", "--rounds", "2", "--task", "builtin", "--nodes", "5",
        ])
        .args(["--slot-ms", "40", "--round-time", "175"])
        .args(["--base-port", &base.to_string()])
        .env("TMPDIR", tmp.path());
        if keep {
            cmd.arg("--keep");
        }
        let out = cmd.output().expect("gradual devnet runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        );
        assert!(out.status.success(), "{stdout}\n{stderr}");
        (stdout, stderr)
    };
    let (stdout, stderr) = run(false, base);
    assert!(
        stderr.contains(&format!("validator http://127.0.0.1:{base} ")),
        "{stderr}"
    );
    assert!(stdout.contains("legend (amounts in KOII)"), "{stdout}");
    assert!(stderr.contains("removed "), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let (_, stderr) = run(true, free_from(base + 6));
    let kept: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    let kept = kept[0].path();
    assert!(
        stderr.contains(&format!("kept {}", kept.display())),
        "{stderr}"
    );
    // One copy of the executable per devnet: the nodes' caches link to it.
    let links = std::fs::read_dir(kept.join("node-1/data/artifacts"))
        .unwrap()
        .flatten()
        .map(|e| e.metadata().unwrap().nlink())
        .max();
    assert!(links >= Some(6), "the executable is not shared: {links:?}");
}
