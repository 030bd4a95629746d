//! [`Context`]: the services a node gives its task, as typed async calls to the node's
//! task-service API (`/node/v1/*`, bearer token), and [`TaskEnv`], the start-up environment.

use crate::protocol::{self, env, limits, paths};
use crate::Adversary;
use gradual_rpc::dto::{BlockDto, SubmissionInfoDto, TaskDto};
use gradual_types::window::Clock;
use gradual_types::{Hash, Pubkey, Signature, TaskId};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Timeout of one service call.
pub const SERVICE_TIMEOUT_MS: u64 = 10_000;

/// What the node told the task at start-up (docs/task-protocol.md §1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnv {
    pub task_id: TaskId,
    pub node: Pubkey,
    pub port: u16,
    /// Without a trailing `/`.
    pub node_url: String,
    pub token: String,
    pub data_dir: PathBuf,
    pub adversary: Option<Adversary>,
}

/// A start-up variable that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    #[error("environment variable {name} is not set; tasks are started by a gradual node, which sets {all} (to run one by hand, set them yourself)")]
    Missing { name: &'static str, all: String },
    #[error("environment variable {name}='{value}' is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl TaskEnv {
    /// Read the process environment.
    pub fn from_env() -> Result<TaskEnv, EnvError> {
        TaskEnv::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read variables through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<TaskEnv, EnvError> {
        let need = |name: &'static str| {
            get(name).ok_or_else(|| EnvError::Missing {
                name,
                all: env::REQUIRED.join(", "),
            })
        };
        let invalid = |name: &'static str, value: &str, reason: String| EnvError::Invalid {
            name,
            value: value.chars().take(100).collect(),
            reason,
        };
        let id = need(env::TASK_ID)?;
        let task_id = Hash::from_base58(&id)
            .map_err(|e| invalid(env::TASK_ID, &id, format!("{e}; expected a base58 task id")))?;
        let node_s = need(env::NODE_PUBKEY)?;
        let node = node_s.parse().map_err(|e: gradual_types::ParseKeyError| {
            invalid(
                env::NODE_PUBKEY,
                &node_s,
                format!("{e}; expected a base58 key"),
            )
        })?;
        let port_s = need(env::TASK_PORT)?;
        let port = match port_s.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => {
                return Err(invalid(
                    env::TASK_PORT,
                    &port_s,
                    "expected a port number 1-65535".into(),
                ))
            }
        };
        let url = need(env::NODE_URL)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                env::NODE_URL,
                &url,
                "expected an http:// URL such as http://127.0.0.1:8100".into(),
            ));
        }
        let token = need(env::TASK_TOKEN)?;
        if token.is_empty() {
            return Err(invalid(
                env::TASK_TOKEN,
                "",
                "the token must not be empty".into(),
            ));
        }
        let data_dir = PathBuf::from(need(env::DATA_DIR)?);
        let adversary = match get(env::ADVERSARY) {
            None => None,
            Some(s) if s.is_empty() || s == "none" => None,
            Some(s) => Some(
                s.parse::<Adversary>()
                    .map_err(|reason| invalid(env::ADVERSARY, &s, reason))?,
            ),
        };
        Ok(TaskEnv {
            task_id,
            node,
            port,
            node_url: url.trim_end_matches('/').to_string(),
            token,
            data_dir,
            adversary,
        })
    }
}

/// A service call that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    #[error("cannot reach the node's task-service API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("node answered {status} to {call}: {message}")]
    Status {
        call: String,
        status: u16,
        message: String,
    },
    #[error("node's answer to {call} is not what the protocol says: {reason}")]
    BadAnswer { call: String, reason: String },
    #[error("{what}: {reason}")]
    BadInput { what: String, reason: String },
}

/// A signature made by the node's key over [`protocol::task_message_bytes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed {
    pub signer: Pubkey,
    pub signature: Signature,
}

/// An answer relayed from a peer's task route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl PeerResponse {
    /// The body as JSON, if the peer answered 2xx.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, ServiceError> {
        if !(200..300).contains(&self.status) {
            return Err(ServiceError::Status {
                call: what.to_string(),
                status: self.status,
                message: String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(300)
                    .collect(),
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| ServiceError::BadAnswer {
            call: what.to_string(),
            reason: e.to_string(),
        })
    }
}

