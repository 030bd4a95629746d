//! The task process protocol (docs/task-protocol.md) as types: environment variable names,
//! paths, every request and response body, the bearer-token header, and the domain-separated
//! task signature. Both sides use it: the SDK's runtime (task side) and `gradual-node`.
//!
//! It does **not** do I/O. It depends only on serde, gradual-types and the wire encodings of
//! `gradual-rpc` (without its ledger records), so the node can use it with
//! `default-features = false`.
//!
//! ```text
//!  node ──ControlCall (RoundRequest, AuditRequest, ...)──▶ task ──▶ SubmissionResponse, ...
//!  task ──service call (SignRequest, ...)───────────────▶ node ──▶ SignResponse, NodeInfo, ...
//!  anyone: task_message_bytes(task, msg) + verify_task_signature / verify_timestamp
//! ```
//!
//! Wire conventions: keys and hashes are base58 strings, bytes are standard base64, amounts
//! are integers in ROE. Fields stay strings on the wire so that a task in any language reads
//! them; the `parse_*` helpers turn them into typed values with errors that name the field
//! (`gradual_rpc::wire`, the one base58/base64 decoder of the workspace).

use gradual_rpc::wire::{self, WireError};
use gradual_types::constants::PROOF_BYTES_MAX;
use gradual_types::{Hash, Pubkey, Signature, TaskId};
use serde::{Deserialize, Serialize};

/// Environment variables the node sets when it starts a task (docs/task-protocol.md §1).
/// The adversary modes every task built with the SDK understands (`GRADUAL_ADVERSARY`,
/// docs/task-developer-guide.md §6); the node's config checks names against this list.
pub const ADVERSARY_NAMES: &[&str] = &["garbage", "false-accuser", "bad-distribution", "offline"];

pub mod env {
    /// Task id, base58.
    pub const TASK_ID: &str = "GRADUAL_TASK_ID";
    /// The node's public key, base58.
    pub const NODE_PUBKEY: &str = "GRADUAL_NODE_PUBKEY";
    /// Port the task listens on at 127.0.0.1.
    pub const TASK_PORT: &str = "GRADUAL_TASK_PORT";
    /// Base URL of the node's task-service API, e.g. `http://127.0.0.1:8100`.
    pub const NODE_URL: &str = "GRADUAL_NODE_URL";
    /// Shared secret for control and service calls (`Authorization: Bearer <token>`).
    pub const TASK_TOKEN: &str = "GRADUAL_TASK_TOKEN";
    /// A directory the task owns, kept across restarts.
    pub const DATA_DIR: &str = "GRADUAL_DATA_DIR";
    /// Test networks only: make the task misbehave (`garbage`, `false-accuser`,
    /// `bad-distribution`, `offline`). The node passes it through from its own environment.
    pub const ADVERSARY: &str = "GRADUAL_ADVERSARY";

    /// Every variable a task needs (all but [`ADVERSARY`]).
    pub const REQUIRED: &[&str] = &[
        TASK_ID,
        NODE_PUBKEY,
        TASK_PORT,
        NODE_URL,
        TASK_TOKEN,
        DATA_DIR,
    ];
}

/// HTTP paths of both directions.
pub mod paths {
    /// Control calls, node → task.
    pub const HEALTH: &str = "/gradual/v1/health";
    pub const TASK: &str = "/gradual/v1/task";
    pub const SUBMISSION: &str = "/gradual/v1/submission";
    pub const AUDIT: &str = "/gradual/v1/audit";
    pub const DISTRIBUTION: &str = "/gradual/v1/distribution";
    /// Every control path starts with this; a task's own routes must not.
    pub const CONTROL_PREFIX: &str = "/gradual/";

    /// Task-service API, task → node.
    pub const NODE_INFO: &str = "/node/v1/info";
    pub const NODE_SLOT: &str = "/node/v1/slot";
    /// Followed by `/<key>` (percent-encoded).
    pub const NODE_KV: &str = "/node/v1/kv";
    pub const NODE_SIGN: &str = "/node/v1/sign";
    pub const NODE_TASK: &str = "/node/v1/task";
    /// Followed by `/<round>`.
    pub const NODE_ROUND: &str = "/node/v1/round";
    /// With `?from=<slot>&limit=<n>&transactions=true|false`.
    pub const NODE_BLOCKS: &str = "/node/v1/blocks";
    pub const NODE_PEERS: &str = "/node/v1/peers";
    /// Followed by `/<pubkey>/<path>`.
    pub const NODE_PEER: &str = "/node/v1/peer";
}

