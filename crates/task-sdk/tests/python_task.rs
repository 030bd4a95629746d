//! The protocol is language-neutral: `examples/python-task/task.py` (standard library only,
//! no SDK) started as a child process with the node's environment, against the fake
//! node-service, answering every control call. Skipped when `python3` is missing.

use gradual_task_sdk::protocol;
use gradual_task_sdk::testing::{block, task_dto, ControlClient, FakeNode};
use gradual_task_sdk::Hash;
use gradual_types::Keypair;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const TOKEN: &str = "py-token";

/// Kills the child it holds (only that process) when dropped.
struct Task(Child);
impl Drop for Task {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> Option<&'static str> {
    Command::new("python3")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "python3")
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/python-task/task.py")
}

async fn start(node: &FakeNode, dir: &std::path::Path, adversary: &str) -> (Task, ControlClient) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = node.env(port, dir);
    let child = Command::new("python3")
        .arg(script())
        .env(protocol::env::TASK_ID, env.task_id.to_base58())
        .env(protocol::env::NODE_PUBKEY, env.node.to_base58())
        .env(protocol::env::TASK_PORT, port.to_string())
        .env(protocol::env::NODE_URL, &env.node_url)
        .env(protocol::env::TASK_TOKEN, TOKEN)
        .env(protocol::env::DATA_DIR, dir)
        .env(protocol::env::ADVERSARY, adversary)
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 starts");
    let task = Task(child);
    let c = ControlClient::new(&format!("http://127.0.0.1:{port}"), TOKEN);
    for _ in 0..100 {
        if matches!(c.health().await, Ok((200, _))) {
            return (task, c);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the python task did not answer health within 5 s");
}

async fn node(seed: u8) -> FakeNode {
    let task = Hash([7; 32]);
    let n = FakeNode::start(
        task,
        Keypair::from_seed([seed; 32]),
        TOKEN,
        task_dto(&task, 100, 10, 3, 3),
    )
    .await
    .unwrap();
    n.with(|s| {
        s.slot = 121;
        s.blocks = vec![block(110, &[]), block(113, &[]), block(120, &[])];
    });
    n
}

#[tokio::test]
async fn python_task_speaks_the_protocol() {
    if python().is_none() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let (a, b) = (node(1).await, node(2).await);
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_ta, ca) = start(&a, da.path(), "").await;
    let (_tb, cb) = start(&b, db.path(), "").await;

    // auth
    let wrong = ControlClient::new(&ca.url, "nope");
    assert_eq!(wrong.health().await.unwrap().0, 401);
    assert_eq!(wrong.submission(1).await.unwrap().0, 401);

    // task, submission, audit
    assert_eq!(ca.task(1).await.unwrap(), (200, serde_json::json!({})));
    let pa = ca.submission_bytes(1).await.unwrap().expect("a proof");
    let pb = cb.submission_bytes(1).await.unwrap().expect("a proof");
    assert_eq!(pa.len(), 32);
    assert_ne!(pa, pb, "bound to the node");
    assert_eq!(cb.verdict(1, &a.node(), &pa).await.unwrap(), "valid");
    assert_eq!(cb.verdict(1, &a.node(), &pb).await.unwrap(), "invalid");
    // round 2 is not over at slot 121: cannot check
    assert_eq!(cb.verdict(2, &a.node(), &pa).await.unwrap(), "abstain");
    let (status, _) = ca.submission(2).await.unwrap();
    assert_eq!(status, 500);

    // distribution: the SPEC §6 equal split, same as the SDK's
    let subs = [a.node(), b.node(), Keypair::from_seed([3; 32]).pubkey()];
    let (status, body) = ca.distribution(1, &subs, 1000).await.unwrap();
    assert_eq!(status, 200);
    let got: protocol::DistributionResponse = serde_json::from_value(body).unwrap();
    assert_eq!(
        got.parse().unwrap(),
        gradual_task_sdk::equal_split(&subs, 1000)
    );

    // bad body
    let (status, body) = ca.submission_raw("{\"round\": \"x\"}").await;
    assert_eq!(status, 400, "{body}");

    // adversary switch
    let (_tg, cg) = start(&a, da.path(), "false-accuser").await;
    assert_eq!(cg.verdict(1, &a.node(), &pa).await.unwrap(), "invalid");
}

trait Raw {
    async fn submission_raw(&self, body: &str) -> (u16, String);
}

impl Raw for ControlClient {
    async fn submission_raw(&self, body: &str) -> (u16, String) {
        let r = reqwest::Client::new()
            .post(format!("{}{}", self.url, protocol::paths::SUBMISSION))
            .header("authorization", protocol::bearer(&self.token))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}