struct Inner {
    env: TaskEnv,
    http: reqwest::Client,
}

/// The node's services for a task. Cheap to clone; every call is one HTTP request to the
/// node's task-service API.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("task", &self.inner.env.task_id)
            .field("node", &self.inner.env.node)
            .field("node_url", &self.inner.env.node_url)
            .finish_non_exhaustive()
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Context {
    pub fn new(env: TaskEnv) -> Result<Context, ServiceError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(SERVICE_TIMEOUT_MS))
            .build()
            .map_err(|e| ServiceError::Unreachable {
                url: env.node_url.clone(),
                reason: format!("cannot build an HTTP client: {e}"),
            })?;
        Ok(Context {
            inner: Arc::new(Inner { env, http }),
        })
    }

    pub fn task_id(&self) -> TaskId {
        self.inner.env.task_id
    }

    /// This node's key (the one its proofs and signatures are bound to).
    pub fn node(&self) -> Pubkey {
        self.inner.env.node
    }

    /// A directory this task owns, kept across restarts.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.env.data_dir
    }

    /// The adversary switch (test networks), already applied by [`crate::run`].
    pub fn adversary(&self) -> Option<Adversary> {
        self.inner.env.adversary
    }

    pub fn env(&self) -> &TaskEnv {
        &self.inner.env
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.env.node_url, path)
    }

    async fn send(
        &self,
        call: &str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ServiceError> {
        let resp = req
            .header(
                protocol::AUTHORIZATION,
                protocol::bearer(&self.inner.env.token),
            )
            .send()
            .await
            .map_err(|e| ServiceError::Unreachable {
                url: self.inner.env.node_url.clone(),
                reason: format!("{call}: {e}"),
            })?;
        Ok(resp)
    }

    async fn error_of(call: &str, resp: reqwest::Response) -> ServiceError {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<protocol::ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect());
        ServiceError::Status {
            call: call.to_string(),
            status,
            message,
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ServiceError> {
        let call = format!("GET {path}");
        let resp = self
            .send(&call, self.inner.http.get(self.url(path)))
            .await?;
        if !resp.status().is_success() {
            return Err(Self::error_of(&call, resp).await);
        }
        let body = resp.bytes().await.map_err(|e| ServiceError::BadAnswer {
            call: call.clone(),
            reason: e.to_string(),
        })?;
        serde_json::from_slice(&body).map_err(|e| ServiceError::BadAnswer {
            call,
            reason: e.to_string(),
        })
    }

    /// `GET /node/v1/info`: node, task, slot, round, slot length.
    pub async fn info(&self) -> Result<protocol::NodeInfo, ServiceError> {
        self.get_json(paths::NODE_INFO).await
    }

    /// `GET /node/v1/slot`: the node's latest slot and round (cheap).
    pub async fn slot(&self) -> Result<protocol::SlotInfo, ServiceError> {
        self.get_json(paths::NODE_SLOT).await
    }

    fn kv_path(key: &str) -> Result<String, ServiceError> {
        if key.is_empty() || key.len() > limits::KV_KEY_BYTES_MAX {
            return Err(ServiceError::BadInput {
                what: format!(
                    "key-value key '{}'",
                    key.chars().take(40).collect::<String>()
                ),
                reason: format!(
                    "is {} bytes; keys must be 1 to {} bytes",
                    key.len(),
                    limits::KV_KEY_BYTES_MAX
                ),
            });
        }
        Ok(format!("{}/{}", paths::NODE_KV, encode_segment(key)))
    }

    /// `GET /node/v1/kv/<key>`: the stored bytes, or `None`.
    pub async fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, ServiceError> {
        let path = Self::kv_path(key)?;
        let call = format!("GET {path}");
        let resp = self
            .send(&call, self.inner.http.get(self.url(&path)))
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(Self::error_of(&call, resp).await);
        }
        let body = resp.bytes().await.map_err(|e| ServiceError::BadAnswer {
            call,
            reason: e.to_string(),
        })?;
        Ok(Some(body.to_vec()))
    }

    /// `PUT /node/v1/kv/<key>` (values up to 1 MiB).
    pub async fn kv_put(&self, key: &str, value: &[u8]) -> Result<(), ServiceError> {
        let path = Self::kv_path(key)?;
        if value.len() > limits::KV_VALUE_BYTES_MAX {
            return Err(ServiceError::BadInput {
                what: format!("value for key '{key}'"),
                reason: format!(
                    "is {} bytes, the most is {}; keep large data in the data dir",
                    value.len(),
                    limits::KV_VALUE_BYTES_MAX
                ),
            });
        }
        let call = format!("PUT {path}");
        let req = self
            .inner
            .http
            .put(self.url(&path))
            .header("content-type", "application/octet-stream")
            .body(value.to_vec());
        let resp = self.send(&call, req).await?;
        if !resp.status().is_success() {
            return Err(Self::error_of(&call, resp).await);
        }
        Ok(())
    }

    /// `DELETE /node/v1/kv/<key>`.
    pub async fn kv_delete(&self, key: &str) -> Result<(), ServiceError> {
        let path = Self::kv_path(key)?;
        let call = format!("DELETE {path}");
        let resp = self
            .send(&call, self.inner.http.delete(self.url(&path)))
            .await?;
        if !resp.status().is_success() && resp.status() != reqwest::StatusCode::NOT_FOUND {
            return Err(Self::error_of(&call, resp).await);
        }
        Ok(())
    }

    /// `POST /node/v1/sign`: the node signs `task_message_bytes(task, message)`. The answer is
    /// checked: a signature that does not verify is an error.
    pub async fn sign(&self, message: &[u8]) -> Result<Signed, ServiceError> {
        let call = format!("POST {}", paths::NODE_SIGN);
        let req = self
            .inner
            .http
            .post(self.url(paths::NODE_SIGN))
            .json(&protocol::SignRequest {
                message: protocol::b64_encode(message),
            });
        let resp = self.send(&call, req).await?;
        if !resp.status().is_success() {
            return Err(Self::error_of(&call, resp).await);
        }
        let bad = |reason: String| ServiceError::BadAnswer {
            call: call.clone(),
            reason,
        };
        let body: protocol::SignResponse = resp.json().await.map_err(|e| bad(e.to_string()))?;
        let signer =
            protocol::parse_pubkey("signer", &body.signer).map_err(|e| bad(e.to_string()))?;
        let signature = protocol::parse_signature("signature", &body.signature)
            .map_err(|e| bad(e.to_string()))?;
        if !protocol::verify_task_signature(&self.task_id(), &signer, message, &signature) {
            return Err(bad(format!(
                "signature by {signer} does not verify over the task message (is the node signing \"{}\" ‖ 0x00 ‖ task id ‖ message?)",
                protocol::TASK_MSG_TAG
            )));
        }
        Ok(Signed { signer, signature })
    }

    /// `GET /node/v1/task`: the task account (as the RPC's `getTaskAccountInfo`).
    pub async fn task_account(&self) -> Result<TaskDto, ServiceError> {
        self.get_json(paths::NODE_TASK).await
    }

    /// The task's round clock (window arithmetic as the ledger does it).
    pub async fn clock(&self) -> Result<Clock, ServiceError> {
        let t = self.task_account().await?;
        if t.params.round_time == 0 {
            return Err(ServiceError::BadAnswer {
                call: format!("GET {}", paths::NODE_TASK),
                reason: "round_time is 0".into(),
            });
        }
        Ok(Clock {
            starting_slot: t.starting_slot,
            round_time: t.params.round_time,
            submission_window: t.params.submission_window,
            audit_window: t.params.audit_window,
        })
    }

    /// The work period of `round`: slots `start(round)..start(round + 1)`.
    pub async fn round_slots(&self, round: u64) -> Result<std::ops::Range<u64>, ServiceError> {
        let c = self.clock().await?;
        Ok(c.start(round)..c.start(round.saturating_add(1)))
    }

    /// `GET /node/v1/round/<r>`: the round's submissions and audits.
    pub async fn round_info(&self, round: u64) -> Result<SubmissionInfoDto, ServiceError> {
        self.get_json(&format!("{}/{round}", paths::NODE_ROUND))
            .await
    }

    /// `GET /node/v1/blocks`: up to `limit` (1..=100) blocks from slot `from` on, with their
    /// transactions.
    pub async fn blocks(&self, from: u64, limit: u64) -> Result<Vec<BlockDto>, ServiceError> {
        if limit == 0 || limit > limits::BLOCKS_LIMIT_MAX {
            return Err(ServiceError::BadInput {
                what: "blocks limit".into(),
                reason: format!(
                    "is {limit}, it must be between 1 and {}",
                    limits::BLOCKS_LIMIT_MAX
                ),
            });
        }
        self.get_json(&format!(
            "{}?from={from}&limit={limit}&transactions=true",
            paths::NODE_BLOCKS
        ))
        .await
    }

    /// Every block with a slot in `slots`, in order (pages through `/node/v1/blocks`). Fails
    /// if the node has not seen slot `slots.end - 1` yet, since more blocks of the range could
    /// still come. (Blocks come in slot order, so once the node has seen the range's last
    /// slot the range is complete: the node asks for a round's proof at the last slot of its
    /// work period, so that the proof lands in the first slot of the submission window.)
    pub async fn blocks_in(
        &self,
        slots: std::ops::Range<u64>,
    ) -> Result<Vec<BlockDto>, ServiceError> {
        let head = self.slot().await?.slot;
        if head.saturating_add(1) < slots.end {
            return Err(ServiceError::BadInput {
                what: format!("blocks of slots {}..{}", slots.start, slots.end),
                reason: format!(
                    "the node has only seen slot {head}; wait until slot {}",
                    slots.end.saturating_sub(1)
                ),
            });
        }
        let mut out = Vec::new();
        let mut from = slots.start;
        // Each page moves `from` past its last block, so this ends; bounded by the range.
        while from < slots.end {
            let page = self.blocks(from, limits::BLOCKS_LIMIT_MAX).await?;
            let Some(last) = page.last().map(|b| b.slot) else {
                break;
            };
            if last < from {
                return Err(ServiceError::BadAnswer {
                    call: format!("GET {}", paths::NODE_BLOCKS),
                    reason: format!("asked for blocks from slot {from}, got one at slot {last}"),
                });
            }
            out.extend(page.into_iter().filter(|b| slots.contains(&b.slot)));
            from = last.saturating_add(1);
        }
        Ok(out)
    }

    /// `GET /node/v1/peers`: the task's stakers.
    pub async fn peers(&self) -> Result<Vec<protocol::PeerInfo>, ServiceError> {
        self.get_json(paths::NODE_PEERS).await
    }

    /// `GET /node/v1/peer/<node>/<path>`: the node fetches `<peer url>/task/<task>/<path>`.
    /// Non-2xx answers of the peer are returned, not turned into errors; an error means the
    /// node could not relay the call.
    pub async fn peer_get(&self, node: &Pubkey, path: &str) -> Result<PeerResponse, ServiceError> {
        let path = path.trim_start_matches('/');
        let full = format!("{}/{}/{}", paths::NODE_PEER, node.to_base58(), path);
        let call = format!("GET {full}");
        let resp = self
            .send(&call, self.inner.http.get(self.url(&full)))
            .await?;
        let status = resp.status().as_u16();
        if status == 502 || status == 504 {
            return Err(Self::error_of(&call, resp).await);
        }
        let body = resp.bytes().await.map_err(|e| ServiceError::BadAnswer {
            call,
            reason: e.to_string(),
        })?;
        Ok(PeerResponse {
            status,
            body: body.to_vec(),
        })
    }

    /// SPEC §9: sign that `digest` (of a request and its answer) was received at
    /// `received_slot` and answered now (the node's current slot).
    pub async fn timestamp(
        &self,
        digest: &Hash,
        received_slot: u64,
    ) -> Result<protocol::TimestampRecord, ServiceError> {
        let sent_slot = self.slot().await?.slot.max(received_slot);
        let signed = self
            .sign(&protocol::timestamp_message(
                digest,
                received_slot,
                sent_slot,
            ))
            .await?;
        Ok(protocol::TimestampRecord {
            digest: digest.to_base58(),
            received_slot,
            sent_slot,
            signer: signed.signer.to_base58(),
            signature: signed.signature.to_base58(),
        })
    }
}
