//! The task side of the control calls: an axum app serving `/gradual/v1/*` (bearer token
//! checked) in front of the task's own routes, and [`run`], the whole start-up.

use crate::protocol::{self, paths};
use crate::respond::{error, json};
use crate::{Adversary, Context, Task, TaskEnv, Verdict};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

struct Server<T> {
    task: Arc<T>,
    ctx: Context,
    /// Rounds whose `task` call is still running in the background.
    running: Mutex<HashSet<u64>>,
}

impl<T> Server<T> {
    /// The running set stays consistent under a panic (one insert or remove), so a
    /// poisoned lock is used as it is.
    fn running(&self) -> MutexGuard<'_, HashSet<u64>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn log(msg: impl std::fmt::Display) {
    eprintln!("gradual-task: {msg}");
}

/// A task callback failed: logged here, and the node gets the same message with a 500.
fn failed(msg: String) -> Response {
    log(&msg);
    error(StatusCode::INTERNAL_SERVER_ERROR, msg)
}

/// Check the bearer token, then decode the JSON body. The error is the answer to send.
#[allow(clippy::result_large_err)] // returned once per request, straight to the client
fn accept<B: DeserializeOwned>(
    ctx: &Context,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<B, Response> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !protocol::bearer_matches(auth, &ctx.env().token) {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            format!(
                "{path}: missing or wrong bearer token; send 'Authorization: Bearer <{}>'",
                protocol::env::TASK_TOKEN
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("{path}: body is not the JSON the protocol says ({e}); see docs/task-protocol.md §2"),
        )
    })
}

/// The body of a control call, accepted: the bearer token checked, then the JSON decoded
/// (see [`accept`]); a refusal is the answer sent.
struct Control<B>(B);

impl<T: Task, B: DeserializeOwned> FromRequest<Arc<Server<T>>> for Control<B> {
    type Rejection = Response;

    async fn from_request(req: Request, s: &Arc<Server<T>>) -> Result<Self, Response> {
        let headers = req.headers().clone();
        let path = req.uri().path().to_owned();
        let body = Bytes::from_request(req, s)
            .await
            .map_err(IntoResponse::into_response)?;
        accept(&s.ctx, &headers, &path, &body).map(Control)
    }
}

async fn health<T: Task>(State(s): State<Arc<Server<T>>>, headers: HeaderMap) -> Response {
    match accept::<serde_json::Value>(&s.ctx, &headers, paths::HEALTH, b"null") {
        Ok(_) => json(StatusCode::OK, &protocol::HealthResponse { ok: true }),
        Err(r) => r,
    }
}

async fn task_call<T: Task>(
    State(s): State<Arc<Server<T>>>,
    Control(req): Control<protocol::RoundRequest>,
) -> Response {
    let round = req.round;
    let fresh = s.running().insert(round);
    if fresh {
        let s2 = s.clone();
        tokio::spawn(async move {
            if let Err(e) = s2.task.task(&s2.ctx, round).await {
                log(format_args!("task(round {round}) failed: {e:#}"));
            }
            s2.running().remove(&round);
        });
    }
    json(StatusCode::OK, &protocol::TaskResponse {})
}

async fn submission<T: Task>(
    State(s): State<Arc<Server<T>>>,
    Control(req): Control<protocol::RoundRequest>,
) -> Response {
    let adversary = s.ctx.adversary();
    if adversary == Some(Adversary::Offline) {
        // Never answer: the node's timeout turns this into "no proof".
        std::future::pending::<()>().await;
    }
    if adversary == Some(Adversary::Garbage) {
        let junk = Adversary::garbage(req.round);
        return json(
            StatusCode::OK,
            &protocol::SubmissionResponse::from_bytes(Some(&junk)),
        );
    }
    match s.task.submission(&s.ctx, req.round).await {
        Ok(Some(v)) if v.len() > protocol::limits::PROOF_BYTES_MAX => {
            let msg = format!(
                "submission(round {}) returned {} bytes, a proof is at most {}; submit a digest of the result instead",
                req.round,
                v.len(),
                protocol::limits::PROOF_BYTES_MAX
            );
            failed(msg)
        }
        Ok(v) => json(
            StatusCode::OK,
            &protocol::SubmissionResponse::from_bytes(v.as_deref()),
        ),
        Err(e) => failed(format!("submission(round {}) failed: {e:#}", req.round)),
    }
}

