//! `gradual-task-sdk`: write a Gradual Consensus task in Rust. Implement [`Task`] (the five
//! entry points of SPEC §8), call [`run`] from `main`, and the SDK speaks the task process
//! protocol (docs/task-protocol.md) with the node that started the executable.
//!
//! It does **not** schedule rounds, send transactions or talk to the ledger or to peers
//! directly: the node does all of that. A task only answers control calls and uses the
//! node's services through [`Context`]. [`protocol`] (types only) builds without the
//! `runtime` feature, for the node.
//!
//! ```text
//!   node ──POST /gradual/v1/{task,submission,audit,distribution} (bearer)──▶ run(task)
//!                                                                            │ Task::*(ctx, ..)
//!   node ◀──GET/PUT/POST /node/v1/* (bearer): slot, kv, sign, ledger, peers── Context
//!   peers ──GET <node>/task/<id>/<path> ──(node proxies)──▶ Task::routes (axum Router)
//! ```
//!
//! Errors: a failed `submission` answers 500 (no proof this round), a failed `audit`
//! answers `abstain`, a failed `distribution` answers 500 (no list, no vote), a failed
//! `task` is logged. `GRADUAL_ADVERSARY` turns any SDK task into a misbehaving one for test
//! networks (see [`Adversary`]).

pub mod protocol;

#[cfg(feature = "runtime")]
mod adversary;
#[cfg(feature = "runtime")]
mod context;
#[cfg(feature = "runtime")]
pub mod respond;
#[cfg(feature = "runtime")]
mod server;
#[cfg(feature = "test-utils")]
pub mod testing;

#[cfg(feature = "runtime")]
pub use adversary::Adversary;
#[cfg(feature = "runtime")]
pub use context::{
    Context, EnvError, PeerResponse, ServiceError, Signed, TaskEnv, SERVICE_TIMEOUT_MS,
};
#[cfg(feature = "runtime")]
pub use server::{router, run, serve};

#[cfg(feature = "runtime")]
pub use gradual_rpc::dto;
#[cfg(feature = "runtime")]
pub use gradual_types::equal_split;
#[cfg(feature = "runtime")]
pub use gradual_types::{Hash, Pubkey, Signature, TaskId, Verdict};
#[cfg(feature = "runtime")]
pub use {anyhow, axum};

#[cfg(feature = "runtime")]
use std::future::Future;

/// A proof bound to the node and the round: `blake3(tag ‖ content ‖ node ‖ round)`, where
/// `content` is (a digest of) the round's work. Another node's proof, or another round's,
/// is not this one, so a copy fails its audit (SPEC §8). `tag` names the task and version.
#[cfg(feature = "runtime")]
pub fn bound_proof(tag: &[u8], content: &[u8], node: &Pubkey, round: u64) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(tag);
    h.update(content);
    h.update(&node.0);
    h.update(&round.to_le_bytes());
    h.finalize().as_bytes().to_vec()
}

/// A task: the five entry points of SPEC §8. The node calls them at the times of SPEC §3;
/// see docs/task-protocol.md §2 for what each must guarantee (idempotent `task`, a proof that
/// binds node and round, deterministic `audit` and `distribution`).
#[cfg(feature = "runtime")]
pub trait Task: Send + Sync + 'static {
    /// Do the work of `round` (called at the start of its work period, and again after a
    /// restart). The SDK runs it in the background and answers the node at once; a second
    /// call while one for the same round still runs is ignored.
    fn task(&self, ctx: &Context, round: u64) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// The proof for `round` (≤ 512 bytes), or `None` to submit nothing.
    fn submission(
        &self,
        ctx: &Context,
        round: u64,
    ) -> impl Future<Output = anyhow::Result<Option<Vec<u8>>>> + Send;

    /// Check `candidate`'s proof `value` for `round`. Say `Invalid` only when sure; an error
    /// is answered as `Abstain`.
    fn audit(
        &self,
        ctx: &Context,
        round: u64,
        candidate: Pubkey,
        value: Vec<u8>,
    ) -> impl Future<Output = anyhow::Result<Verdict>> + Send;

    /// The reward list of `round`. Must be deterministic (it is also used to check other
    /// nodes' lists). Default: SPEC §6 equal split, [`equal_split`].
    fn distribution(
        &self,
        ctx: &Context,
        round: u64,
        submitters: Vec<Pubkey>,
        bounty: u64,
    ) -> impl Future<Output = anyhow::Result<Vec<(Pubkey, u64)>>> + Send {
        let _ = (ctx, round);
        async move { Ok(equal_split(&submitters, bounty)) }
    }

    /// Routes peers reach at `<node url>/task/<task id>/...` (served at `/...` here, without
    /// the bearer token). Paths under `/gradual/` are reserved. Default: none.
    fn routes(self: std::sync::Arc<Self>, ctx: Context) -> axum::Router {
        let _ = ctx;
        axum::Router::new()
    }
}
