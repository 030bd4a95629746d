//! Task processes: fetch the executable (digest-checked, cached), start it with the
//! environment of `docs/task-protocol.md`, wait for its health check, make control calls with
//! timeouts, and restart it with exponential backoff when it exits, hangs, or outgrows its
//! memory. Its stdout/stderr and the supervisor's own notes go to a size-rotated log file.
//!
//! **Confinement and limits** (issue #10, [`crate::sandbox`]). `unsafe` is forbidden in this
//! workspace, so the node cannot act between `fork` and `exec` (`pre_exec` is unsafe). It
//! launches the task through its own binary (`gradual __task-sandbox <policy> <cmd>`), which
//! sets the limits (processes, open files, CPU seconds), switches to the task's own user on a
//! root node, confines files, TCP, signals and abstract sockets with Landlock and then
//! `exec`s the task, so the task keeps the child's pid. The environment is cleared first:
//! only `PATH`, `HOME` and `TMPDIR` (inside the task's directory), the `GRADUAL_*` variables
//! and the operator's task variables. Memory is limited on the resident memory of the whole
//! process tree (the task's process group, and every process of its own user), sampled every
//! 200 ms: above it the tree is killed. There is no address-space cap: runtimes reserve far
//! more address space than they touch (a WebAssembly engine fails under one).

mod http;
mod log;
mod tree;

pub use self::http::read_limited;
pub use self::log::LogFile;
use self::log::{pump, Tail};
use self::tree::{describe_exit, kill_tree, task_processes};
use crate::config::{Limits, SandboxConfig};
use crate::sandbox::{self, Policy, Protections};
use gradual_task_sdk::protocol::env as task_env;
use gradual_types::{Pubkey, TaskId};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// Largest answer the node reads from a task (control calls and proxied routes).
pub const TASK_ANSWER_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Where a task process is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Fetching the artifact or waiting for the first health check.
    Starting,
    Running {
        port: u16,
        pid: u32,
    },
    /// Waiting to restart after a failure.
    Backoff {
        until_ms: u64,
    },
    /// Stopped by the node (shutdown).
    Stopped,
}

/// What the supervisor knows about one task process (for status, /info and /metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub phase: Phase,
    pub restarts: u64,
    pub last_error: Option<String>,
    pub starts: u64,
}

/// Why a control call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error("task process is not running ({0})")]
    NotRunning(String),
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("connection failed: {0}")]
    Transport(String),
    #[error("answer is not what the protocol expects: {0}")]
    BadAnswer(String),
}

/// How to run the artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub artifact: PathBuf,
    pub runtime: String,
}

/// How this node confines its task processes: decided once at start.
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The node's own binary, which acts as the launcher.
    pub exe: PathBuf,
    pub config: SandboxConfig,
    /// What the kernel enforces, and whether tasks get their own users.
    pub protections: Protections,
    /// The node's HTTP port (tasks call it).
    pub node_port: u16,
    /// Paths no task may read, nor any directory above them: the node's data directory,
    /// key and config file.
    pub protected: Vec<PathBuf>,
}

/// One supervised task process.
pub struct TaskProcess {
    pub task: TaskId,
    pub token: String,
    pub limits: Limits,
    pub log: Arc<LogFile>,
    pub dir: PathBuf,
    confinement: Arc<Confinement>,
    /// TCP ports the task may connect to besides the node's (`None`: any).
    connect_ports: Option<Vec<u16>>,
    /// The task's own user on a root node ([`sandbox::task_uids`]).
    uid: Option<u32>,
    info: watch::Sender<ProcInfo>,
    /// Whether the node wants the process running (false: stopped, e.g. after a withdraw).
    wanted: watch::Sender<bool>,
    http: reqwest::Client,
}

/// A started task process: the child, the pump copying its stderr, and that stderr's tail.
struct Spawned {
    child: Child,
    stderr: Option<tokio::task::JoinHandle<()>>,
    tail: Arc<std::sync::Mutex<Tail>>,
}