/// Limits of the task-service API.
pub mod limits {
    /// Longest key-value key, in bytes.
    pub const KV_KEY_BYTES_MAX: usize = 256;
    /// Largest key-value value, in bytes.
    pub const KV_VALUE_BYTES_MAX: usize = 1024 * 1024;
    /// Most blocks one `/node/v1/blocks` call returns (the validator's `getBlocks` limit).
    pub const BLOCKS_LIMIT_MAX: u64 = 100;
    /// Largest proof value (SPEC §4).
    pub const PROOF_BYTES_MAX: usize = super::PROOF_BYTES_MAX;
}

/// The `Authorization` header name (lowercase, as HTTP/1 libraries normalise it).
pub const AUTHORIZATION: &str = "authorization";

/// The `Authorization` header value for `token`: `Bearer <token>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Whether an `Authorization` header value carries `token`. Compares in constant time so a
/// local attacker cannot guess the token byte by byte. An empty token never matches.
pub fn bearer_matches(header: Option<&str>, token: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    if token.is_empty() || given.len() != token.len() {
        return false;
    }
    given
        .bytes()
        .zip(token.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Domain tag of messages a node signs for its task (`/node/v1/sign`).
pub const TASK_MSG_TAG: &str = "gradual/task-msg/v1";

/// The bytes `/node/v1/sign` signs: `"gradual/task-msg/v1" ‖ 0x00 ‖ task_id ‖ message`.
/// Ledger transactions start with `"gradual/tx/v1" ‖ 0x00`, so a task can never make its
/// node sign one.
pub fn task_message_bytes(task_id: &TaskId, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(TASK_MSG_TAG.len() + 1 + 32 + message.len());
    out.extend_from_slice(TASK_MSG_TAG.as_bytes());
    out.push(0);
    out.extend_from_slice(task_id.as_bytes());
    out.extend_from_slice(message);
    out
}

/// Whether `signature` is `signer`'s signature of `message` for `task` (strict ed25519 over
/// [`task_message_bytes`]).
pub fn verify_task_signature(
    task: &TaskId,
    signer: &Pubkey,
    message: &[u8],
    signature: &Signature,
) -> bool {
    signer.verify_strict(&task_message_bytes(task, message), signature)
}

/// Domain tag of a SPEC §9 timestamp (the message inside the task signature).
pub const TIMESTAMP_TAG: &str = "gradual/timestamp/v1";

/// The message signed for a timestamp: `"gradual/timestamp/v1" ‖ 0x00 ‖ digest (32) ‖
/// received_slot (u64 LE) ‖ sent_slot (u64 LE)`; it is then wrapped by [`task_message_bytes`].
pub fn timestamp_message(digest: &Hash, received_slot: u64, sent_slot: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(TIMESTAMP_TAG.len() + 1 + 32 + 16);
    out.extend_from_slice(TIMESTAMP_TAG.as_bytes());
    out.push(0);
    out.extend_from_slice(digest.as_bytes());
    out.extend_from_slice(&received_slot.to_le_bytes());
    out.extend_from_slice(&sent_slot.to_le_bytes());
    out
}

/// A signed SPEC §9 timestamp: `digest` (of the request and its answer, task policy) was
/// received at `received_slot` and answered at `sent_slot`, as seen by `signer`'s node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampRecord {
    /// base58 32-byte digest.
    pub digest: String,
    pub received_slot: u64,
    pub sent_slot: u64,
    /// base58 node key.
    pub signer: String,
    /// base58 ed25519 signature.
    pub signature: String,
}

/// Why a timestamp does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    #[error("timestamp field {0}")]
    Field(#[from] ProtocolError),
    #[error("timestamp is signed by {got}, expected {expected}")]
    WrongSigner { got: String, expected: String },
    #[error("timestamp signature does not verify for task {task}")]
    BadSignature { task: String },
    #[error("timestamp was sent at slot {sent} before it was received at slot {received}")]
    SentBeforeReceived { received: u64, sent: u64 },
    #[error("timestamp slots {received}..={sent} lie outside slots {start}..{end}")]
    OutsideSlots {
        received: u64,
        sent: u64,
        start: u64,
        end: u64,
    },
}

impl TimestampRecord {
    /// Check the record's signature (by `expected_signer`, for `task`), its slot order, and
    /// that both slots lie in `slots` (e.g. the round's work period).
    pub fn verify(
        &self,
        task: &TaskId,
        expected_signer: &Pubkey,
        slots: std::ops::Range<u64>,
    ) -> Result<(), TimestampError> {
        let signer = parse_pubkey("signer", &self.signer)?;
        if signer != *expected_signer {
            return Err(TimestampError::WrongSigner {
                got: self.signer.clone(),
                expected: expected_signer.to_base58(),
            });
        }
        let digest = parse_hash("digest", &self.digest)?;
        let signature = parse_signature("signature", &self.signature)?;
        let msg = timestamp_message(&digest, self.received_slot, self.sent_slot);
        if !verify_task_signature(task, &signer, &msg, &signature) {
            return Err(TimestampError::BadSignature {
                task: task.to_base58(),
            });
        }
        if self.sent_slot < self.received_slot {
            return Err(TimestampError::SentBeforeReceived {
                received: self.received_slot,
                sent: self.sent_slot,
            });
        }
        if !slots.contains(&self.received_slot) || !slots.contains(&self.sent_slot) {
            return Err(TimestampError::OutsideSlots {
                received: self.received_slot,
                sent: self.sent_slot,
                start: slots.start,
                end: slots.end,
            });
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- control calls (node → task)

/// `GET /gradual/v1/health` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthResponse {
    pub ok: bool,
}

/// Body of `POST /gradual/v1/task` and `POST /gradual/v1/submission`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRequest {
    pub round: u64,
}

/// Answer of `POST /gradual/v1/task`: `{}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskResponse {}

/// Answer of `POST /gradual/v1/submission`: base64 proof value, or `null` for no proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionResponse {
    pub value: Option<String>,
}

impl SubmissionResponse {
    pub fn from_bytes(value: Option<&[u8]>) -> SubmissionResponse {
        SubmissionResponse {
            value: value.map(b64_encode),
        }
    }

    /// The decoded value, checked against the 512-byte proof limit.
    pub fn bytes(&self) -> Result<Option<Vec<u8>>, ProtocolError> {
        let Some(v) = &self.value else {
            return Ok(None);
        };
        let bytes = parse_b64("value", v)?;
        check_proof_len("value", bytes.len())?;
        Ok(Some(bytes))
    }
}

/// Body of `POST /gradual/v1/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRequest {
    pub round: u64,
    /// base58 node key.
    pub candidate: String,
    /// base64 proof value.
    pub value: String,
}

