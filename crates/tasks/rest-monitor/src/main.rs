//! `gradual-rest-monitor`: an example REST task. Each round it probes an HTTP service on
//! loopback a few times, keeps a SPEC §9 timestamp of every probe (the slots at which the
//! probe started and finished, signed by the node), serves the records to peers and submits
//! `blake3(tag ‖ records ‖ node ‖ round)`. Auditors fetch a peer's records through the node,
//! check every signature, that every slot lies in the round's work period, and the proof.
//!
//! It does **not** judge the monitored service (a probe that failed is still a valid record)
//! nor probe anything off the machine: the URL must be on loopback.
//!
//! ```text
//!  task(r): up to PROBES_PER_ROUND x { slot ─▶ GET <url> ─▶ digest ─▶ ctx.timestamp } ─▶ kv
//!  submission(r) ─▶ blake3(tag ‖ records ‖ node ‖ r)
//!  audit(r, c, v) ─▶ GET <c>/task/<id>/records/<r> via the node ─▶ signatures, slots, proof
//!  routes: GET /records/<round>
//! ```
//!
//! URL: `GRADUAL_MONITOR_URL`, else the task metadata (`{"monitor_url": "..."}` or a bare
//! URL), else the node's own `/node/v1/slot`. `GRADUAL_ADVERSARY` works as for every SDK task.

use gradual_task_sdk::axum::extract::Path;
use gradual_task_sdk::axum::http::StatusCode;
use gradual_task_sdk::axum::response::Response;
use gradual_task_sdk::axum::routing::get;
use gradual_task_sdk::axum::Router;
use gradual_task_sdk::protocol::{self, TimestampRecord};
use gradual_task_sdk::respond::{error, json_bytes, round_param};
use gradual_task_sdk::{anyhow, bound_proof, Context, Hash, Pubkey, Task, Verdict};
use serde::{Deserialize, Serialize};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Probes per round, at most.
pub const PROBES_PER_ROUND: usize = 3;
/// Timeout of one probe.
pub const PROBE_TIMEOUT_MS: u64 = 5_000;
/// Environment variable with the URL to monitor.
pub const MONITOR_URL_ENV: &str = "GRADUAL_MONITOR_URL";
const PROBE_TAG: &[u8] = b"gradual-rest-monitor/probe/v1";
const PROOF_TAG: &[u8] = b"gradual-rest-monitor/proof/v1";

/// One probe and its signed timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probe {
    pub url: String,
    /// HTTP status, 0 when the request failed.
    pub status: u16,
    /// base58 blake3 of the response body (of the error text when the request failed).
    pub body_digest: String,
    pub timestamp: TimestampRecord,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundRecords {
    pub round: u64,
    pub probes: Vec<Probe>,
}

/// The digest a probe's timestamp signs.
pub fn probe_digest(round: u64, url: &str, status: u16, body_digest: &str) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(PROBE_TAG);
    h.update(&round.to_le_bytes());
    h.update(&(url.len() as u64).to_le_bytes());
    h.update(url.as_bytes());
    h.update(&status.to_le_bytes());
    h.update(body_digest.as_bytes());
    Hash(*h.finalize().as_bytes())
}

/// The proof: `blake3(tag ‖ canonical JSON of the records ‖ node ‖ round)`.
pub fn proof(records: &RoundRecords, node: &Pubkey) -> anyhow::Result<Vec<u8>> {
    let content = serde_json::to_vec(records)?;
    Ok(bound_proof(PROOF_TAG, &content, node, records.round))
}

/// Accept only `http://` URLs on loopback.
pub fn check_loopback(url: &str) -> anyhow::Result<()> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        anyhow::anyhow!("monitor URL '{url}' must start with http:// (set {MONITOR_URL_ENV} or the task metadata's monitor_url)")
    })?;
    let host_port = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let loopback = host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback());
    if !loopback {
        anyhow::bail!("monitor URL '{url}' is not on loopback (127.0.0.0/8, localhost or [::1]); this task only probes services on the node's own machine");
    }
    Ok(())
}

fn key(round: u64) -> String {
    format!("records/{round}")
}

pub struct RestMonitor {
    http: reqwest::Client,
}

impl Default for RestMonitor {
    fn default() -> Self {
        RestMonitor {
            http: reqwest::Client::builder()
                .timeout(Duration::from_millis(PROBE_TIMEOUT_MS))
                .build()
                .unwrap_or_default(),
        }
    }
}

