//! Limits of the JSON-RPC door: every input is bounded before it is decoded, and every
//! answer before it is built. The validator enforces them; clients may read them to stay
//! inside (the typed client pages through lists by itself).
//!
//! Lengths are checked **before** decoding: base58 decoding is quadratic in its input, so a
//! long string must be refused by its length alone.

use gradual_types::constants::TX_BYTES_MAX;

/// Longest base58 text of a 32-byte key, hash or task id.
pub const KEY_BASE58_CHARS_MAX: usize = 44;
/// Longest base58 text of a 64-byte signature.
pub const SIGNATURE_BASE58_CHARS_MAX: usize = 88;
/// Longest base64 text of a transaction (`TX_BYTES_MAX` bytes, padded).
pub const TX_BASE64_CHARS_MAX: usize = TX_BYTES_MAX.div_ceil(3) * 4;
/// Largest transaction `sendTransaction` takes as base58; larger ones must use base64
/// (base58 decoding costs the square of the length).
pub const TX_BASE58_BYTES_MAX: usize = 2 * 1024;
/// Longest base58 text of a transaction: 2 KiB of bytes (1.3658 base58 digits per byte).
pub const TX_BASE58_CHARS_MAX: usize = 2_800;

/// Longest method name; a longer one is refused without looking for a near match.
pub const METHOD_CHARS_MAX: usize = 64;
/// Longest string request id (ids are echoed back).
pub const ID_CHARS_MAX: usize = 128;
/// Deepest nesting of arrays and objects in a request body (a batch of calls with params is
/// depth 4). Checked in one pass over the bytes before they are parsed.
pub const JSON_DEPTH_MAX: usize = 16;
/// Default largest request body, in bytes (the validator's `body_max_bytes`).
pub const BODY_BYTES_DEFAULT: usize = 2 * 1024 * 1024;
/// Default most calls in one batch (the validator's `batch_max`); the count is checked
/// before the batch is parsed.
pub const BATCH_CALLS_DEFAULT: usize = 100;
/// The calls of a batch run concurrently and share this deadline: a long poll in a batch
/// waits at most until it; a call still running at it answers [`crate::codes::TIMEOUT`].
pub const BATCH_DEADLINE_MS: u64 = 30_000;
/// Long polls (`waitForSlot`) waiting at once on one validator; more are refused with
/// [`crate::codes::BUSY`].
pub const LONG_POLLS_MAX: usize = 1_024;
/// JSON-RPC requests (HTTP bodies) handled at once; more are refused with HTTP 503 and
/// [`crate::codes::BUSY`].
pub const REQUESTS_IN_FLIGHT_MAX: usize = 512;
/// CPU-heavy calls (transaction decoding and signature checks, ledger and store reads) run
/// on blocking threads, at most this many at once; the rest wait their turn.
pub const HEAVY_CALLS_MAX: usize = 4;
/// Heavy calls of one batch that may wait for or hold the pool at once: a batch cannot queue
/// a hundred calls ahead of other requests.
pub const BATCH_HEAVY_CALLS_MAX: usize = 2;

/// Most signatures one `getSignatureStatuses` call takes.
pub const SIGNATURE_STATUSES_MAX: usize = 256;
/// Most blocks one `getBlocks` call returns.
pub const BLOCKS_LIMIT_MAX: u64 = 100;
/// `getBlocks` with transactions stops adding blocks once their transactions hold this many
/// bytes (it always returns at least one); continue from the last slot + 1. One block's page
/// of transactions (`getBlock`) stops at this many bytes too (`next_tx_offset` continues).
pub const BLOCKS_TX_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most transactions one `getBlock` shows (`limit` of its config); page with `offset`.
pub const BLOCK_TXS_PAGE_MAX: u64 = 1_000;
/// Most rounds `getTaskAccountInfo` shows (the most recent the ledger holds; a round's lists
/// are cut at [`PAGE_LIMIT_MAX`] items each, `truncated` says so).
pub const ROUNDS_SHOWN_MAX: usize = 32;
/// Most tasks one `getProgramTasks` page holds (each costs a pass over its stakes).
pub const TASKS_PAGE_MAX: u64 = 100;
/// Most items of a paged list, and its default (`limit` of a read's config): stakes, rewards,
/// submissions, audits, the tasks of an account.
pub const PAGE_LIMIT_MAX: u64 = 1_000;
/// Most distribution entries one `getTaskDistributionInfo` call returns.
pub const ENTRIES_PAGE_MAX: u64 = 10_000;

const _: () = assert!(TX_BASE64_CHARS_MAX == 87_384);
// 2 KiB in base58 needs at most ⌈2048 · log(256) / log(58)⌉ = 2798 digits.
const _: () = assert!(TX_BASE58_BYTES_MAX * 13_658 / 10_000 < TX_BASE58_CHARS_MAX);
const _: () = assert!(TASKS_PAGE_MAX <= PAGE_LIMIT_MAX);