/// A verdict on the wire: `"valid"`, `"invalid"` or `"abstain"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditVerdict {
    Valid,
    Invalid,
    Abstain,
}

impl From<gradual_types::Verdict> for AuditVerdict {
    fn from(v: gradual_types::Verdict) -> Self {
        match v {
            gradual_types::Verdict::Valid => AuditVerdict::Valid,
            gradual_types::Verdict::Invalid => AuditVerdict::Invalid,
            gradual_types::Verdict::Abstain => AuditVerdict::Abstain,
        }
    }
}

impl From<AuditVerdict> for gradual_types::Verdict {
    fn from(v: AuditVerdict) -> Self {
        match v {
            AuditVerdict::Valid => gradual_types::Verdict::Valid,
            AuditVerdict::Invalid => gradual_types::Verdict::Invalid,
            AuditVerdict::Abstain => gradual_types::Verdict::Abstain,
        }
    }
}

/// Answer of `POST /gradual/v1/audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditResponse {
    pub verdict: AuditVerdict,
}

/// Body of `POST /gradual/v1/distribution`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionRequest {
    pub round: u64,
    /// base58 node keys of the round's non-voided submitters.
    pub submitters: Vec<String>,
    /// ROE to distribute at most.
    pub bounty: u64,
}

