//! JSON-RPC 2.0 over HTTP: envelope checks, batches, and every method.
//!
//! Every input is bounded before it costs anything (`gradual_rpc::limits`): the body's
//! nesting depth and batch size are checked in one pass over its bytes before it is parsed,
//! every base58/base64 param by its length before it is decoded. The calls of a batch run
//! concurrently and share one deadline. CPU-heavy calls (transaction decoding and signature
//! checks, ledger and store reads) run on blocking threads, a bounded number at once, so
//! they never stall the async workers that serve everything else. Reads copy one bounded
//! page of committed state under a read lock and build their answer after releasing it.

mod admit;
mod body;
mod common;
mod dispatch;
mod reads;
mod wait;

pub use body::handle_body;
