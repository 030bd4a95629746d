//! Reading JSON-RPC params: positional (`[a, b]`) or by name (`{"task": a, "round": b}`),
//! with errors that name the parameter and say what was expected.

use gradual_rpc::limits::{KEY_BASE58_CHARS_MAX, SIGNATURE_BASE58_CHARS_MAX};
use gradual_rpc::wire::Base58;
use gradual_rpc::RpcError;
use gradual_types::{Hash, Pubkey, Signature};
use serde_json::{Map, Value};

pub struct Params {
    method: &'static str,
    names: &'static [&'static str],
    values: Vec<Value>,
}

impl Params {
    /// `names` lists the method's parameters in positional order.
    pub fn new(
        method: &'static str,
        names: &'static [&'static str],
        raw: Value,
    ) -> Result<Params, RpcError> {
        let mut values = vec![Value::Null; names.len()];
        match raw {
            Value::Null => {}
            Value::Array(items) => {
                if items.len() > names.len() {
                    return Err(RpcError::invalid_params(format!(
                        "{method} takes at most {} params ({}), got {}",
                        names.len(),
                        list(names),
                        items.len()
                    )));
                }
                for (i, v) in items.into_iter().enumerate() {
                    values[i] = v;
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    let Some(i) = names.iter().position(|n| *n == k) else {
                        return Err(RpcError::invalid_params(format!(
                            "{method} has no param '{}'; its params are {}",
                            clip(&k),
                            list(names)
                        )));
                    };
                    values[i] = v;
                }
            }
            other => {
                return Err(RpcError::invalid_params(format!(
                    "params must be an array or an object, got {}",
                    kind(&other)
                )))
            }
        }
        Ok(Params {
            method,
            names,
            values,
        })
    }

    fn err(&self, i: usize, expected: &str, got: &Value) -> RpcError {
        RpcError::invalid_params(format!(
            "{}: param {i} ({}) must be {expected}, got {}",
            self.method,
            self.names[i],
            short(got)
        ))
    }

    fn missing(&self, i: usize, expected: &str) -> RpcError {
        RpcError::invalid_params(format!(
            "{}: param {i} ({}) is missing; expected {expected}",
            self.method, self.names[i]
        ))
    }

    pub fn opt(&self, i: usize) -> Option<&Value> {
        self.values.get(i).filter(|v| !v.is_null())
    }

    fn req(&self, i: usize, expected: &str) -> Result<&Value, RpcError> {
        self.opt(i).ok_or_else(|| self.missing(i, expected))
    }

    pub fn string(&self, i: usize, expected: &str) -> Result<&str, RpcError> {
        let v = self.req(i, expected)?;
        v.as_str().ok_or_else(|| self.err(i, expected, v))
    }

    /// A string of at most `max` characters (bytes), checked before anything decodes it.
    pub fn bounded(&self, i: usize, expected: &str, max: usize) -> Result<&str, RpcError> {
        let s = self.string(i, expected)?;
        check_len(s, max).map_err(|n| {
            RpcError::invalid_params(format!(
                "{}: param {i} ({}) must be {expected}: it is {n} characters long, the most is {max}",
                self.method, self.names[i]
            ))
        })?;
        Ok(s)
    }

    /// A base58 value (`expected` says which), length-checked before it is decoded.
    fn base58<T: Base58>(&self, i: usize, expected: &str, max: usize) -> Result<T, RpcError> {
        let s = self.bounded(i, expected, max)?;
        T::from_b58(s).map_err(|e| {
            RpcError::invalid_params(format!(
                "{}: param {i} ({}) must be {expected}: {e}",
                self.method, self.names[i]
            ))
        })
    }

    pub fn pubkey(&self, i: usize) -> Result<Pubkey, RpcError> {
        self.base58(i, "a base58 public key (32 bytes)", KEY_BASE58_CHARS_MAX)
    }

    pub fn opt_pubkey(&self, i: usize) -> Result<Option<Pubkey>, RpcError> {
        if self.opt(i).is_none() {
            return Ok(None);
        }
        self.pubkey(i).map(Some)
    }

    pub fn hash(&self, i: usize) -> Result<Hash, RpcError> {
        self.base58(i, "a base58 id (32 bytes)", KEY_BASE58_CHARS_MAX)
    }

    pub fn signature(&self, i: usize) -> Result<Signature, RpcError> {
        const E: &str = "a base58 transaction signature (64 bytes)";
        self.base58(i, E, SIGNATURE_BASE58_CHARS_MAX)
    }

    pub fn u64(&self, i: usize) -> Result<u64, RpcError> {
        const E: &str = "a non-negative integer";
        let v = self.req(i, E)?;
        v.as_u64().ok_or_else(|| self.err(i, E, v))
    }

    pub fn opt_u64(&self, i: usize) -> Result<Option<u64>, RpcError> {
        match self.opt(i) {
            None => Ok(None),
            Some(_) => self.u64(i).map(Some),
        }
    }

    pub fn opt_u16(&self, i: usize) -> Result<Option<u16>, RpcError> {
        const E: &str = "an integer from 0 to 65535";
        match self.opt(i) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.err(i, E, v)),
        }
    }

    /// A config object (`{"flag": bool, ...}`) whose keys must be among `keys`.
    pub fn config(&self, i: usize, keys: &[&str]) -> Result<Map<String, Value>, RpcError> {
        let expected = format!("an object with keys {}", list(keys));
        let Some(v) = self.opt(i) else {
            return Ok(Map::new());
        };
        let Value::Object(map) = v else {
            return Err(self.err(i, &expected, v));
        };
        for k in map.keys() {
            if !keys.contains(&k.as_str()) {
                return Err(RpcError::invalid_params(format!(
                    "{}: param {i} ({}) has unknown key '{}'; expected {expected}",
                    self.method,
                    self.names[i],
                    clip(k)
                )));
            }
        }
        Ok(map.clone())
    }

    /// An integer key of a config object, from 0 to `max`; `default` when absent.
    pub fn cfg_u64(
        &self,
        i: usize,
        cfg: &Map<String, Value>,
        key: &str,
        default: u64,
        max: u64,
    ) -> Result<u64, RpcError> {
        match cfg.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => match v.as_u64() {
                Some(n) if n <= max => Ok(n),
                _ => Err(RpcError::invalid_params(format!(
                    "{}: param {i} ({}) key '{key}' must be an integer from 0 to {max}, got {}",
                    self.method,
                    self.names[i],
                    short(v)
                ))),
            },
        }
    }

    /// A `limit` key of a config object: from 1 to `max`, `default` when absent.
    pub fn cfg_limit(
        &self,
        i: usize,
        cfg: &Map<String, Value>,
        default: u64,
        max: u64,
    ) -> Result<usize, RpcError> {
        let n = self.cfg_u64(i, cfg, "limit", default, u64::MAX)?;
        if n == 0 || n > max {
            return Err(RpcError::invalid_params(format!(
                "{}: param {i} ({}) key 'limit' must be between 1 and {max}, got {n}",
                self.method, self.names[i]
            )));
        }
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// A base58 32-byte key of a config object (a page cursor), length-checked first.
    pub fn cfg_key(
        &self,
        i: usize,
        cfg: &Map<String, Value>,
        key: &str,
    ) -> Result<Option<[u8; 32]>, RpcError> {
        let bad = |why: String| {
            RpcError::invalid_params(format!(
                "{}: param {i} ({}) key '{key}' must be a base58 key or id (32 bytes): {why}",
                self.method, self.names[i]
            ))
        };
        match cfg.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                check_len(s, KEY_BASE58_CHARS_MAX).map_err(|n| {
                    bad(format!(
                        "it is {n} characters long, the most is {KEY_BASE58_CHARS_MAX}"
                    ))
                })?;
                Hash::from_base58(s)
                    .map(|h| Some(h.0))
                    .map_err(|e| bad(e.to_string()))
            }
            Some(v) => Err(bad(format!("got {}", short(v)))),
        }
    }

    /// A boolean key of a config object; `default` when absent.
    pub fn flag(
        &self,
        i: usize,
        cfg: &Map<String, Value>,
        key: &str,
        default: bool,
    ) -> Result<bool, RpcError> {
        match cfg.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(RpcError::invalid_params(format!(
                "{}: param {i} ({}) key '{key}' must be true or false, got {}",
                self.method,
                self.names[i],
                short(other)
            ))),
        }
    }
}