/// Answer of `POST /gradual/v1/distribution`: `[node base58, reward ROE]` pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionResponse {
    pub entries: Vec<(String, u64)>,
}

impl DistributionResponse {
    pub fn from_entries(entries: &[(Pubkey, u64)]) -> DistributionResponse {
        DistributionResponse {
            entries: entries.iter().map(|(n, r)| (n.to_base58(), *r)).collect(),
        }
    }

    /// The entries with parsed keys.
    pub fn parse(&self) -> Result<Vec<(Pubkey, u64)>, ProtocolError> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, (n, r))| Ok((parse_pubkey(&format!("entries[{i}]"), n)?, *r)))
            .collect()
    }
}

impl DistributionRequest {
    pub fn parse_submitters(&self) -> Result<Vec<Pubkey>, ProtocolError> {
        self.submitters
            .iter()
            .enumerate()
            .map(|(i, s)| parse_pubkey(&format!("submitters[{i}]"), s))
            .collect()
    }
}

impl AuditRequest {
    pub fn parse_candidate(&self) -> Result<Pubkey, ProtocolError> {
        parse_pubkey("candidate", &self.candidate)
    }

    /// The proof value, checked against the 512-byte limit.
    pub fn parse_value(&self) -> Result<Vec<u8>, ProtocolError> {
        let bytes = parse_b64("value", &self.value)?;
        check_proof_len("value", bytes.len())?;
        Ok(bytes)
    }
}

// ---------------------------------------------------------------- service API (task → node)

/// Answer of `GET /node/v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// base58 node key.
    pub node: String,
    /// base58 task id.
    pub task: String,
    pub slot: u64,
    pub round: u64,
    pub slot_ms: u64,
}

/// Answer of `GET /node/v1/slot`: the node's latest view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfo {
    pub slot: u64,
    pub round: u64,
}

/// Body of `POST /node/v1/sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    /// base64 message (the node wraps it with [`task_message_bytes`] before signing).
    pub message: String,
}

/// Answer of `POST /node/v1/sign`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignResponse {
    /// base58 node key.
    pub signer: String,
    /// base58 ed25519 signature.
    pub signature: String,
}

/// One entry of `GET /node/v1/peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// base58 node key.
    pub node: String,
    /// The URL the node staked with (may be empty).
    pub url: String,
    /// ROE staked.
    pub stake: u64,
}

/// Every error answer, both directions: `{"error": "..."}` with a 4xx/5xx status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

// ---------------------------------------------------------------- parsing helpers

/// A protocol field that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Not base58 of the right length, or not standard base64 (names the field).
    #[error(transparent)]
    Encoding(#[from] WireError),
    #[error("{field}: proof value is {got} bytes, the most is {max}")]
    ProofTooLarge {
        field: String,
        got: usize,
        max: usize,
    },
}

pub fn parse_pubkey(field: &str, s: &str) -> Result<Pubkey, ProtocolError> {
    Ok(wire::parse(field, s)?)
}

pub fn parse_hash(field: &str, s: &str) -> Result<Hash, ProtocolError> {
    Ok(wire::parse(field, s)?)
}

pub fn parse_signature(field: &str, s: &str) -> Result<Signature, ProtocolError> {
    Ok(wire::parse(field, s)?)
}

pub fn parse_b64(field: &str, s: &str) -> Result<Vec<u8>, ProtocolError> {
    Ok(wire::parse_b64(field, s)?)
}

pub fn b64_encode(bytes: &[u8]) -> String {
    wire::encode_b64(bytes)
}

