//! Control calls: the core's questions become calls to the task process's control routes
//! (`docs/task-protocol.md` §2), each on its own tokio task with the process's timeout;
//! checked answers go back to the driver as [`Answer`]s.

use crate::shared::{Counters, NodeShared};
use crate::supervisor::{CallError, TaskProcess};
use gradual_node_proto::{Action, Answer, ListRequest};
use gradual_task_sdk::protocol::{self, paths};
use gradual_types::{Pubkey, TaskId, Verdict};
use serde::Serialize;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Which control call, and what its answer is about.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Task { round: u64 },
    Proof { round: u64 },
    Check { round: u64, candidate: Pubkey },
    List(ListRequest),
}

impl Kind {
    fn call_path(&self) -> &'static str {
        match self {
            Kind::Task { .. } => paths::TASK,
            Kind::Proof { .. } => paths::SUBMISSION,
            Kind::Check { .. } => paths::AUDIT,
            Kind::List { .. } => paths::DISTRIBUTION,
        }
    }
}

/// One control call: the task, the request body, and what it asks.
pub(crate) type Call = (TaskId, serde_json::Value, Kind);

/// The `task` call for `round` (also made again after a restart).
pub(crate) fn run_task(task: TaskId, round: u64) -> Call {
    (
        task,
        body(&protocol::RoundRequest { round }),
        Kind::Task { round },
    )
}

/// The control call an action asks for; `None` for the actions that are no call (`Send`,
/// `SuspectAudits`).
pub(crate) fn call_for(action: Action) -> Option<Call> {
    Some(match action {
        Action::RunTask { task, round } => run_task(task, round),
        Action::MakeProof { task, round } => (
            task,
            body(&protocol::RoundRequest { round }),
            Kind::Proof { round },
        ),
        Action::CheckProof {
            task,
            round,
            candidate,
            value,
        } => (
            task,
            body(&protocol::AuditRequest {
                round,
                candidate: candidate.to_base58(),
                value: protocol::b64_encode(&value),
            }),
            Kind::Check { round, candidate },
        ),
        Action::MakeDistribution(req) => (
            req.task,
            body(&protocol::DistributionRequest {
                round: req.round,
                submitters: req.submitters.iter().map(|s| s.to_base58()).collect(),
                bounty: req.bounty,
            }),
            Kind::List(req),
        ),
        Action::Send { .. } | Action::SuspectAudits { .. } => return None,
    })
}

/// Make the call on its own tokio task; a checked answer goes to `ans`. A failed `check`
/// is answered `Abstain` and a failed `submission` "no proof", so the core moves on.
pub(crate) fn spawn_call(
    sh: Arc<NodeShared>,
    p: Arc<TaskProcess>,
    (task, body, kind): Call,
    ans: mpsc::UnboundedSender<Answer>,
) {
    tokio::spawn(async move {
        let name = kind.call_path();
        let r = p.call(name, &body).await;
        if r.is_ok() {
            Counters::bump(&sh.counters().calls_ok);
        }
        let failed = |e: &CallError| sh.call_failed(&task, name, e);
        let answer = match (kind, r) {
            (Kind::Task { .. }, Ok(_)) => None,
            (Kind::Task { .. }, Err(e)) => {
                failed(&e);
                None
            }
            (Kind::Proof { round }, r) => {
                let value = r
                    .and_then(|v| proof_value(v).map_err(CallError::BadAnswer))
                    .unwrap_or_else(|e| {
                        failed(&e);
                        None
                    });
                Some(Answer::Proof { task, round, value })
            }
            (Kind::Check { round, candidate }, r) => {
                let verdict = r
                    .and_then(|v| {
                        answer::<protocol::AuditResponse>(v).map_err(CallError::BadAnswer)
                    })
                    .map(|a| Verdict::from(a.verdict))
                    .unwrap_or_else(|e| {
                        failed(&e);
                        Verdict::Abstain
                    });
                Some(Answer::Check {
                    task,
                    round,
                    candidate,
                    verdict,
                })
            }
            (Kind::List(req), r) => {
                match r.and_then(|v| list_entries(v).map_err(CallError::BadAnswer)) {
                    Ok(list) => Some(req.answer(list)),
                    Err(e) => {
                        failed(&e);
                        None
                    }
                }
            }
        };
        if let Some(a) = answer {
            let _ = ans.send(a);
        }
    });
}

/// A control call's body as JSON.
fn body<T: Serialize>(b: &T) -> serde_json::Value {
    serde_json::to_value(b).unwrap_or(serde_json::Value::Null)
}

/// A control call's answer as its protocol type.
fn answer<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("not the protocol's answer: {e}"))
}

/// `{"value": "<base64>"}` or `{"value": null}`, at most 512 bytes.
fn proof_value(v: serde_json::Value) -> Result<Option<Vec<u8>>, String> {
    answer::<protocol::SubmissionResponse>(v)?
        .bytes()
        .map_err(|e| e.to_string())
}

/// `{"entries": [["<base58>", 250], ...]}`.
fn list_entries(v: serde_json::Value) -> Result<Vec<(Pubkey, u64)>, String> {
    answer::<protocol::DistributionResponse>(v)?
        .parse()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::Keypair;

    #[test]
    fn task_answers_are_checked() {
        use serde_json::json;
        assert_eq!(proof_value(json!({"value": null})), Ok(None));
        assert_eq!(proof_value(json!({})), Ok(None));
        assert_eq!(proof_value(json!({"value": "AQI="})), Ok(Some(vec![1, 2])));
        assert!(proof_value(json!({"value": 5}))
            .unwrap_err()
            .contains("protocol"));
        assert!(proof_value(json!({"value": "%%"}))
            .unwrap_err()
            .contains("base64"));
        let big = protocol::b64_encode(&[0u8; 513]);
        assert!(proof_value(json!({ "value": big }))
            .unwrap_err()
            .contains("513 bytes"));
        let k = Keypair::from_seed([1; 32]).pubkey();
        assert_eq!(
            list_entries(json!({"entries": [[k.to_base58(), 7]]})),
            Ok(vec![(k, 7)])
        );
        assert!(list_entries(json!({"entries": [[k.to_base58(), -1]]})).is_err());
        assert!(list_entries(json!({"entries": [["x"]]})).is_err());
        assert!(list_entries(json!({"entries": [["x", 1]]})).is_err());
        assert!(list_entries(json!({})).is_err());
        assert_eq!(
            answer::<protocol::AuditResponse>(json!({"verdict": "abstain"}))
                .map(|a| Verdict::from(a.verdict)),
            Ok(Verdict::Abstain)
        );
        assert!(answer::<protocol::AuditResponse>(json!({"verdict": "maybe"})).is_err());
    }
}