impl RestMonitor {
    /// The URL to probe, and whether it is the node's own API (which needs the token).
    async fn target(&self, ctx: &Context) -> anyhow::Result<(String, bool)> {
        let url = match std::env::var(MONITOR_URL_ENV) {
            Ok(u) if !u.is_empty() => Some(u),
            _ => {
                let meta = ctx.task_account().await?.params.metadata;
                let text = String::from_utf8_lossy(&meta).trim().to_string();
                if text.starts_with("http://") {
                    Some(text)
                } else {
                    serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v.get("monitor_url")?.as_str().map(str::to_string))
                }
            }
        };
        let own = format!("{}{}", ctx.env().node_url, protocol::paths::NODE_SLOT);
        let url = url.unwrap_or(own.clone());
        check_loopback(&url)?;
        Ok((url.clone(), url == own))
    }

    async fn load(ctx: &Context, round: u64) -> anyhow::Result<RoundRecords> {
        Ok(match ctx.kv_get(&key(round)).await? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "stored records of round {round} are corrupt ({e}); delete kv key {}",
                    key(round)
                )
            })?,
            None => RoundRecords {
                round,
                probes: vec![],
            },
        })
    }

    async fn probe(
        &self,
        ctx: &Context,
        round: u64,
        url: &str,
        own: bool,
    ) -> anyhow::Result<Probe> {
        let received = ctx.slot().await?.slot;
        let mut req = self.http.get(url);
        if own {
            req = req.header(protocol::AUTHORIZATION, protocol::bearer(&ctx.env().token));
        }
        let (status, body) = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                (status, body)
            }
            Err(e) => (0, e.to_string().into_bytes()),
        };
        let body_digest = Hash(*blake3::hash(&body).as_bytes()).to_base58();
        let digest = probe_digest(round, url, status, &body_digest);
        let timestamp = ctx.timestamp(&digest, received).await?;
        Ok(Probe {
            url: url.to_string(),
            status,
            body_digest,
            timestamp,
        })
    }

    /// Check a peer's records; `Err` is a reason to say invalid.
    fn check(
        ctx: &Context,
        records: &RoundRecords,
        candidate: &Pubkey,
        round: u64,
        slots: std::ops::Range<u64>,
        value: &[u8],
    ) -> Result<(), String> {
        if records.round != round {
            return Err(format!(
                "records are for round {}, expected {round}",
                records.round
            ));
        }
        if records.probes.is_empty() || records.probes.len() > PROBES_PER_ROUND {
            return Err(format!(
                "{} probes, expected 1 to {PROBES_PER_ROUND}",
                records.probes.len()
            ));
        }
        for (i, p) in records.probes.iter().enumerate() {
            let digest = probe_digest(round, &p.url, p.status, &p.body_digest);
            if p.timestamp.digest != digest.to_base58() {
                return Err(format!("probe {i}: the timestamp does not cover the probe"));
            }
            p.timestamp
                .verify(&ctx.task_id(), candidate, slots.clone())
                .map_err(|e| format!("probe {i}: {e}"))?;
        }
        let expected = proof(records, candidate).map_err(|e| e.to_string())?;
        if value != expected {
            return Err("the proof is not the digest of the served records".into());
        }
        Ok(())
    }
}

impl Task for RestMonitor {
    async fn task(&self, ctx: &Context, round: u64) -> anyhow::Result<()> {
        let (url, own) = self.target(ctx).await?;
        let slots = ctx.round_slots(round).await?;
        let slot_ms = ctx.info().await?.slot_ms.clamp(50, 5_000);
        let spacing = Duration::from_millis(
            slot_ms.saturating_mul((slots.end - slots.start) / PROBES_PER_ROUND as u64),
        )
        .max(Duration::from_millis(slot_ms));
        let mut records = Self::load(ctx, round).await?;
        let mut waits = 0u64;
        while records.probes.len() < PROBES_PER_ROUND {
            let now = ctx.slot().await?.slot;
            if now >= slots.end {
                break;
            }
            if now < slots.start {
                waits += 1;
                anyhow::ensure!(waits < 10_000, "round {round} never started");
                tokio::time::sleep(Duration::from_millis(slot_ms)).await;
                continue;
            }
            let p = self.probe(ctx, round, &url, own).await?;
            // A probe that ended after the round is not a record of this round.
            if p.timestamp.sent_slot >= slots.end {
                break;
            }
            records.probes.push(p);
            ctx.kv_put(&key(round), &serde_json::to_vec(&records)?)
                .await?;
            tokio::time::sleep(spacing).await;
        }
        Ok(())
    }

    async fn submission(&self, ctx: &Context, round: u64) -> anyhow::Result<Option<Vec<u8>>> {
        let records = Self::load(ctx, round).await?;
        if records.probes.is_empty() {
            return Ok(None);
        }
        Ok(Some(proof(&records, &ctx.node())?))
    }