async fn audit<T: Task>(
    State(s): State<Arc<Server<T>>>,
    Control(req): Control<protocol::AuditRequest>,
) -> Response {
    let parsed = req
        .parse_candidate()
        .and_then(|c| Ok((c, req.parse_value()?)));
    let (candidate, value) = match parsed {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{}: {e}", paths::AUDIT)),
    };
    let verdict = match s.task.audit(&s.ctx, req.round, candidate, value).await {
        Ok(v) => v,
        Err(e) => {
            log(format_args!(
                "audit(round {}, {candidate}) failed, abstaining: {e:#}",
                req.round
            ));
            Verdict::Abstain
        }
    };
    let verdict = if s.ctx.adversary() == Some(Adversary::FalseAccuser) {
        Verdict::Invalid
    } else {
        verdict
    };
    json(
        StatusCode::OK,
        &protocol::AuditResponse {
            verdict: verdict.into(),
        },
    )
}

async fn distribution<T: Task>(
    State(s): State<Arc<Server<T>>>,
    Control(req): Control<protocol::DistributionRequest>,
) -> Response {
    let submitters = match req.parse_submitters() {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("{}: {e}", paths::DISTRIBUTION),
            )
        }
    };
    match s
        .task
        .distribution(&s.ctx, req.round, submitters, req.bounty)
        .await
    {
        Ok(mut list) => {
            if s.ctx.adversary() == Some(Adversary::BadDistribution) {
                list = Adversary::inflate(list, &s.ctx.node(), req.bounty);
            }
            list.sort_unstable_by_key(|(n, _)| *n);
            json(
                StatusCode::OK,
                &protocol::DistributionResponse::from_entries(&list),
            )
        }
        Err(e) => failed(format!("distribution(round {}) failed: {e:#}", req.round)),
    }
}

/// The whole app: control calls at `/gradual/v1/*`, everything else to the task's routes.
pub fn router<T: Task>(task: Arc<T>, ctx: Context) -> Router {
    let routes = task.clone().routes(ctx.clone());
    let server = Arc::new(Server {
        task,
        ctx,
        running: Mutex::new(HashSet::new()),
    });
    Router::new()
        .route(paths::HEALTH, get(health::<T>))
        .route(paths::TASK, post(task_call::<T>))
        .route(paths::SUBMISSION, post(submission::<T>))
        .route(paths::AUDIT, post(audit::<T>))
        .route(paths::DISTRIBUTION, post(distribution::<T>))
        .with_state(server)
        .fallback_service(routes)
}

/// Serve `task` on `listener` until the process ends.
pub async fn serve<T: Task>(
    listener: tokio::net::TcpListener,
    task: T,
    env: TaskEnv,
) -> anyhow::Result<()> {
    let ctx = Context::new(env)?;
    let app = router(Arc::new(task), ctx);
    axum::serve(listener, app)
        .await
        .map_err(|e| anyhow::anyhow!("serving the task failed: {e}"))
}

async fn start<T: Task>(task: T) -> anyhow::Result<()> {
    let env = TaskEnv::from_env()?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], env.port));
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on {addr} ({}={}): {e}; is another process using the port?",
            protocol::env::TASK_PORT,
            env.port
        )
    })?;
    if let Err(e) = std::fs::create_dir_all(&env.data_dir) {
        anyhow::bail!(
            "cannot create the data dir {} ({}): {e}",
            env.data_dir.display(),
            protocol::env::DATA_DIR
        );
    }
    log(format_args!(
        "task {} for node {} listening on {addr}{}",
        env.task_id,
        env.node,
        env.adversary
            .map(|a| format!(" (ADVERSARY: {})", a.name()))
            .unwrap_or_default()
    ));
    serve(listener, task, env).await
}

/// Run `task` as the node expects: read the environment, listen on
/// `127.0.0.1:$GRADUAL_TASK_PORT`, serve until killed. Returns exit code 2 with the reason
/// on stderr if it cannot start.
pub fn run<T: Task>(task: T) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log(format_args!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    match rt.block_on(start(task)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(format_args!("error: {e:#}"));
            ExitCode::from(2)
        }
    }
}