fn check_proof_len(field: &str, len: usize) -> Result<(), ProtocolError> {
    if len > PROOF_BYTES_MAX {
        return Err(ProtocolError::ProofTooLarge {
            field: field.to_string(),
            got: len,
            max: PROOF_BYTES_MAX,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_types::Keypair;

    #[test]
    fn bearer_checks_exact_token() {
        assert!(bearer_matches(Some(&bearer("s3cret")), "s3cret"));
        assert!(!bearer_matches(Some("Bearer s3creT"), "s3cret"));
        assert!(!bearer_matches(Some("s3cret"), "s3cret"));
        assert!(!bearer_matches(None, "s3cret"));
        assert!(!bearer_matches(Some("Bearer "), ""));
    }

    #[test]
    fn task_messages_are_domain_separated() {
        let task = Hash([9; 32]);
        let bytes = task_message_bytes(&task, b"hi");
        assert!(bytes.starts_with(b"gradual/task-msg/v1\0"));
        assert_eq!(&bytes[20..52], &[9; 32]);
        assert_eq!(&bytes[52..], b"hi");
        assert!(!bytes.starts_with(b"gradual/tx/v1"));

        let kp = Keypair::from_seed([4; 32]);
        let sig = kp.sign(&bytes);
        assert!(verify_task_signature(&task, &kp.pubkey(), b"hi", &sig));
        assert!(!verify_task_signature(
            &Hash([8; 32]),
            &kp.pubkey(),
            b"hi",
            &sig
        ));
        assert!(!verify_task_signature(&task, &kp.pubkey(), b"ho", &sig));
        // A raw signature of the message is not a task signature.
        assert!(!verify_task_signature(
            &task,
            &kp.pubkey(),
            b"hi",
            &kp.sign(b"hi")
        ));
    }

    #[test]
    fn timestamp_verifies_and_reports_each_failure() {
        let task = Hash([1; 32]);
        let kp = Keypair::from_seed([2; 32]);
        let digest = Hash([3; 32]);
        let sig = kp.sign(&task_message_bytes(
            &task,
            &timestamp_message(&digest, 10, 12),
        ));
        let rec = TimestampRecord {
            digest: digest.to_base58(),
            received_slot: 10,
            sent_slot: 12,
            signer: kp.pubkey().to_base58(),
            signature: sig.to_base58(),
        };
        assert_eq!(rec.verify(&task, &kp.pubkey(), 10..20), Ok(()));
        assert!(matches!(
            rec.verify(&task, &kp.pubkey(), 11..20),
            Err(TimestampError::OutsideSlots { .. })
        ));
        let other = Keypair::from_seed([5; 32]).pubkey();
        assert!(matches!(
            rec.verify(&task, &other, 10..20),
            Err(TimestampError::WrongSigner { .. })
        ));
        let mut forged = rec.clone();
        forged.sent_slot = 11;
        assert!(matches!(
            forged.verify(&task, &kp.pubkey(), 10..20),
            Err(TimestampError::BadSignature { .. })
        ));
        let mut garbled = rec;
        garbled.signature = "0OIl".into();
        let e = garbled.verify(&task, &kp.pubkey(), 10..20).unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
    }

    #[test]
    fn bodies_match_the_documented_json() {
        let a: AuditRequest =
            serde_json::from_str(r#"{"round": 7, "candidate": "x", "value": "AAE="}"#).unwrap();
        assert_eq!(a.parse_value().unwrap(), vec![0, 1]);
        assert!(a
            .parse_candidate()
            .unwrap_err()
            .to_string()
            .contains("candidate"));
        let v = serde_json::to_string(&AuditResponse {
            verdict: AuditVerdict::Abstain,
        })
        .unwrap();
        assert_eq!(v, r#"{"verdict":"abstain"}"#);
        let s = serde_json::to_string(&SubmissionResponse { value: None }).unwrap();
        assert_eq!(s, r#"{"value":null}"#);
        let k = Keypair::from_seed([1; 32]).pubkey();
        let d = DistributionResponse::from_entries(&[(k, 250)]);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"entries": [[k.to_base58(), 250]]})
        );
        assert_eq!(d.parse().unwrap(), vec![(k, 250)]);
        let big = SubmissionResponse::from_bytes(Some(&[0; 513]));
        assert!(matches!(
            big.bytes(),
            Err(ProtocolError::ProofTooLarge { got: 513, .. })
        ));
        assert_eq!(serde_json::to_string(&TaskResponse {}).unwrap(), "{}");
    }
}