/// What the node gives a task in its environment.
#[derive(Debug, Clone)]
pub struct TaskEnv {
    pub node: Pubkey,
    pub node_url: String,
    pub extra: Vec<(String, String)>,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// The program and arguments that run `launch` (before the limit wrapper).
pub fn runtime_command(launch: &Launch) -> Result<(String, Vec<String>), String> {
    // A directory task (`python3@main.py`): `artifact` is the unpacked directory.
    let rt = gradual_types::runtime::parse(&launch.runtime)
        .map_err(|e| format!("runtime '{}': {e}", launch.runtime))?;
    let file = match rt.entry {
        Some(entry) => launch.artifact.join(entry).display().to_string(),
        None => launch.artifact.display().to_string(),
    };
    match rt.interpreter {
        "native" => Ok((file, vec![])),
        "python3" | "python" => Ok(("python3".into(), vec!["-u".into(), file])),
        "node" => Ok(("node".into(), vec![file])),
        "sh" => Ok(("sh".into(), vec![file])),
        other => Err(format!("runtime '{other}' is not supported by this node (it runs native, python3, node and sh)")),
    }
}

impl TaskProcess {
    pub fn new(
        task: TaskId,
        limits: Limits,
        dir: PathBuf,
        log: Arc<LogFile>,
        confinement: Arc<Confinement>,
        connect_ports: Option<Vec<u16>>,
        uid: Option<u32>,
    ) -> TaskProcess {
        let token = bs58::encode(rand::random::<[u8; 32]>()).into_string();
        let (info, _) = watch::channel(ProcInfo {
            phase: Phase::Starting,
            restarts: 0,
            last_error: None,
            starts: 0,
        });
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default();
        let (wanted, _) = watch::channel(true);
        TaskProcess {
            task,
            token,
            limits,
            log,
            dir,
            confinement,
            connect_ports,
            uid,
            info,
            wanted,
            http,
        }
    }

    /// Stop the process (`false`, with the reason for its log) or run it again (`true`).
    pub fn set_wanted(&self, on: bool, why: &str) {
        if self
            .wanted
            .send_if_modified(|w| std::mem::replace(w, on) != on)
        {
            self.log.note(&if on {
                format!("starting again: {why}")
            } else {
                format!("stopping: {why}")
            });
        }
    }

    pub fn wanted(&self) -> bool {
        *self.wanted.borrow()
    }

    /// Resolves once the node no longer wants the process.
    async fn unwanted(&self) {
        let mut rx = self.wanted.subscribe();
        let _ = rx.wait_for(|on| !*on).await;
    }

    /// The task's own user on a root node, if it has one.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }

    /// TCP ports the task may connect to besides the node's (`None`: any).
    pub fn connect_ports(&self) -> Option<&[u16]> {
        self.connect_ports.as_deref()
    }

    /// Kill the task and everything it started.
    async fn kill_all(&self, child: &mut Child, pid: u32) {
        kill_tree(&self.confinement.exe, pid, self.task_user().map(|(u, _)| u));
        let _ = child.kill().await;
    }

    pub fn info(&self) -> ProcInfo {
        self.info.borrow().clone()
    }

    fn set(&self, f: impl FnOnce(&mut ProcInfo)) {
        self.info.send_modify(f);
    }

    fn fail(&self, reason: &str) {
        tracing::warn!(task = %self.task, reason, "task process failed");
        self.log.note(&format!("task failed: {reason}"));
        self.set(|i| i.last_error = Some(reason.to_string()));
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("task.pid")
    }

    /// A task process left behind by a node that was killed: end it (only if its
    /// environment shows it is this task's process).
    fn reap_stale(&self, data_dir: &Path) {
        let Ok(text) = std::fs::read_to_string(self.pid_file()) else {
            return;
        };
        let Ok(pid) = text.trim().parse::<u32>() else {
            return;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            return;
        };
        let marker = format!("{}={}", task_env::DATA_DIR, data_dir.display());
        if environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            self.log.note(&format!(
                "ending task process {pid} left by an earlier run of this node"
            ));
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }

    /// The task's own user on a root node (`None`: it runs as the node's user).
    fn task_user(&self) -> Option<(u32, u32)> {
        let c = &self.confinement;
        (c.config.enabled && c.protections.separate_user)
            .then_some(self.uid)
            .flatten()
            .map(|uid| (uid, uid))
    }

