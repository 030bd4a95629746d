//! The SDK end to end, in process: a task served by `gradual_task_sdk::serve` on an ephemeral
//! port, a fake node-service (`testing::FakeNode`), and the node's control calls. Covers every
//! control call, auth rejection, bad bodies, error mapping, the adversary switch, and every
//! `Context` service call.

use gradual_task_sdk::axum::routing::get;
use gradual_task_sdk::axum::Router;
use gradual_task_sdk::protocol::{self, PeerInfo};
use gradual_task_sdk::testing::{block, start_task, task_dto, ControlClient, FakeNode};
use gradual_task_sdk::{
    anyhow, equal_split, Adversary, Context, Hash, Pubkey, Task, TaskEnv, Verdict,
};
use gradual_types::Keypair;
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "secret-token";

struct TestTask;

fn expected_proof(node: &Pubkey, round: u64) -> Vec<u8> {
    let mut v = node.0.to_vec();
    v.extend_from_slice(&round.to_le_bytes());
    v
}

impl Task for TestTask {
    async fn task(&self, ctx: &Context, round: u64) -> anyhow::Result<()> {
        ctx.kv_put(&format!("ran/{round}"), b"yes").await?;
        Ok(())
    }

    async fn submission(&self, ctx: &Context, round: u64) -> anyhow::Result<Option<Vec<u8>>> {
        match round {
            0 => Ok(None),
            13 => anyhow::bail!("round 13 is unlucky"),
            14 => Ok(Some(vec![0; 600])),
            _ => Ok(Some(expected_proof(&ctx.node(), round))),
        }
    }

    async fn audit(
        &self,
        _ctx: &Context,
        round: u64,
        candidate: Pubkey,
        value: Vec<u8>,
    ) -> anyhow::Result<Verdict> {
        if round == 99 {
            anyhow::bail!("peer unreachable");
        }
        Ok(if value == expected_proof(&candidate, round) {
            Verdict::Valid
        } else {
            Verdict::Invalid
        })
    }

    fn routes(self: Arc<Self>, ctx: Context) -> Router {
        Router::new().route("/hello", get(|| async { "hi" })).route(
            "/services",
            get(move || {
                let ctx = ctx.clone();
                async move {
                    match services(&ctx).await {
                        Ok(v) => v.to_string(),
                        Err(e) => format!("FAILED: {e:#}"),
                    }
                }
            }),
        )
    }
}

