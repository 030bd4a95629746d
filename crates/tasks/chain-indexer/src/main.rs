//! `gradual-chain-indexer`: an example task that indexes the ledger's own blocks. For each
//! round it reads the blocks of the round's work period (slots `start(r)..start(r+1)`, from the
//! task account's clock), builds an index of their transactions, serves it to anyone, and
//! submits `blake3(index_digest ‖ node ‖ round)`. Auditors rebuild the index from their own
//! node's view of the ledger and compare.
//!
//! It does **not** talk to the validator itself (blocks come through the node's
//! `/node/v1/blocks`), keep more than [`ROUNDS_KEPT`] rounds, or index anything off-chain.
//!
//! ```text
//!  task(r): wait for slot >= start(r+1)-1 ─▶ /node/v1/blocks (paged) ─▶ RoundIndex ─▶ data dir
//!                                                                        │ digest
//!  submission(r) ─▶ blake3(tag ‖ digest ‖ node ‖ r)        audit(r, c, v): rebuild, compare
//!  routes: GET /index/<round>  GET /tx/<signature>  GET /rounds
//! ```
//!
//! `GRADUAL_ADVERSARY` (test networks, applied by the SDK): `garbage` submits random bytes,
//! `false-accuser` calls every proof invalid, `bad-distribution` inflates its own reward,
//! `offline` never answers submission calls.

use gradual_task_sdk::axum::extract::Path;
use gradual_task_sdk::axum::http::StatusCode;
use gradual_task_sdk::axum::response::Response;
use gradual_task_sdk::axum::routing::get;
use gradual_task_sdk::axum::Router;
use gradual_task_sdk::dto::BlockDto;
use gradual_task_sdk::respond::{error, json, round_param};
use gradual_task_sdk::{anyhow, bound_proof, Context, Pubkey, Task, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Rounds of index kept on disk and in memory.
pub const ROUNDS_KEPT: u64 = 64;
/// Longest `task(round)` waits for the round's blocks, in rounds of time.
const WAIT_ROUNDS_MAX: u64 = 3;
const DIGEST_TAG: &[u8] = b"gradual-chain-indexer/index/v1";
const PROOF_TAG: &[u8] = b"gradual-chain-indexer/proof/v1";

/// One transaction in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedTx {
    pub signature: String,
    pub signer: String,
    pub instruction: String,
    /// The ledger's error kind if the transaction was rejected.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedBlock {
    pub slot: u64,
    pub hash: String,
    pub tx_count: u32,
    pub txs: Vec<IndexedTx>,
}

/// The index of one round's blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundIndex {
    pub round: u64,
    /// Slots `start_slot..end_slot`.
    pub start_slot: u64,
    pub end_slot: u64,
    pub blocks: Vec<IndexedBlock>,
    /// base58 blake3 of the canonical encoding (see [`index_digest`]).
    pub digest: String,
}

fn put_str(h: &mut blake3::Hasher, s: &str) {
    h.update(&(s.len() as u64).to_le_bytes());
    h.update(s.as_bytes());
}

/// Canonical digest: tag, round, slots, then per block its slot, hash, tx count and each
/// transaction's signature, signer, instruction and error kind (length-prefixed).
pub fn index_digest(round: u64, start: u64, end: u64, blocks: &[IndexedBlock]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(DIGEST_TAG);
    for n in [round, start, end, blocks.len() as u64] {
        h.update(&n.to_le_bytes());
    }
    for b in blocks {
        h.update(&b.slot.to_le_bytes());
        put_str(&mut h, &b.hash);
        h.update(&b.tx_count.to_le_bytes());
        h.update(&(b.txs.len() as u64).to_le_bytes());
        for t in &b.txs {
            put_str(&mut h, &t.signature);
            put_str(&mut h, &t.signer);
            put_str(&mut h, &t.instruction);
            put_str(&mut h, t.error.as_deref().unwrap_or(""));
        }
    }
    *h.finalize().as_bytes()
}

