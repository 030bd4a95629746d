//! Issue #4 acceptance, part 1: a devnet of 5 real `gradual node` processes (one submitting
//! garbage proofs) over loopback sockets, fast slots, at least 6 settled rounds: every
//! honest node is paid for every settled round, the cheater's proofs are upheld invalid and
//! it is slashed, no node is wrongly slashed, supply is conserved, and no proof is sent twice.

use gradual_devnet::{render_summary, Devnet, DevnetConfig, TaskChoice};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_gradual");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_pays_honest_nodes_and_slashes_the_cheater() {
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
    net.stop_nodes().await;
    let summary = net.summary().await.expect("summary");
    let proofs = net.proof_submissions().await.expect("blocks");
    net.shutdown().await;
    println!("{}", render_summary(&net, &summary));
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
}