/// Every Context service, checked; returns a summary.
async fn services(ctx: &Context) -> anyhow::Result<serde_json::Value> {
    let info = ctx.info().await?;
    anyhow::ensure!(info.node == ctx.node().to_base58(), "info.node");
    anyhow::ensure!(info.task == ctx.task_id().to_base58(), "info.task");
    let slot = ctx.slot().await?;
    anyhow::ensure!(slot.slot == 125 && slot.round == 2, "slot {slot:?}");

    anyhow::ensure!(ctx.kv_get("a key/ü").await?.is_none(), "kv empty");
    ctx.kv_put("a key/ü", b"\x00\x01bytes").await?;
    anyhow::ensure!(
        ctx.kv_get("a key/ü").await? == Some(b"\x00\x01bytes".to_vec()),
        "kv get"
    );
    ctx.kv_delete("a key/ü").await?;
    anyhow::ensure!(ctx.kv_get("a key/ü").await?.is_none(), "kv delete");
    anyhow::ensure!(
        ctx.kv_put(&"k".repeat(257), b"x").await.is_err(),
        "long key"
    );

    let signed = ctx.sign(b"message").await?;
    anyhow::ensure!(signed.signer == ctx.node(), "signer");
    anyhow::ensure!(
        protocol::verify_task_signature(
            &ctx.task_id(),
            &signed.signer,
            b"message",
            &signed.signature
        ),
        "signature"
    );

    let account = ctx.task_account().await?;
    anyhow::ensure!(account.params.round_time == 10, "task account");
    let clock = ctx.clock().await?;
    anyhow::ensure!(clock.start(2) == 120, "clock");
    anyhow::ensure!(ctx.round_slots(1).await? == (110..120), "round slots");

    let round = ctx.round_info(1).await?;
    anyhow::ensure!(round.round == 1, "round info");
    anyhow::ensure!(
        ctx.round_info(7).await.is_err(),
        "missing round is an error"
    );

    let blocks = ctx.blocks(110, 2).await?;
    anyhow::ensure!(
        blocks.iter().map(|b| b.slot).collect::<Vec<_>>() == [110, 112],
        "blocks"
    );
    anyhow::ensure!(
        blocks[0].transactions.as_ref().map(|t| t.len()) == Some(1),
        "txs"
    );
    anyhow::ensure!(ctx.blocks(0, 0).await.is_err(), "limit 0");
    let range = ctx.blocks_in(110..120).await?;
    anyhow::ensure!(range.len() == 3, "blocks_in {}", range.len());
    anyhow::ensure!(ctx.blocks_in(120..130).await.is_err(), "unfinished range");

    let peers = ctx.peers().await?;
    anyhow::ensure!(peers.len() == 1 && peers[0].stake == 7, "peers");
    let me = ctx.node();
    let hello = ctx.peer_get(&me, "/hello").await?;
    anyhow::ensure!(
        hello.status == 200 && hello.body == b"hi",
        "peer_get {hello:?}"
    );
    let missing = ctx.peer_get(&me, "nope").await?;
    anyhow::ensure!(missing.status == 404, "peer 404");
    let stranger = Keypair::from_seed([77; 32]).pubkey();
    anyhow::ensure!(
        ctx.peer_get(&stranger, "hello").await.is_err(),
        "unreachable peer"
    );

    let digest = Hash([8; 32]);
    let ts = ctx.timestamp(&digest, 124).await?;
    anyhow::ensure!(
        ts.received_slot == 124 && ts.sent_slot == 125,
        "timestamp slots"
    );
    ts.verify(&ctx.task_id(), &me, 120..130)?;

    Ok(serde_json::json!({"ok": true, "blocks": range.len()}))
}

async fn fake_node(seed: u8) -> FakeNode {
    let task = Hash([3; 32]);
    let n = FakeNode::start(
        task,
        Keypair::from_seed([seed; 32]),
        TOKEN,
        task_dto(&task, 100, 10, 3, 3),
    )
    .await
    .unwrap();
    n.with(|s| {
        s.slot = 125;
        s.blocks = vec![
            block(110, &[("s1", "a", "Stake")]),
            block(112, &[]),
            block(119, &[("s2", "b", "SubmitProof")]),
            block(121, &[]),
        ];
        s.rounds.insert(
            1,
            gradual_task_sdk::dto::SubmissionInfoDto {
                task,
                round: 1,
                status: gradual_task_sdk::dto::RoundStatusDto::Reviewing,
                submissions: vec![],
                audits: vec![],
                next: None,
            },
        );
    });
    n
}