    async fn audit(
        &self,
        ctx: &Context,
        round: u64,
        candidate: Pubkey,
        value: Vec<u8>,
    ) -> anyhow::Result<Verdict> {
        let resp = ctx
            .peer_get(&candidate, &format!("records/{round}"))
            .await?;
        if !(200..300).contains(&resp.status) {
            anyhow::bail!(
                "peer {candidate} answered {} for its records of round {round}",
                resp.status
            );
        }
        let Ok(records) = serde_json::from_slice::<RoundRecords>(&resp.body) else {
            return Ok(Verdict::Invalid);
        };
        let slots = ctx.round_slots(round).await?;
        Ok(
            match Self::check(ctx, &records, &candidate, round, slots, &value) {
                Ok(()) => Verdict::Valid,
                Err(why) => {
                    eprintln!("rest-monitor: {candidate} round {round} invalid: {why}");
                    Verdict::Invalid
                }
            },
        )
    }

    fn routes(self: Arc<Self>, ctx: Context) -> Router {
        Router::new().route(
            "/records/{round}",
            get(move |Path(round): Path<String>| {
                let ctx = ctx.clone();
                async move { records_route(&ctx, &round).await }
            }),
        )
    }
}

async fn records_route(ctx: &Context, round: &str) -> Response {
    let r = match round_param(round, "GET /records/<round>") {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    match ctx.kv_get(&key(r)).await {
        Ok(Some(bytes)) => json_bytes(StatusCode::OK, bytes),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no records for round {r}")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

fn main() -> ExitCode {
    gradual_task_sdk::run(RestMonitor::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_task_sdk::testing::{start_task, ControlClient, FakeNode};

    const TOKEN: &str = "tok";

    #[test]
    fn only_loopback_urls() {
        assert!(check_loopback("http://127.0.0.1:8100/node/v1/slot").is_ok());
        assert!(check_loopback("http://localhost/x").is_ok());
        assert!(check_loopback("http://[::1]:80/").is_ok());
        let e = check_loopback("http://10.0.0.1/").unwrap_err().to_string();
        assert!(e.contains("not on loopback"), "{e}");
        assert!(check_loopback("https://127.0.0.1/").is_err());
    }

    #[tokio::test]
    async fn probes_proves_and_audits_through_peer_routes() {
        let task = Hash([6; 32]);
        // Rounds of 10 slots from 100; the fake node's slot moves forward on every probe.
        let mk = |seed: u8| FakeNode::start_seeded(task, seed, TOKEN);
        let (a, b) = (mk(1).await.unwrap(), mk(2).await.unwrap());
        a.with(|s| {
            s.slot = 111;
            s.slot_ms = 50;
        });
        b.with(|s| s.slot = 125);
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (url_a, _) = start_task(RestMonitor::default(), a.env(0, da.path()))
            .await
            .unwrap();
        let (url_b, _) = start_task(RestMonitor::default(), b.env(0, db.path()))
            .await
            .unwrap();
        b.with(|s| s.peer_routes.insert(a.node().to_base58(), url_a.clone()));
        let ca = ControlClient::new(&url_a, TOKEN);
        let cb = ControlClient::new(&url_b, TOKEN);

        assert_eq!(
            ca.submission(1).await.unwrap().1["value"],
            serde_json::Value::Null
        );
        assert_eq!(ca.task(1).await.unwrap().0, 200);
        let mut records = None;
        for _ in 0..200 {
            let r = reqwest::get(format!("{url_a}/records/1")).await.unwrap();
            if r.status() == 200 {
                let rec: RoundRecords = r.json().await.unwrap();
                if rec.probes.len() == PROBES_PER_ROUND {
                    records = Some(rec);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let records = records.expect("three probes recorded");
        assert_eq!(records.probes[0].status, 200, "{:?}", records.probes[0]);
        assert!(records.probes[0].url.ends_with("/node/v1/slot"));
        a.with(|s| s.slot = 121);

        let value = ca.submission_bytes(1).await.unwrap().expect("a proof");
        assert_eq!(cb.verdict(1, &a.node(), &value).await.unwrap(), "valid");
        // A proof that is not the records' digest (e.g. copied or garbage) is invalid.
        assert_eq!(cb.verdict(1, &a.node(), &[7; 32]).await.unwrap(), "invalid");
        // No records for round 2 (404): cannot check, abstain.
        assert_eq!(cb.verdict(2, &a.node(), &value).await.unwrap(), "abstain");
        // Records that claim a slot outside the round are invalid.
        let mut forged = records.clone();
        forged.probes[0].timestamp.received_slot = 99;
        a.with(|s| {
            s.kv.insert("records/1".into(), serde_json::to_vec(&forged).unwrap())
        });
        let forged_value = proof(&forged, &a.node()).unwrap();
        assert_eq!(
            cb.verdict(1, &a.node(), &forged_value).await.unwrap(),
            "invalid"
        );
        // An unreachable peer: abstain.
        b.with(|s| s.peer_routes.clear());
        assert_eq!(cb.verdict(1, &a.node(), &value).await.unwrap(), "abstain");
    }
}