/// The proof: `blake3(tag ‖ index digest ‖ node ‖ round)`, bound to the node and round.
pub fn proof(digest: &[u8; 32], node: &Pubkey, round: u64) -> Vec<u8> {
    bound_proof(PROOF_TAG, digest, node, round)
}

/// Build the index of `blocks` (already limited to `start..end`).
pub fn build_index(round: u64, start: u64, end: u64, blocks: &[BlockDto]) -> RoundIndex {
    let blocks: Vec<IndexedBlock> = blocks
        .iter()
        .map(|b| IndexedBlock {
            slot: b.slot,
            hash: b.hash.to_base58(),
            tx_count: b.tx_count,
            txs: b
                .transactions
                .iter()
                .flatten()
                .map(|t| IndexedTx {
                    signature: t.signature.clone(),
                    signer: t.signer.clone(),
                    instruction: t.instruction.clone(),
                    error: t.err.as_ref().map(|e| e.kind.clone()),
                })
                .collect(),
        })
        .collect();
    let digest = index_digest(round, start, end, &blocks);
    RoundIndex {
        round,
        start_slot: start,
        end_slot: end,
        blocks,
        digest: Hash32(digest).to_string(),
    }
}

struct Hash32([u8; 32]);
impl std::fmt::Display for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&gradual_task_sdk::Hash(self.0).to_base58())
    }
}

#[derive(Default)]
pub struct ChainIndexer {
    cache: Mutex<BTreeMap<u64, Arc<RoundIndex>>>,
}

impl ChainIndexer {
    fn dir(&self, ctx: &Context) -> PathBuf {
        ctx.data_dir().join("index")
    }

    fn cached(&self, round: u64) -> Option<Arc<RoundIndex>> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&round)
            .cloned()
    }

    fn remember(&self, idx: Arc<RoundIndex>) {
        let mut c = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        c.insert(idx.round, idx.clone());
        while c.len() as u64 > ROUNDS_KEPT {
            c.pop_first();
        }
    }

    /// The index of `round` from memory or disk, if this node built it.
    fn stored(&self, dir: &std::path::Path, round: u64) -> Option<Arc<RoundIndex>> {
        if let Some(i) = self.cached(round) {
            return Some(i);
        }
        let bytes = std::fs::read(dir.join(format!("{round}.json"))).ok()?;
        let idx: RoundIndex = serde_json::from_slice(&bytes).ok()?;
        let idx = Arc::new(idx);
        self.remember(idx.clone());
        Some(idx)
    }

    /// Build the index of `round` from the node's blocks (fails if the round is not over).
    async fn index(&self, ctx: &Context, round: u64) -> anyhow::Result<Arc<RoundIndex>> {
        let dir = self.dir(ctx);
        if let Some(i) = self.stored(&dir, round) {
            return Ok(i);
        }
        let slots = ctx.round_slots(round).await?;
        let blocks = ctx.blocks_in(slots.clone()).await?;
        let idx = Arc::new(build_index(round, slots.start, slots.end, &blocks));
        std::fs::create_dir_all(&dir)
            .map_err(|e| anyhow::anyhow!("cannot create the index dir {}: {e}", dir.display()))?;
        let file = dir.join(format!("{round}.json"));
        std::fs::write(&file, serde_json::to_vec(&*idx)?)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
        if let Some(old) = round.checked_sub(ROUNDS_KEPT) {
            let _ = std::fs::remove_file(dir.join(format!("{old}.json")));
        }
        self.remember(idx.clone());
        Ok(idx)
    }

    fn own_proof(idx: &RoundIndex, node: &Pubkey) -> anyhow::Result<Vec<u8>> {
        let digest = gradual_task_sdk::Hash::from_base58(&idx.digest)
            .map_err(|e| anyhow::anyhow!("stored index of round {} is corrupt: {e}", idx.round))?;
        Ok(proof(&digest.0, node, idx.round))
    }
}

