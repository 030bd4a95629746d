//! The gradual task node: the I/O shell around the sans-IO scheduler
//! ([`gradual_node_proto::NodeCore`]). (`gradual devnet` is the `gradual-devnet` crate.)
//!
//! What it does: reads the ledger over JSON-RPC (one snapshot per new slot), feeds the core,
//! and carries out its actions: control calls to task processes (each with a timeout),
//! transactions signed with the node's key (proofs journaled before sending, so a `kill -9`
//! neither loses nor doubles one). It fetches task executables (digest-checked, cached),
//! supervises their processes (memory and CPU limits, health checks, restart with
//! exponential backoff, size-rotated log files), and serves one HTTP port: peers' calls to
//! `/task/<id>/...`, the task-service API `/node/v1/*`, `/info`, `/health`, `/metrics`.
//! Its own calls to URLs others chose (peers, artifact URLs) follow no redirects and reach
//! no loopback or private address unless the operator allows it (`outbound.rs`).
//!
//! What it does **not** do: decide anything the core decides (when to submit, whom to
//! audit, how to vote: that is `gradual-node-proto`, shared with the simulator), check
//! ledger rules (the validator does), or trust its tasks: a task that hangs, crashes, lies
//! about its answers or eats memory costs that task its round, never the node.
//!
//! ```text
//!             validator (JSON-RPC)                      peers
//!     waitForSlot │ ▲ sendTransaction                      │ GET /task/<id>/...
//!                 ▼ │                                      ▼
//!   ┌──────── Snapshot ──▶ NodeCore ──actions──┐   ┌──── HTTP server ────┐
//!   │  (view.rs, per slot)   ▲                 │   │ /task proxy, /info,  │
//!   │                        │ answers         ▼   │ /metrics, /node/v1/* │
//!   │   sender (sign, journal proofs) ◀── Send │   └──────────┬───────────┘
//!   │                        │     RunTask/MakeProof/Check/List│ kv, sign, slot, peers
//!   │                        └────── TaskProcess (supervisor) ◀┘
//!   │                                  │ POST /gradual/v1/{task,submission,audit,distribution}
//!   └──────────────────────────────────▼
//!                              task child process (confined: sandbox.rs; logs rotated)
//! ```

pub mod artifact;
mod calls;
pub mod config;
mod driver;
pub mod events;
pub mod http;
mod launcher;
pub mod node;
pub mod outbound;
pub mod sandbox;
mod sender;
pub mod shared;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod unpack;
pub mod view;

pub use config::{ConfigError, Limits, NodeConfig, TaskEntry};
pub use node::{start, Health, NodeError, RunningNode, TaskStatus};
pub use outbound::{OutboundError, OutboundPolicy};
