//! Reading JSON-RPC params: positional (`[a, b]`) or by name (`{"task": a, "round": b}`),
//! with errors that name the parameter and say what was expected.

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
                            "{method} has no param '{k}'; its params are {}",
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

    pub fn pubkey(&self, i: usize) -> Result<Pubkey, RpcError> {
        const E: &str = "a base58 public key (32 bytes)";
        let s = self.string(i, E)?;
        s.parse().map_err(|e: gradual_types::ParseKeyError| {
            RpcError::invalid_params(format!(
                "{}: param {i} ({}) must be {E}: {e}",
                self.method, self.names[i]
            ))
        })
    }

    pub fn opt_pubkey(&self, i: usize) -> Result<Option<Pubkey>, RpcError> {
        if self.opt(i).is_none() {
            return Ok(None);
        }
        self.pubkey(i).map(Some)
    }

    pub fn hash(&self, i: usize) -> Result<Hash, RpcError> {
        const E: &str = "a base58 id (32 bytes)";
        let s = self.string(i, E)?;
        Hash::from_base58(s).map_err(|e| {
            RpcError::invalid_params(format!(
                "{}: param {i} ({}) must be {E}: {e}",
                self.method, self.names[i]
            ))
        })
    }

    pub fn signature(&self, i: usize) -> Result<Signature, RpcError> {
        const E: &str = "a base58 transaction signature (64 bytes)";
        let s = self.string(i, E)?;
        s.parse().map_err(|e: gradual_types::ParseKeyError| {
            RpcError::invalid_params(format!(
                "{}: param {i} ({}) must be {E}: {e}",
                self.method, self.names[i]
            ))
        })
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
                    "{}: param {i} ({}) has unknown key '{k}'; expected {expected}",
                    self.method, self.names[i]
                )));
            }
        }
        Ok(map.clone())
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

/// A value for an error message, cut short.
fn short(v: &Value) -> String {
    let s = v.to_string();
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
}