async fn started(adversary: Option<Adversary>) -> (FakeNode, String, tempfile::TempDir) {
    let node = fake_node(1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = node.env(0, dir.path());
    env.adversary = adversary;
    let (url, _ctx) = start_task(TestTask, env).await.unwrap();
    let me = node.node().to_base58();
    node.with(|s| {
        s.peers = vec![PeerInfo {
            node: me.clone(),
            url: "http://peer".into(),
            stake: 7,
        }];
        s.peer_routes.insert(me, url.clone());
    });
    (node, url, dir)
}

#[tokio::test]
async fn control_calls_auth_and_errors() {
    let (node, url, _dir) = started(None).await;
    let c = ControlClient::new(&url, TOKEN);
    let me = node.node();

    // health, and auth on every control call
    assert_eq!(
        c.health().await.unwrap(),
        (200, serde_json::json!({"ok": true}))
    );
    let wrong = ControlClient::new(&url, "not-the-token");
    let (status, body) = wrong.health().await.unwrap();
    assert_eq!(status, 401);
    assert!(
        body["error"].as_str().unwrap().contains("bearer token"),
        "{body}"
    );
    assert_eq!(wrong.task(1).await.unwrap().0, 401);
    assert_eq!(wrong.submission(1).await.unwrap().0, 401);
    assert_eq!(wrong.audit(1, &me, b"x").await.unwrap().0, 401);
    assert_eq!(wrong.distribution(1, &[me], 10).await.unwrap().0, 401);
    let anon = reqwest::get(format!("{url}{}", protocol::paths::HEALTH))
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    // task: answered at once, runs in the background
    assert_eq!(c.task(5).await.unwrap(), (200, serde_json::json!({})));
    let mut ran = false;
    for _ in 0..100 {
        if node.with(|s| s.kv.contains_key("ran/5")) {
            ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ran, "task(5) did not run");

    // submission: value, null, task error -> 500, oversized -> 500
    let v = c.submission_bytes(4).await.unwrap().unwrap();
    assert_eq!(v, expected_proof(&me, 4));
    assert_eq!(
        c.submission(0).await.unwrap(),
        (200, serde_json::json!({"value": null}))
    );
    let (status, body) = c.submission(13).await.unwrap();
    assert_eq!(status, 500);
    assert!(
        body["error"].as_str().unwrap().contains("unlucky"),
        "{body}"
    );
    let (status, body) = c.submission(14).await.unwrap();
    assert_eq!(status, 500);
    assert!(body["error"].as_str().unwrap().contains("512"), "{body}");

    // audit: valid, invalid, task error -> abstain, bad candidate -> 400
    let other = Keypair::from_seed([9; 32]).pubkey();
    assert_eq!(
        c.verdict(4, &other, &expected_proof(&other, 4))
            .await
            .unwrap(),
        "valid"
    );
    assert_eq!(
        c.verdict(4, &other, &expected_proof(&me, 4)).await.unwrap(),
        "invalid"
    );
    assert_eq!(c.verdict(99, &other, b"x").await.unwrap(), "abstain");
    let http = reqwest::Client::new();
    let bad = http
        .post(format!("{url}{}", protocol::paths::AUDIT))
        .header("authorization", protocol::bearer(TOKEN))
        .body(r#"{"round": 1, "candidate": "not-base58!", "value": ""}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("candidate"));
    let bad = http
        .post(format!("{url}{}", protocol::paths::SUBMISSION))
        .header("authorization", protocol::bearer(TOKEN))
        .body("{\"round\": \"seven\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("task-protocol.md"));

    // distribution: the default equal split, sorted; bad submitter -> 400
    let subs = [other, me, Keypair::from_seed([4; 32]).pubkey()];
    let (status, body) = c.distribution(4, &subs, 1000).await.unwrap();
    assert_eq!(status, 200);
    let got: protocol::DistributionResponse = serde_json::from_value(body).unwrap();
    assert_eq!(got.parse().unwrap(), equal_split(&subs, 1000));
    let bad = http
        .post(format!("{url}{}", protocol::paths::DISTRIBUTION))
        .header("authorization", protocol::bearer(TOKEN))
        .body(r#"{"round": 1, "submitters": ["xyz"], "bounty": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("submitters[0]"));

    // the task's own routes need no token
    let hello = reqwest::get(format!("{url}/hello")).await.unwrap();
    assert_eq!(hello.text().await.unwrap(), "hi");
}

#[tokio::test]
async fn every_context_service() {
    let (node, url, _dir) = started(None).await;
    let out = reqwest::get(format!("{url}/services"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(out, r#"{"blocks":3,"ok":true}"#, "{out}");
    let calls = node.with(|s| s.calls.clone());
    for path in [
        "GET /node/v1/info",
        "GET /node/v1/slot",
        "PUT /node/v1/kv/a%20key%2F%C3%BC",
        "DELETE /node/v1/kv/a%20key%2F%C3%BC",
        "POST /node/v1/sign",
        "GET /node/v1/task",
        "GET /node/v1/round/1",
        "GET /node/v1/blocks",
        "GET /node/v1/peers",
    ] {
        assert!(calls.iter().any(|c| c == path), "no {path} in {calls:?}");
    }
    assert!(calls.iter().any(|c| c.starts_with("GET /node/v1/peer/")));
}

#[tokio::test]
async fn service_calls_with_a_wrong_token_fail_clearly() {
    let node = fake_node(1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = node.env(0, dir.path());
    env.token = "wrong".into();
    let ctx = Context::new(env).unwrap();
    let e = ctx.slot().await.unwrap_err().to_string();
    assert!(e.contains("401") && e.contains("bearer"), "{e}");
}

#[tokio::test]
async fn adversary_switch() {
    let other = Keypair::from_seed([9; 32]).pubkey();

    let (node, url, _d) = started(Some(Adversary::Garbage)).await;
    let c = ControlClient::new(&url, TOKEN);
    let v = c.submission_bytes(4).await.unwrap().unwrap();
    assert_ne!(v, expected_proof(&node.node(), 4));
    assert_eq!(v.len(), 32);

    let (_node, url, _d) = started(Some(Adversary::FalseAccuser)).await;
    let c = ControlClient::new(&url, TOKEN);
    assert_eq!(
        c.verdict(4, &other, &expected_proof(&other, 4))
            .await
            .unwrap(),
        "invalid"
    );

    let (node, url, _d) = started(Some(Adversary::BadDistribution)).await;
    let c = ControlClient::new(&url, TOKEN);
    let me = node.node();
    let (_, body) = c.distribution(4, &[other, me], 1000).await.unwrap();
    let got: protocol::DistributionResponse = serde_json::from_value(body).unwrap();
    let list = got.parse().unwrap();
    assert_eq!(list.iter().find(|(n, _)| *n == me).unwrap().1, 750);
    assert_eq!(list.iter().map(|(_, r)| r).sum::<u64>(), 1000);

    let (_node, url, _d) = started(Some(Adversary::Offline)).await;
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = quick
        .post(format!("{url}{}", protocol::paths::SUBMISSION))
        .header("authorization", protocol::bearer(TOKEN))
        .body(r#"{"round": 4}"#)
        .send()
        .await;
    assert!(r.is_err_and(|e| e.is_timeout()), "offline must not answer");
    // ... but stays healthy, so the node does not restart it.
    assert_eq!(
        ControlClient::new(&url, TOKEN).health().await.unwrap().0,
        200
    );
}

#[test]
fn env_errors_name_the_variable_and_the_fix() {
    let full = |k: &str| -> Option<String> {
        Some(match k {
            "GRADUAL_TASK_ID" => Hash([1; 32]).to_base58(),
            "GRADUAL_NODE_PUBKEY" => Keypair::from_seed([1; 32]).pubkey().to_base58(),
            "GRADUAL_TASK_PORT" => "4000".into(),
            "GRADUAL_NODE_URL" => "http://127.0.0.1:8100/".into(),
            "GRADUAL_TASK_TOKEN" => "t".into(),
            "GRADUAL_DATA_DIR" => "/tmp/x".into(),
            _ => return None,
        })
    };
    let env = TaskEnv::from_lookup(full).unwrap();
    assert_eq!(env.node_url, "http://127.0.0.1:8100");
    assert_eq!(env.adversary, None);

    let e = TaskEnv::from_lookup(|k| {
        if k == "GRADUAL_TASK_TOKEN" {
            None
        } else {
            full(k)
        }
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("GRADUAL_TASK_TOKEN is not set") && e.contains("gradual node"),
        "{e}"
    );
    let e = TaskEnv::from_lookup(|k| {
        if k == "GRADUAL_TASK_PORT" {
            Some("0".into())
        } else {
            full(k)
        }
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("GRADUAL_TASK_PORT='0'") && e.contains("1-65535"),
        "{e}"
    );
    let e = TaskEnv::from_lookup(|k| {
        if k == "GRADUAL_ADVERSARY" {
            Some("evil".into())
        } else {
            full(k)
        }
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("false-accuser"), "{e}");
    let env = TaskEnv::from_lookup(|k| {
        if k == "GRADUAL_ADVERSARY" {
            Some("offline".into())
        } else {
            full(k)
        }
    })
    .unwrap();
    assert_eq!(env.adversary, Some(Adversary::Offline));
}
