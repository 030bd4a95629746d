//! The node's HTTP calls to its task process: control calls, the peer proxy, and health
//! checks, each with the task's timeout and an answer size limit.

use super::{ms, CallError, Phase, TaskProcess, TASK_ANSWER_BYTES_MAX};
use gradual_task_sdk::protocol::paths;
use serde_json::Value;
use std::time::Duration;

/// Read an HTTP body of at most `max` bytes.
pub async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, CallError> {
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() + c.len() > max {
                    return Err(CallError::BadAnswer(format!("answer is over {max} bytes")));
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(CallError::Transport(e.to_string())),
        }
    }
}

impl TaskProcess {
    /// Wait up to `wait` for the process to be running; its port.
    async fn running_port(&self, wait: Duration) -> Result<u16, CallError> {
        let mut rx = self.info.subscribe();
        let got = tokio::time::timeout(wait, async {
            rx.wait_for(|i| matches!(i.phase, Phase::Running { .. } | Phase::Stopped))
                .await
                .is_ok()
        })
        .await;
        let phase = self.info.borrow().phase.clone();
        match (got, phase) {
            (Ok(true), Phase::Running { port, .. }) => Ok(port),
            (_, p) => Err(CallError::NotRunning(format!("{p:?}").to_lowercase())),
        }
    }

    /// A control call: `POST <path>` (one of [`paths`]' control paths) with `body`; the JSON
    /// answer.
    pub async fn call(&self, path: &str, body: &Value) -> Result<Value, CallError> {
        let timeout = Duration::from_millis(self.limits.call_timeout_ms);
        let port = self
            .running_port(timeout.max(Duration::from_millis(self.limits.start_timeout_ms)))
            .await?;
        let url = format!("http://127.0.0.1:{port}{path}");
        let req = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .json(body)
            .timeout(timeout)
            .send();
        let resp = match req.await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Err(CallError::Timeout(self.limits.call_timeout_ms))
            }
            Err(e) => return Err(CallError::Transport(e.to_string())),
        };
        let status = resp.status();
        let bytes = tokio::time::timeout(timeout, read_limited(resp, TASK_ANSWER_BYTES_MAX))
            .await
            .map_err(|_| CallError::Timeout(self.limits.call_timeout_ms))??;
        if !status.is_success() {
            let body: String = String::from_utf8_lossy(&bytes).chars().take(300).collect();
            return Err(CallError::Status {
                status: status.as_u16(),
                body,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| CallError::BadAnswer(format!("not JSON: {e}")))
    }

    /// Forward a peer's request to the task's own route `path` (with its query string).
    pub async fn proxy(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        content_type: Option<String>,
        body: Vec<u8>,
    ) -> Result<(u16, Option<String>, Vec<u8>), CallError> {
        let timeout = Duration::from_millis(self.limits.call_timeout_ms);
        let port = self.running_port(Duration::from_millis(0)).await?;
        let url = format!(
            "http://127.0.0.1:{port}/{}",
            path_and_query.trim_start_matches('/')
        );
        let mut req = self.http.request(method, &url).timeout(timeout).body(body);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                CallError::Timeout(self.limits.call_timeout_ms)
            } else {
                CallError::Transport(e.to_string())
            }
        })?;
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = tokio::time::timeout(timeout, read_limited(resp, TASK_ANSWER_BYTES_MAX))
            .await
            .map_err(|_| CallError::Timeout(self.limits.call_timeout_ms))??;
        Ok((status, ct, bytes))
    }

    pub(super) async fn health(&self, port: u16, timeout: Duration) -> Result<(), String> {
        let url = format!("http://127.0.0.1:{port}{}", paths::HEALTH);
        match self
            .http
            .get(&url)
            .bearer_auth(&self.token)
            .timeout(timeout)
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!(
                "health check answered HTTP {}",
                r.status().as_u16()
            )),
            Err(e) if e.is_timeout() => Err(format!(
                "health check got no answer within {} ms",
                ms(timeout)
            )),
            Err(e) => Err(format!("health check failed: {e}")),
        }
    }
}
