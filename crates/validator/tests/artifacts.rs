//! The artifact store takes only signed uploads from funded accounts (or digests a task
//! names), within per-uploader and total quotas, and collects what no task names; the
//! faucet works on a chain with a fee (issue #9).

use gradual_client::Client;
use gradual_types::artifact::headers as h;
use gradual_types::{
    ArtifactUpload, Executable, Faucet, Genesis, Hash, Instruction, Keypair, TaskParams,
};
use gradual_validator::artifacts::ArtifactLimits;
use gradual_validator::{start, ValidatorConfig};
use std::path::Path;
use std::time::Duration;

fn config(dir: &Path, faucet: &Keypair, fee: u64, limits: ArtifactLimits) -> ValidatorConfig {
    let genesis = Genesis {
        chain_id: "artifact-test".into(),
        slot_ms: 10,
        fee_roe: fee,
        tx_max_age_slots: 50,
        faucet: Some(Faucet::new(faucet.pubkey(), 1_000_000_000)),
        ..Genesis::default()
    };
    let mut c = ValidatorConfig::new(dir.to_path_buf(), "127.0.0.1:0".parse().unwrap(), genesis);
    c.faucet_keypair = Some(faucet.clone());
    c.artifact_limits = limits;
    c
}

fn digest(bytes: &[u8]) -> Hash {
    Hash(*blake3::hash(bytes).as_bytes())
}