    fn spawn(
        &self,
        launch: &Launch,
        env: &TaskEnv,
        port: u16,
        data_dir: &Path,
    ) -> Result<Spawned, String> {
        let (prog, args) = runtime_command(launch)?;
        let c = &self.confinement;
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| format!("cannot create '{}': {e}", tmp.display()))?;
        let user = self.task_user();
        if let Some((uid, gid)) = user {
            // Once, when the directories are not the task user's yet (a first start, or a
            // node that ran it as itself before), with no process of that user left to race.
            use std::os::unix::fs::MetadataExt;
            for dir in [data_dir, tmp.as_path()] {
                if std::fs::symlink_metadata(dir).is_ok_and(|m| m.uid() == uid && m.is_dir()) {
                    continue;
                }
                sandbox::kill_user(&c.exe, uid);
                sandbox::own_tree(dir, uid, gid).map_err(|e| {
                    format!("cannot give the task's directory to its user {uid}: {e}")
                })?;
            }
        }
        // A task of its own user finds runtimes where every user can: system directories.
        let path = match user {
            Some(_) => std::ffi::OsString::from("/usr/local/bin:/usr/bin:/bin"),
            None => std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
        };
        let mut read: Vec<PathBuf> = sandbox::SYSTEM_READ.iter().map(PathBuf::from).collect();
        read.extend(c.config.read_paths.iter().cloned());
        // Interpreters' own settings (Debian links Python's sitecustomize into /etc).
        if let Ok(etc) = std::fs::read_dir("/etc") {
            read.extend(etc.flatten().map(|e| e.path()).filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("python") || n.starts_with("node"))
            }));
        }
        // The artifact: its file, or a directory task's unpacked directory (read-only).
        read.push(launch.artifact.clone());
        // An interpreter reads its libraries next to it; a native task is its own runtime.
        if crate::unpack::interpreter(&launch.runtime) != "native" {
            read.extend(sandbox::runtime_prefix(&prog, &path));
        }
        // Never the node's own files, nor a directory holding them (a runtime installed in
        // the node's directory, a data directory under /opt): the task gets its own files only.
        read.retain(|r| {
            let holds = c.protected.iter().any(|p| p.starts_with(r));
            if holds {
                self.log.note(&format!(
                    "not letting the task read '{}': it holds the node's own files",
                    r.display()
                ));
            }
            !holds
        });
        let mut write = vec![data_dir.to_path_buf(), tmp.clone()];
        write.extend(sandbox::SYSTEM_WRITE.iter().map(PathBuf::from));
        let connect_tcp = self.connect_ports.clone().map(|mut ports| {
            ports.push(c.node_port);
            ports
        });
        let policy = Policy {
            landlock: c.config.enabled,
            require: c.config.require,
            read,
            write,
            connect_tcp,
            bind_tcp: vec![port],
            user,
            max_processes: self.limits.max_processes,
            max_open_files: self.limits.max_open_files,
            cpu_seconds: self.limits.cpu_seconds,
        };
        let policy = serde_json::to_string(&policy).map_err(|e| format!("policy: {e}"))?;
        let mut cmd = Command::new(&c.exe);
        cmd.arg(sandbox::LAUNCHER_ARG)
            .arg(&prog)
            .args(&args)
            .env_clear()
            .env(sandbox::POLICY_ENV, policy)
            .env("PATH", path)
            .env("HOME", data_dir)
            .env("TMPDIR", &tmp)
            .env(task_env::TASK_ID, self.task.to_base58())
            .env(task_env::NODE_PUBKEY, env.node.to_base58())
            .env(task_env::TASK_PORT, port.to_string())
            .env(task_env::NODE_URL, &env.node_url)
            .env(task_env::TASK_TOKEN, &self.token)
            .env(task_env::DATA_DIR, data_dir)
            .envs(env.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start '{prog}': {e}"))?;
        if let Some(out) = child.stdout.take() {
            tokio::spawn(pump(out, self.log.clone(), None));
        }
        let tail = Arc::new(std::sync::Mutex::new(Tail::default()));
        let stderr = child
            .stderr
            .take()
            .map(|err| tokio::spawn(pump(err, self.log.clone(), Some(tail.clone()))));
        if let Some(pid) = child.id() {
            let _ = std::fs::write(self.pid_file(), pid.to_string());
        }
        Ok(Spawned {
            child,
            stderr,
            tail,
        })
    }

    /// Run the task until `stop` turns true: start, watch, restart with backoff.
    /// `prepare` fetches the artifact (called before every start, so an updated task is
    /// picked up on restart).
    pub async fn supervise<F, Fut>(
        self: Arc<Self>,
        env: TaskEnv,
        prepare: F,
        mut stop: watch::Receiver<bool>,
    ) where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Launch, String>>,
    {
        let data_dir = self.dir.join("data");
        if let Err(e) = std::fs::create_dir_all(&data_dir) {
            self.fail(&format!("cannot create '{}': {e}", data_dir.display()));
        }
        self.reap_stale(&data_dir);
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            if !self.wanted() {
                self.set(|i| i.phase = Phase::Stopped);
                let mut on = self.wanted.subscribe();
                tokio::select! {
                    _ = on.wait_for(|on| *on) => {}
                    _ = stopped(&mut stop) => break,
                }
                failures = 0;
                continue;
            }
            self.set(|i| i.phase = Phase::Starting);
            let started = Instant::now();
            let reason = match self.run_once(&env, &prepare, &data_dir, &mut stop).await {
                // Stopped by the node: for good, or until it is wanted again.
                None => continue,
                Some(reason) => reason,
            };
            self.fail(&reason);
            if started.elapsed() >= Duration::from_secs(60) {
                failures = 0;
            }
            failures = failures.saturating_add(1);
            let delay = self
                .limits
                .restart_backoff_ms
                .saturating_mul(1u64 << (failures - 1).min(20))
                .min(self.limits.restart_backoff_max_ms);
            self.log.note(&format!(
                "restarting in {delay} ms (failure {failures} in a row)"
            ));
            let until = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(ms)
                .unwrap_or(0)
                + delay;
            self.set(|i| {
                i.phase = Phase::Backoff { until_ms: until };
                i.restarts += 1;
            });
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(delay)) => {}
                _ = stopped(&mut stop) => break,
            }
        }
        self.set(|i| i.phase = Phase::Stopped);
        let _ = std::fs::remove_file(self.pid_file());
    }

    /// One life of the process. `None` when stopped by the node, else why it ended.
    async fn run_once<F, Fut>(
        &self,
        env: &TaskEnv,
        prepare: &F,
        data_dir: &Path,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<String>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Launch, String>>,
    {
        let launch = match prepare().await {
            Ok(l) => l,
            Err(e) => return Some(e),
        };
        let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(a) => a.port(),
            Err(e) => return Some(format!("cannot find a free port: {e}")),
        };
        let Spawned {
            mut child,
            mut stderr,
            tail,
        } = match self.spawn(&launch, env, port, data_dir) {
            Ok(c) => c,
            Err(e) => return Some(e),
        };
        // Why it ended, with the last lines it wrote to stderr (its own words: "No such
        // file", a traceback), once its stderr is read to the end.
        let why = |reason: String, stderr: &mut Option<tokio::task::JoinHandle<()>>| {
            let pump = stderr.take();
            let tail = tail.clone();
            async move {
                if let Some(p) = pump {
                    let _ = tokio::time::timeout(Duration::from_millis(1_000), p).await;
                }
                match tail.lock().map(|t| t.last_lines(3)).unwrap_or_default() {
                    last if last.is_empty() => reason,
                    last => format!("{reason}; its stderr ended with: {last}"),
                }
            }
        };
        let pid = child.id().unwrap_or(0);
        self.set(|i| i.starts += 1);
        self.log.note(&format!(
            "started task process {pid} on port {port} ({})",
            launch.artifact.display()
        ));
        // Wait for the first health check.
        let deadline = Instant::now() + Duration::from_millis(self.limits.start_timeout_ms);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.kill_all(&mut child, pid).await;
                return Some(format!(
                    "did not answer its health check within {} ms of starting",
                    self.limits.start_timeout_ms
                ));
            }
            if let Ok(Some(status)) = child.try_wait() {
                let reason = format!("{} while starting", describe_exit(status, &self.limits));
                return Some(why(reason, &mut stderr).await);
            }
            if self
                .health(port, left.min(Duration::from_millis(1000)))
                .await
                .is_ok()
            {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                _ = stopped(stop) => { self.kill_all(&mut child, pid).await; return None; }
                _ = self.unwanted() => { self.kill_all(&mut child, pid).await; return None; }
            }
        }
        self.log.note("task is healthy");
        tracing::info!(task = %self.task, pid, port, "task process running");
        self.set(|i| i.phase = Phase::Running { port, pid });
        let mem_max = self.limits.memory_mb * 1024 * 1024;
        let health_every = Duration::from_millis(self.limits.health_interval_ms);
        let health_timeout = Duration::from_millis(self.limits.call_timeout_ms.min(2_000));
        let mut last_health = Instant::now();
        let mut misses = 0u32;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                status = child.wait() => {
                    // Whatever it left running goes with it.
                    kill_tree(&self.confinement.exe, pid, self.task_user().map(|(u, _)| u));
                    return Some(match status {
                        Ok(s) => why(describe_exit(s, &self.limits), &mut stderr).await,
                        Err(e) => format!("cannot wait for the task process: {e}"),
                    });
                }
                _ = stopped(stop) => {
                    self.kill_all(&mut child, pid).await;
                    self.log.note("stopped by the node");
                    return None;
                }
                _ = self.unwanted() => {
                    self.kill_all(&mut child, pid).await;
                    self.log.note("stopped by the node (not needed now)");
                    return None;
                }
                _ = tick.tick() => {
                    let procs = task_processes(pid, self.task_user().map(|(u, _)| u));
                    let rss: u64 = procs.iter().map(|(_, r)| r).sum();
                    if rss > mem_max {
                        self.kill_all(&mut child, pid).await;
                        return Some(format!(
                            "its {} process(es) used {} MiB of resident memory, over its limit \
                             of {} MiB; killed",
                            procs.len(),
                            rss / (1024 * 1024),
                            self.limits.memory_mb
                        ));
                    }
                    if last_health.elapsed() >= health_every {
                        last_health = Instant::now();
                        match self.health(port, health_timeout).await {
                            Ok(()) => misses = 0,
                            Err(e) => {
                                misses += 1;
                                self.log.note(&format!("{e} ({misses} in a row)"));
                                if misses >= 3 {
                                    self.kill_all(&mut child, pid).await;
                                    return Some(format!("hung: {e}, 3 times in a row; killed"));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
