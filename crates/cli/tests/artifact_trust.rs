//! The node's artifact fetch against a real validator: the operator's own validator on
//! loopback is trusted, a task creator's loopback URL is never called. (An integration test
//! so that the node crate need not depend on the validator.)

use gradual_client::Client;
use gradual_node::artifact::{prepare_artifact, ArtifactFetch};
use gradual_node::outbound::{Outbound, OutboundPolicy};
use gradual_types::{Hash, Instruction, Keypair};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

const EXE: &str = "#!/bin/sh\necho task\n";

fn exe_digest() -> Hash {
    Hash(*blake3::hash(EXE.as_bytes()).as_bytes())
}

/// A loopback server that answers every request with `body` and counts the requests.
async fn serve(body: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            counter.fetch_add(1, AtomicOrdering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes()).await;
        }
    });
    (addr, hits)
}

/// The operator's own validator on loopback stays usable with the default policy, while
/// a task creator's loopback URL is never called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validator_artifact_url_on_loopback_is_trusted() {
    use gradual_types::constants::ROE_PER_KOII;
    use gradual_types::{task_id, Executable, Faucet, Genesis, TaskParams};
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::generate();
    let genesis = Genesis {
        slot_ms: 50,
        faucet: Some(Faucet::new(faucet.pubkey(), 10_000 * ROE_PER_KOII)),
        ..Genesis::default()
    };
    let mut vc = gradual_validator::ValidatorConfig::new(
        dir.path().join("validator"),
        "127.0.0.1:0".parse().unwrap(),
        genesis,
    );
    vc.faucet_keypair = Some(faucet);
    let v = gradual_validator::start(vc).await.unwrap();
    let client = Client::new(&v.url());
    let manager = Keypair::generate();
    client
        .airdrop_and_confirm(&manager.pubkey(), 300 * ROE_PER_KOII)
        .await
        .unwrap();
    client
        .upload_artifact_signed(&manager, EXE.as_bytes().to_vec())
        .await
        .unwrap();
    let (rogue, rogue_hits) = serve(EXE).await;
    let params = TaskParams {
        name: "t".into(),
        executable: Executable {
            digest: exe_digest(),
            urls: vec![format!("http://{rogue}/exe")],
            runtime: "sh".into(),
        },
        bounty_per_round: ROE_PER_KOII,
        round_time: 135,
        submission_window: 15,
        audit_window: 120,
        minimum_stake: ROE_PER_KOII,
        ..TaskParams::default()
    };
    client
        .send_and_confirm(
            &manager,
            Instruction::CreateTask {
                nonce: 1,
                params,
                total_bounty: 100 * ROE_PER_KOII,
            },
        )
        .await
        .unwrap();
    let task = task_id(&manager.pubkey(), 1);
    let fetch = ArtifactFetch {
        untrusted: Outbound::guarded(OutboundPolicy::default()).unwrap(),
        validator: Outbound::trusted().unwrap(),
    };
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let launch = prepare_artifact(&client, &fetch, &task, &cache).await;
    v.shutdown().await.unwrap();
    let launch = launch.unwrap();
    assert_eq!(std::fs::read(&launch.artifact).unwrap(), EXE.as_bytes());
    assert_eq!(rogue_hits.load(AtomicOrdering::SeqCst), 0);
}