/// `PUT /artifacts/<digest of body>`, signed by `signer` at `recent_slot` when given.
async fn put(url: &str, body: Vec<u8>, signer: Option<(&Keypair, u64)>) -> (u16, String) {
    let d = digest(&body);
    let mut req = reqwest::Client::new().put(format!("{url}/artifacts/{d}"));
    if let Some((kp, recent_slot)) = signer {
        let up = ArtifactUpload {
            chain_id: "artifact-test".into(),
            digest: d,
            size: body.len() as u64,
            recent_slot,
            uploader: kp.pubkey(),
        };
        req = req
            .header(h::UPLOADER, kp.pubkey().to_base58())
            .header(h::RECENT_SLOT, recent_slot.to_string())
            .header(h::SIGNATURE, up.sign(kp).to_base58());
    }
    let r = req.body(body).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn exists(url: &str, d: Hash) -> bool {
    let r = reqwest::get(format!("{url}/artifacts/{d}")).await.unwrap();
    r.status().as_u16() == 200
}

fn task_naming(d: Hash, nonce: u64) -> Instruction {
    Instruction::CreateTask {
        nonce,
        params: TaskParams {
            name: "art".into(),
            bounty_per_round: 1_000,
            round_time: 1_000,
            submission_window: 100,
            audit_window: 600,
            minimum_stake: 100,
            executable: Executable {
                digest: d,
                urls: Vec::new(),
                runtime: "python3".into(),
            },
            ..TaskParams::default()
        },
        total_bounty: 10_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_artifact_upload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let v = start(config(dir.path(), &faucet, 0, ArtifactLimits::default()))
        .await
        .unwrap();
    let url = v.url();
    let c = Client::new(&url);
    let uploader = Keypair::from_seed([4; 32]);
    let body = b"print('task')".to_vec();
    let d = digest(&body);

    // Unsigned: refused, nothing stored.
    let (status, msg) = put(&url, body.clone(), None).await;
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("must be signed"), "{msg}");
    // Signed by an account holding nothing.
    let slot = c.get_slot().await.unwrap();
    let (status, msg) = put(&url, body.clone(), Some((&uploader, slot))).await;
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("needs at least 1000000 ROE"), "{msg}");
    c.airdrop_and_confirm(&uploader.pubkey(), 1_000_000)
        .await
        .unwrap();
    // A signature by another key, a stale slot, a future slot, half the headers: refused.
    let other = Keypair::from_seed([5; 32]);
    let mut forged = reqwest::Client::new()
        .put(format!("{url}/artifacts/{d}"))
        .header(h::UPLOADER, uploader.pubkey().to_base58());
    let slot = c.get_slot().await.unwrap();
    let up = ArtifactUpload {
        chain_id: "artifact-test".into(),
        digest: d,
        size: body.len() as u64,
        recent_slot: slot,
        uploader: uploader.pubkey(),
    };
    forged = forged
        .header(h::RECENT_SLOT, slot.to_string())
        .header(h::SIGNATURE, up.sign(&other).to_base58());
    let r = forged.body(body.clone()).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.text().await.unwrap().contains("does not verify"));
    c.wait_for_slot(slot + 60, 10_000).await.unwrap();
    let (status, msg) = put(&url, body.clone(), Some((&uploader, slot))).await;
    assert_eq!(status, 401, "{msg}");
    assert!(msg.contains("sign it again"), "{msg}");
    let (status, _) = put(&url, body.clone(), Some((&uploader, u64::MAX))).await;
    assert_eq!(status, 401);
    let r = reqwest::Client::new()
        .put(format!("{url}/artifacts/{d}"))
        .header(h::UPLOADER, uploader.pubkey().to_base58())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = reqwest::Client::new()
        .put(format!("{url}/artifacts/{d}"))
        .header(h::UPLOADER, "1".repeat(5_000))
        .header(h::RECENT_SLOT, "1")
        .header(h::SIGNATURE, "1")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("the most is 100"));
    assert!(!exists(&url, d).await, "nothing stored by refused uploads");

    // Signed by the funded account: stored, through the client too.
    let art = c
        .upload_artifact_signed(&uploader, body.clone())
        .await
        .unwrap();
    assert_eq!(art.digest, d);
    assert!(exists(&url, d).await);

    // Unsigned is fine for a digest a task already names (re-seeding its executable).
    let named = b"named by a task".to_vec();
    let nd = digest(&named);
    let manager = Keypair::from_seed([6; 32]);
    c.airdrop_and_confirm(&manager.pubkey(), 100_000)
        .await
        .unwrap();
    c.send_and_confirm(&manager, task_naming(nd, 1))
        .await
        .unwrap();
    let (status, msg) = put(&url, named, None).await;
    assert_eq!(status, 200, "{msg}");
    assert!(exists(&url, nd).await);
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_uploads_stop_at_the_quota() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let limits = ArtifactLimits {
        uploader_quota_bytes: 100,
        total_quota_bytes: 150,
        ..ArtifactLimits::default()
    };
    let cfg = config(dir.path(), &faucet, 0, limits);
    let v = start(cfg.clone()).await.unwrap();
    let url = v.url();
    let c = Client::new(&url);
    let (a, b) = (Keypair::from_seed([7; 32]), Keypair::from_seed([8; 32]));
    for k in [&a, &b] {
        c.airdrop_and_confirm(&k.pubkey(), 1_000_000).await.unwrap();
    }
    let slot = c.get_slot().await.unwrap();
    assert_eq!(put(&url, vec![1; 60], Some((&a, slot))).await.0, 200);
    let (status, msg) = put(&url, vec![2; 50], Some((&a, slot))).await;
    assert_eq!(status, 403, "{msg}");
    assert!(msg.contains("quota of 100 bytes"), "{msg}");
    assert_eq!(put(&url, vec![3; 40], Some((&a, slot))).await.0, 200);
    // The same bytes again cost nothing.
    assert_eq!(put(&url, vec![3; 40], Some((&a, slot))).await.0, 200);
    // Another uploader runs into the total.
    let (status, msg) = put(&url, vec![4; 60], Some((&b, slot))).await;
    assert_eq!(status, 507, "{msg}");
    assert!(msg.contains("total of 150 bytes"), "{msg}");
    assert!(!exists(&url, digest(&[4; 60])).await);
    assert_eq!(put(&url, vec![5; 50], Some((&b, slot))).await.0, 200);
    v.shutdown().await.unwrap();

    // The quotas survive a restart.
    let v = start(cfg).await.unwrap();
    let url = v.url();
    let slot = Client::new(&url).get_slot().await.unwrap();
    let (status, msg) = put(&url, vec![6; 1], Some((&a, slot))).await;
    assert_eq!(status, 403, "{msg}");
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreferenced_artifacts_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let limits = ArtifactLimits {
        uploader_quota_bytes: 100,
        gc_grace: Duration::from_millis(300),
        gc_interval: Duration::from_millis(50),
        ..ArtifactLimits::default()
    };
    let v = start(config(dir.path(), &faucet, 0, limits)).await.unwrap();
    let url = v.url();
    let c = Client::new(&url);
    let a = Keypair::from_seed([7; 32]);
    c.airdrop_and_confirm(&a.pubkey(), 2_000_000).await.unwrap();
    let (unused, used) = (vec![1u8; 60], vec![2u8; 40]);
    let slot = c.get_slot().await.unwrap();
    assert_eq!(put(&url, unused.clone(), Some((&a, slot))).await.0, 200);
    assert_eq!(put(&url, used.clone(), Some((&a, slot))).await.0, 200);
    c.send_and_confirm(&a, task_naming(digest(&used), 1))
        .await
        .unwrap();
    let files = dir.path().join("artifacts");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while exists(&url, digest(&unused)).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the unused artifact was never collected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!files.join(digest(&unused).to_base58()).exists());
    assert!(!files.join(format!("{}.uploader", digest(&unused))).exists());
    // The artifact a task names stays, and the collected one's quota is free again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(exists(&url, digest(&used)).await);
    let slot = c.get_slot().await.unwrap();
    let (status, msg) = put(&url, vec![3u8; 60], Some((&a, slot))).await;
    assert_eq!(status, 200, "{msg}");
    v.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airdrops_work_on_a_chain_with_a_fee() {
    let dir = tempfile::tempdir().unwrap();
    let faucet = Keypair::from_seed([3; 32]);
    let fee = 500_000;
    let v = start(config(dir.path(), &faucet, fee, ArtifactLimits::default()))
        .await
        .unwrap();
    let c = Client::new(&v.url());
    let to = Keypair::from_seed([9; 32]);
    c.airdrop_and_confirm(&to.pubkey(), 2_000_000)
        .await
        .unwrap();
    assert_eq!(c.get_balance(&to.pubkey()).await.unwrap(), 2_000_000);
    assert_eq!(c.get_balance(&faucet.pubkey()).await.unwrap(), 0);
    // The recipient's window (1e9 ROE per 150 slots by default) is checked at the door.
    let e = c
        .request_airdrop(&to.pubkey(), 999_000_000)
        .await
        .unwrap_err();
    let msg = e.rpc_error().expect("refused at the door").message.clone();
    assert!(msg.contains("already received 0.002 KOII"), "{msg}");
    // The recipient can pay fees with it, and upload an artifact (fee ≥ the minimum).
    c.send_and_confirm(
        &to,
        Instruction::Transfer {
            to: faucet.pubkey(),
            amount: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        c.get_balance(&to.pubkey()).await.unwrap(),
        2_000_000 - 1 - fee
    );
    c.upload_artifact_signed(&to, b"exe".to_vec())
        .await
        .unwrap();
    v.shutdown().await.unwrap();
}
