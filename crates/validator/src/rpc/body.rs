//! The JSON-RPC body: its shape checked in one pass before parsing, then one call or a
//! batch of calls run concurrently under one deadline.

use super::common::{internal, timed_out};
use super::dispatch::dispatch;
use crate::params::kind;
use crate::shared::Shared;
use gradual_rpc::limits::*;
use gradual_rpc::{codes, Id, Response, RpcError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What one pass over the body's bytes found, before it is parsed.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    /// Elements of a top-level array (a batch).
    batch: Option<usize>,
}

/// One pass over a JSON text: refuse nesting deeper than `depth_max`, and count the
/// elements of a top-level array. Does not validate the JSON (the parser does).
fn scan(body: &[u8], depth_max: usize) -> Result<Shape, RpcError> {
    let mut depth = 0usize;
    let (mut in_str, mut esc) = (false, false);
    let mut top_array = None;
    let mut commas = 0usize;
    let mut items = false;
    for &b in body {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_str = true;
                if depth == 1 {
                    items = true;
                }
            }
            b'[' | b'{' => {
                if depth == 0 && top_array.is_none() {
                    top_array = Some(b == b'[');
                } else if depth == 1 {
                    items = true;
                }
                depth += 1;
                if depth > depth_max {
                    return Err(RpcError::new(
                        codes::INVALID_REQUEST,
                        format!(
                            "request nests arrays and objects more than {depth_max} deep; send a flatter request"
                        ),
                    ));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => commas += 1,
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ if depth == 1 => items = true,
            _ => {}
        }
    }
    let batch = (top_array == Some(true)).then(|| if items { commas + 1 } else { 0 });
    Ok(Shape { batch })
}

/// Bodies larger than this are parsed on a blocking thread.
const PARSE_INLINE_BYTES: usize = 16 * 1024;

fn parse_error(e: serde_json::Error) -> RpcError {
    RpcError::new(
        codes::PARSE_ERROR,
        format!("request body is not valid JSON: {e}"),
    )
}

async fn parse(shared: &Shared, body: &[u8]) -> Result<Value, RpcError> {
    if body.len() <= PARSE_INLINE_BYTES {
        return serde_json::from_slice(body).map_err(parse_error);
    }
    let _permit = shared
        .heavy
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| internal("worker pool closed"))?;
    let owned = body.to_vec();
    tokio::task::spawn_blocking(move || serde_json::from_slice(&owned).map_err(parse_error))
        .await
        .map_err(internal)?
}

/// Handle one HTTP body: a call or a batch. `None` when every call was a notification.
pub async fn handle_body(shared: &Arc<Shared>, body: &[u8]) -> Option<Value> {
    let refuse = |e: RpcError| Some(json!(Response::err(Id::Null, e)));
    let shape = match scan(body, JSON_DEPTH_MAX) {
        Ok(s) => s,
        Err(e) => return refuse(e),
    };
    if let Some(n) = shape.batch {
        if n > shared.batch_max {
            return refuse(RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "batch has {n} calls, the most is {}; split it",
                    shared.batch_max
                ),
            ));
        }
    }
    let parsed = match parse(shared, body).await {
        Ok(v) => v,
        Err(e) => return refuse(e),
    };
    let deadline = Instant::now() + Duration::from_millis(BATCH_DEADLINE_MS);
    match parsed {
        Value::Array(calls) => {
            if calls.is_empty() {
                return refuse(RpcError::new(
                    codes::INVALID_REQUEST,
                    "batch is empty; send at least one call",
                ));
            }
            let out = batch(shared, calls, deadline).await;
            (!out.is_empty()).then(|| json!(out))
        }
        single => match envelope(single) {
            Err(resp) => Some(json!(resp)),
            Ok(c) => {
                let (id, notification) = (c.id.clone(), c.notification);
                match tokio::time::timeout_at(deadline, run(shared.clone(), c, deadline, None))
                    .await
                {
                    Ok(r) => r.map(|r| json!(r)),
                    Err(_) => (!notification).then(|| json!(Response::err(id, timed_out()))),
                }
            }
        },
    }
}

/// Run the calls of a batch concurrently; every call ends by `deadline`. Answers keep the
/// order of the calls.
async fn batch(shared: &Arc<Shared>, calls: Vec<Value>, deadline: Instant) -> Vec<Response> {
    let n = calls.len();
    let mut out: Vec<Option<Response>> = vec![None; n];
    let mut pending: HashMap<tokio::task::Id, (usize, Id)> = HashMap::new();
    let mut set = tokio::task::JoinSet::new();
    // A batch's heavy calls queue for the shared pool a few at a time, so one batch cannot
    // fill the pool's queue ahead of everyone else's calls.
    let share = Arc::new(tokio::sync::Semaphore::new(BATCH_HEAVY_CALLS_MAX));
    for (i, v) in calls.into_iter().enumerate() {
        match envelope(v) {
            Err(resp) => out[i] = Some(*resp),
            Ok(c) => {
                let keep = (!c.notification).then(|| c.id.clone());
                let handle = set.spawn(run(shared.clone(), c, deadline, Some(share.clone())));
                if let Some(id) = keep {
                    pending.insert(handle.id(), (i, id));
                }
            }
        }
    }
    loop {
        match tokio::time::timeout_at(deadline, set.join_next_with_id()).await {
            Ok(Some(Ok((task, r)))) => {
                if let Some((i, _)) = pending.remove(&task) {
                    out[i] = r;
                }
            }
            Ok(Some(Err(e))) => {
                if let Some((i, id)) = pending.remove(&e.id()) {
                    out[i] = Some(Response::err(id, internal("the call failed")));
                }
            }
            Ok(None) => break,
            Err(_) => {
                set.abort_all();
                break;
            }
        }
    }
    for (i, id) in pending.into_values() {
        out[i] = Some(Response::err(id, timed_out()));
    }
    out.into_iter().flatten().collect()
}