/// `Err(length)` when `s` is longer than `max` bytes.
pub fn check_len(s: &str, max: usize) -> Result<(), usize> {
    if s.len() > max {
        Err(s.len())
    } else {
        Ok(())
    }
}

/// A name from the request for an error message, cut short.
pub fn clip(s: &str) -> String {
    if s.len() <= 80 {
        return s.to_string();
    }
    let mut end = 77;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "none".into();
    }
    names.join(", ")
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for an error message, cut short (without serialising all of a large one).
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) if s.len() > 80 => {
            let mut end = 77;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            return format!("\"{}...", &s[..end]);
        }
        Value::Array(a) if a.len() > 8 => return format!("an array of {} items", a.len()),
        Value::Object(o) if o.len() > 8 => return format!("an object of {} keys", o.len()),
        _ => v.to_string(),
    };
    if s.len() > 80 {
        let mut end = 77;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positional_and_named_params_with_clear_errors() {
        let names: &'static [&'static str] = &["task", "round"];
        let p = Params::new("m", names, json!([null, 3])).unwrap();
        assert_eq!(p.u64(1).unwrap(), 3);
        assert_eq!(
            p.hash(0).unwrap_err().message,
            "m: param 0 (task) is missing; expected a base58 id (32 bytes)"
        );
        let p = Params::new("m", names, json!({"round": "x"})).unwrap();
        assert_eq!(
            p.u64(1).unwrap_err().message,
            "m: param 1 (round) must be a non-negative integer, got \"x\""
        );
        let e = Params::new("m", names, json!({"rnd": 1})).err().unwrap();
        assert_eq!(
            e.message,
            "m has no param 'rnd'; its params are task, round"
        );
        let e = Params::new("m", names, json!([1, 2, 3])).err().unwrap();
        assert_eq!(e.message, "m takes at most 2 params (task, round), got 3");
        let e = Params::new("m", names, json!("x")).err().unwrap();
        assert_eq!(e.code, gradual_rpc::codes::INVALID_PARAMS);
        let p = Params::new("m", names, json!(["abc"])).unwrap();
        assert!(p.hash(0).unwrap_err().message.contains("decodes to"));
        let p = Params::new("m", names, json!([{"stakes": 1}])).unwrap();
        let cfg = p.config(0, &["stakes"]).unwrap();
        assert!(p.flag(0, &cfg, "stakes", false).is_err());
        assert!(p.config(0, &["rewards"]).is_err());
    }

    #[test]
    fn base58_params_are_refused_by_length_before_decoding() {
        let names: &'static [&'static str] = &["pubkey", "signature", "config"];
        let long = "2".repeat(300_000);
        let p = Params::new("m", names, json!([long, long, {"after": long, "k": 1}])).unwrap();
        let started = std::time::Instant::now();
        let e = p.pubkey(0).unwrap_err();
        assert_eq!(
            e.message,
            "m: param 0 (pubkey) must be a base58 public key (32 bytes): it is 300000 characters long, the most is 44"
        );
        assert!(p.hash(0).unwrap_err().message.contains("the most is 44"));
        assert!(p
            .signature(1)
            .unwrap_err()
            .message
            .contains("the most is 88"));
        let cfg = p.config(2, &["after", "k"]).unwrap();
        assert!(p
            .cfg_key(2, &cfg, "after")
            .unwrap_err()
            .message
            .contains("the most is 44"));
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        // Keys at the limit still decode.
        let ok = Pubkey([0xff; 32]).to_base58();
        assert_eq!(ok.len(), KEY_BASE58_CHARS_MAX);
        let p = Params::new("m", names, json!([ok])).unwrap();
        assert_eq!(p.pubkey(0).unwrap(), Pubkey([0xff; 32]));
        let sig = Signature([0xff; 64]).to_base58();
        assert_eq!(sig.len(), SIGNATURE_BASE58_CHARS_MAX);
        // Echoed names are cut short.
        let e = Params::new("m", names, json!({long.clone(): 1}))
            .err()
            .unwrap();
        assert!(e.message.len() < 200, "{}", e.message.len());
    }

    #[test]
    fn page_limits_and_cursors_are_bounded() {
        let names: &'static [&'static str] = &["config"];
        let p = Params::new("m", names, json!([{"limit": 0, "offset": 7}])).unwrap();
        let cfg = p.config(0, &["limit", "offset"]).unwrap();
        assert!(p.cfg_limit(0, &cfg, 10, 100).is_err());
        assert_eq!(p.cfg_u64(0, &cfg, "offset", 0, 10).unwrap(), 7);
        assert!(p.cfg_u64(0, &cfg, "offset", 0, 6).is_err());
        let p = Params::new("m", names, json!([{"limit": 101}])).unwrap();
        let cfg = p.config(0, &["limit"]).unwrap();
        assert_eq!(
            p.cfg_limit(0, &cfg, 10, 100).unwrap_err().message,
            "m: param 0 (config) key 'limit' must be between 1 and 100, got 101"
        );
        let p = Params::new("m", names, json!([{}])).unwrap();
        let cfg = p.config(0, &["limit"]).unwrap();
        assert_eq!(p.cfg_limit(0, &cfg, 10, 100).unwrap(), 10);
    }
}