impl Task for ChainIndexer {
    async fn task(&self, ctx: &Context, round: u64) -> anyhow::Result<()> {
        let slots = ctx.round_slots(round).await?;
        let info = ctx.info().await?;
        let tick = Duration::from_millis(info.slot_ms.clamp(50, 5_000));
        let rt = slots.end.saturating_sub(slots.start).max(1);
        let polls_max = rt.saturating_mul(WAIT_ROUNDS_MAX).saturating_add(10);
        let mut polls = 0;
        // Seeing the period's last slot means all of its blocks are known (they come in order).
        while ctx.slot().await?.slot.saturating_add(1) < slots.end {
            polls += 1;
            if polls > polls_max {
                anyhow::bail!(
                    "round {round} did not end (slot {}) within {polls_max} slots; the index will be built at submission",
                    slots.end
                );
            }
            tokio::time::sleep(tick).await;
        }
        let idx = self.index(ctx, round).await?;
        let value = Self::own_proof(&idx, &ctx.node())?;
        ctx.kv_put(&format!("proof/{round}"), &value).await?;
        Ok(())
    }

    async fn submission(&self, ctx: &Context, round: u64) -> anyhow::Result<Option<Vec<u8>>> {
        if let Some(v) = ctx.kv_get(&format!("proof/{round}")).await? {
            return Ok(Some(v));
        }
        let idx = self.index(ctx, round).await?;
        Ok(Some(Self::own_proof(&idx, &ctx.node())?))
    }

    async fn audit(
        &self,
        ctx: &Context,
        round: u64,
        candidate: Pubkey,
        value: Vec<u8>,
    ) -> anyhow::Result<Verdict> {
        // An error here (our node lags, the ledger is unreachable) means abstain.
        let idx = self.index(ctx, round).await?;
        let expected = Self::own_proof(&idx, &candidate)?;
        Ok(if value == expected {
            Verdict::Valid
        } else {
            Verdict::Invalid
        })
    }

    fn routes(self: Arc<Self>, ctx: Context) -> Router {
        let (me, me2, me3) = (self.clone(), self.clone(), self);
        let (c1, c2, c3) = (ctx.clone(), ctx.clone(), ctx);
        Router::new()
            .route(
                "/index/{round}",
                get(move |Path(round): Path<String>| {
                    let (me, ctx) = (me.clone(), c1.clone());
                    async move { index_route(&me, &ctx, &round) }
                }),
            )
            .route(
                "/tx/{signature}",
                get(move |Path(sig): Path<String>| {
                    let (me, ctx) = (me2.clone(), c2.clone());
                    async move { tx_route(&me, &ctx, &sig) }
                }),
            )
            .route(
                "/rounds",
                get(move || {
                    let (me, ctx) = (me3.clone(), c3.clone());
                    async move { rounds_route(&me, &ctx) }
                }),
            )
    }
}

fn stored_rounds(dir: &std::path::Path) -> Vec<u64> {
    let mut rounds: Vec<u64> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json")?.parse().ok())
        .collect();
    rounds.sort_unstable();
    rounds
}