/// A request that passed the envelope checks.
struct Call {
    id: Id,
    notification: bool,
    method: String,
    params: Value,
}

fn envelope(v: Value) -> Result<Call, Box<Response>> {
    let Value::Object(mut obj) = v else {
        let err = RpcError::new(
            codes::INVALID_REQUEST,
            format!(
                "a request must be an object with jsonrpc, method and id; got {}",
                kind(&v)
            ),
        );
        return Err(Box::new(Response::err(Id::Null, err)));
    };
    let notification = !obj.contains_key("id");
    let id = match obj.remove("id").unwrap_or(Value::Null) {
        Value::Null => Id::Null,
        Value::String(s) if s.len() <= ID_CHARS_MAX => Id::Str(s),
        Value::String(s) => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "id is a string of {} characters, the most is {ID_CHARS_MAX}",
                    s.len()
                ),
            );
            return Err(Box::new(Response::err(Id::Null, err)));
        }
        Value::Number(n) if n.as_i64().is_some() => Id::Num(n.as_i64().unwrap_or(0)),
        Value::Number(n) if n.as_u64().is_some() => Id::U64(n.as_u64().unwrap_or(0)),
        other => {
            let err = RpcError::new(
                codes::INVALID_REQUEST,
                format!(
                    "id must be an integer (i64 or u64), a string or null, got {}",
                    match other {
                        Value::Number(_) => "a fraction or a number out of range",
                        ref v => kind(v),
                    }
                ),
            );
            return Err(Box::new(Response::err(Id::Null, err)));
        }
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        let err = RpcError::new(codes::INVALID_REQUEST, "jsonrpc must be \"2.0\"");
        return Err(Box::new(Response::err(id, err)));
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        let err = RpcError::new(codes::INVALID_REQUEST, "method must be a string");
        return Err(Box::new(Response::err(id, err)));
    };
    let params = obj.remove("params").unwrap_or(Value::Null);
    Ok(Call {
        id,
        notification,
        method,
        params,
    })
}

async fn run(
    shared: Arc<Shared>,
    c: Call,
    deadline: Instant,
    share: Option<Arc<tokio::sync::Semaphore>>,
) -> Option<Response> {
    let result = dispatch(&shared, &c.method, c.params, deadline, share).await;
    if c.notification {
        return None;
    }
    Some(match result {
        Ok(v) => Response::ok(c.id, v),
        Err(e) => Response::err(c.id, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_bounds_depth_and_counts_batches_before_parsing() {
        assert_eq!(scan(b"{\"a\":1}", 4).unwrap(), Shape { batch: None });
        assert_eq!(scan(b"[]", 4).unwrap(), Shape { batch: Some(0) });
        assert_eq!(scan(b" [ ] ", 4).unwrap(), Shape { batch: Some(0) });
        assert_eq!(
            scan(br#"[{"a":[1,2]}, {"b":"x,]"}, 3]"#, 4).unwrap(),
            Shape { batch: Some(3) }
        );
        // Brackets and escaped quotes inside strings do not count.
        assert_eq!(
            scan(br#"["[[[[[", "\"[[[[", 1]"#, 2).unwrap(),
            Shape { batch: Some(3) }
        );
        let deep = "[".repeat(17) + &"]".repeat(17);
        let e = scan(deep.as_bytes(), JSON_DEPTH_MAX).unwrap_err();
        assert_eq!(e.code, codes::INVALID_REQUEST);
        assert!(e.message.contains("more than 16 deep"), "{}", e.message);
        let ok = "[".repeat(16) + &"]".repeat(16);
        assert!(scan(ok.as_bytes(), JSON_DEPTH_MAX).is_ok());
        // Unbalanced input is left to the parser, never a panic.
        assert!(scan(b"]]]]}}}", 4).is_ok());
    }

    #[test]
    fn ids_up_to_u64_and_bounded_strings() {
        let call = |id: Value| envelope(json!({"jsonrpc": "2.0", "method": "getSlot", "id": id}));
        assert_eq!(call(json!(u64::MAX)).ok().unwrap().id, Id::U64(u64::MAX));
        assert_eq!(call(json!(-5)).ok().unwrap().id, Id::Num(-5));
        assert_eq!(call(json!("x")).ok().unwrap().id, Id::Str("x".into()));
        let long = "x".repeat(ID_CHARS_MAX + 1);
        let e = call(json!(long)).err().unwrap();
        assert_eq!(e.id, Id::Null);
        assert!(e.error.unwrap().message.contains("the most is 128"));
        let e = call(json!(1.5)).err().unwrap();
        assert_eq!(e.error.unwrap().code, codes::INVALID_REQUEST);
        // u64 ids round-trip through the wire type.
        let r: Response =
            serde_json::from_value(json!({"jsonrpc": "2.0", "result": 1, "id": u64::MAX})).unwrap();
        assert_eq!(r.id, Id::U64(u64::MAX));
    }
}