fn index_route(me: &ChainIndexer, ctx: &Context, round: &str) -> Response {
    let r = match round_param(round, "GET /index/<round>") {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    match me.stored(&me.dir(ctx), r) {
        Some(idx) => json(StatusCode::OK, &*idx),
        None => error(
            StatusCode::NOT_FOUND,
            format!("round {r} is not indexed here (yet); GET /rounds lists the indexed rounds"),
        ),
    }
}

fn tx_route(me: &ChainIndexer, ctx: &Context, sig: &str) -> Response {
    let dir = me.dir(ctx);
    for r in stored_rounds(&dir).into_iter().rev() {
        let Some(idx) = me.stored(&dir, r) else {
            continue;
        };
        for b in &idx.blocks {
            if let Some(t) = b.txs.iter().find(|t| t.signature == sig) {
                return json(
                    StatusCode::OK,
                    &serde_json::json!({"round": r, "slot": b.slot, "block": b.hash, "tx": t}),
                );
            }
        }
    }
    error(
        StatusCode::NOT_FOUND,
        format!(
            "transaction '{}' is not in the last {ROUNDS_KEPT} indexed rounds",
            sig.chars().take(100).collect::<String>()
        ),
    )
}

fn rounds_route(me: &ChainIndexer, ctx: &Context) -> Response {
    json(
        StatusCode::OK,
        &serde_json::json!({ "rounds": stored_rounds(&me.dir(ctx)) }),
    )
}

fn main() -> ExitCode {
    gradual_task_sdk::run(ChainIndexer::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradual_task_sdk::testing::{block, start_task, ControlClient, FakeNode};

    const TOKEN: &str = "tok";

    async fn node(seed: u8, task: gradual_types::Hash) -> FakeNode {
        // Rounds of 10 slots from slot 100; round 1 is slots 110..120.
        let n = FakeNode::start_seeded(task, seed, TOKEN).await.unwrap();
        n.with(|s| {
            s.blocks = vec![
                block(109, &[("sigA", "alice", "Transfer")]),
                block(
                    110,
                    &[("sigB", "bob", "Stake"), ("sigC", "carol", "SubmitProof")],
                ),
                block(115, &[]),
                block(119, &[("sigD", "dave", "Claim")]),
                block(120, &[("sigE", "erin", "Transfer")]),
            ];
            s.slot = 121;
        });
        n
    }

    #[tokio::test]
    async fn indexes_proves_audits_and_serves() {
        let task = gradual_types::Hash([5; 32]);
        let (a, b) = (node(1, task).await, node(2, task).await);
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (url_a, _) = start_task(ChainIndexer::default(), a.env(0, da.path()))
            .await
            .unwrap();
        let (url_b, _) = start_task(ChainIndexer::default(), b.env(0, db.path()))
            .await
            .unwrap();
        let (ca, cb) = (
            ControlClient::new(&url_a, TOKEN),
            ControlClient::new(&url_b, TOKEN),
        );

        assert_eq!(ca.task(1).await.unwrap().0, 200);
        let pa = ca.submission_bytes(1).await.unwrap().expect("a proof");
        let pb = cb.submission_bytes(1).await.unwrap().expect("a proof");
        assert_eq!(pa.len(), 32);
        assert_ne!(pa, pb, "proofs are bound to the node");

        // b audits a: same ledger, a's key => valid; a copied proof => invalid.
        assert_eq!(cb.verdict(1, &a.node(), &pa).await.unwrap(), "valid");
        assert_eq!(cb.verdict(1, &a.node(), &pb).await.unwrap(), "invalid");
        // A node whose ledger differs (a block changed) calls a's proof invalid.
        let c = node(3, task).await;
        c.with(|s| s.blocks[1] = block(110, &[("sigX", "mallory", "Stake")]));
        let dc = tempfile::tempdir().unwrap();
        let (url_c, _) = start_task(ChainIndexer::default(), c.env(0, dc.path()))
            .await
            .unwrap();
        let cc = ControlClient::new(&url_c, TOKEN);
        assert_eq!(cc.verdict(1, &a.node(), &pa).await.unwrap(), "invalid");
        // A round that has not ended: abstain, never invalid.
        assert_eq!(cb.verdict(3, &a.node(), &pa).await.unwrap(), "abstain");

        // Routes: the index holds exactly the round's blocks.
        let idx: RoundIndex = reqwest::get(format!("{url_a}/index/1"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            idx.blocks.iter().map(|b| b.slot).collect::<Vec<_>>(),
            vec![110, 115, 119]
        );
        let tx: serde_json::Value = reqwest::get(format!("{url_a}/tx/sigD"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(tx["slot"], 119);
        let status = |path: &str| {
            let url = format!("{url_a}{path}");
            async move { reqwest::get(url).await.unwrap().status() }
        };
        assert_eq!(status("/tx/nope").await, 404);
        assert_eq!(status("/index/x").await, 400);
        // task(1) runs in the background and stores the proof through the kv service.
        for _ in 0..100 {
            if a.with(|s| s.kv.get("proof/1").cloned()) == Some(pa.clone()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("task(1) did not store its proof in the kv store");
    }
}
