//! Starting and stopping task processes while the node runs: at start for every task of
//! the config, and on a config reload (SIGHUP, `gradual node reload`) for tasks added to or
//! removed from it. Each task's supervisor has its own stop switch.

use crate::artifact::{prepare_artifact, ArtifactFetch};
use crate::config::TaskEntry;
use crate::shared::NodeShared;
use crate::supervisor::{Confinement, LogFile, TaskEnv, TaskProcess};
use gradual_client::Client;
use gradual_types::{Pubkey, TaskId};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What starting a task process needs, kept for tasks added later.
pub(crate) struct Launcher {
    pub data_dir: PathBuf,
    pub rpc_url: String,
    pub me: Pubkey,
    /// The node's own URL as its tasks call it.
    pub node_url: String,
    pub uid_base: u32,
    pub confinement: Arc<Confinement>,
    pub fetch: Arc<ArtifactFetch>,
    /// Per task: its supervisor's stop switch and its tokio task.
    running: Mutex<BTreeMap<TaskId, Supervised>>,
}

/// A supervisor's stop switch and its tokio task.
type Supervised = (watch::Sender<bool>, JoinHandle<()>);

impl Launcher {
    pub(crate) fn new(
        data_dir: PathBuf,
        rpc_url: String,
        me: Pubkey,
        node_url: String,
        uid_base: u32,
        confinement: Arc<Confinement>,
        fetch: Arc<ArtifactFetch>,
    ) -> Launcher {
        Launcher {
            data_dir,
            rpc_url,
            me,
            node_url,
            uid_base,
            confinement,
            fetch,
            running: Mutex::default(),
        }
    }

    /// The process of each of `tasks` (not started yet), each task its own user on a root
    /// node, never one of `taken` (uids of tasks already running).
    pub(crate) fn processes(
        &self,
        tasks: &[TaskEntry],
        taken: &BTreeSet<u32>,
    ) -> std::io::Result<Vec<Arc<TaskProcess>>> {
        let mut avoid = crate::sandbox::system_uids();
        avoid.extend(taken);
        let uids = crate::sandbox::task_uids(
            &tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
            self.uid_base,
            &avoid,
        );
        let logs = self.data_dir.join("logs");
        let mut out = Vec::new();
        for t in tasks {
            let tdir = self.data_dir.join("tasks").join(t.id.to_base58());
            std::fs::create_dir_all(&tdir)?;
            let log = Arc::new(LogFile::new(
                logs.join(format!("{}.log", t.id.to_base58())),
                t.limits.log_max_bytes,
                t.limits.log_files,
            ));
            out.push(Arc::new(TaskProcess::new(
                t.id,
                t.limits.clone(),
                tdir,
                log,
                self.confinement.clone(),
                t.connect_ports.clone(),
                uids.get(&t.id).copied(),
            )));
        }
        Ok(out)
    }

    /// Supervise `p` (fetch, start, restart) until [`Launcher::stop`] or
    /// [`Launcher::stop_all`].
    pub(crate) fn start(&self, p: Arc<TaskProcess>, entry: &TaskEntry) {
        let env = TaskEnv {
            node: self.me,
            node_url: self.node_url.clone(),
            extra: entry.env.clone().into_iter().collect(),
        };
        let client = Arc::new(Client::new(&self.rpc_url));
        let cache = self.data_dir.join("artifacts");
        let fetch = self.fetch.clone();
        let id = p.task;
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(async move {
            let prepare = move || {
                let client = client.clone();
                let fetch = fetch.clone();
                let cache = cache.clone();
                async move { prepare_artifact(&client, &fetch, &id, &cache).await }
            };
            p.supervise(env, prepare, rx).await;
        });
        if let Ok(mut r) = self.running.lock() {
            if let Some((old, _)) = r.insert(id, (stop, handle)) {
                old.send_replace(true);
            }
        }
    }

    /// Stop the process of `task` (removed from the config) and wait for it to end.
    pub(crate) async fn stop(&self, task: &TaskId) {
        let entry = self.running.lock().ok().and_then(|mut r| r.remove(task));
        if let Some((stop, handle)) = entry {
            stop.send_replace(true);
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
    }

    /// Stop every task process (the node shuts down) and wait for them to end.
    pub(crate) async fn stop_all(&self) {
        let all = self
            .running
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for (stop, _) in all.values() {
            stop.send_replace(true);
        }
        for (_, (_, handle)) in all {
            let _ = tokio::time::timeout(Duration::from_secs(10), handle).await;
        }
    }
}

/// What a reload changes: tasks to start, tasks to stop, and settings that only a restart
/// applies (named, so the operator is told).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ReloadPlan {
    pub added: Vec<TaskId>,
    pub removed: Vec<TaskId>,
    /// Tasks kept whose scheduling settings (stake, claim, audit guard) may have changed:
    /// applied at once.
    pub kept: Vec<TaskId>,
    /// Settings whose change needs a node restart.
    pub need_restart: Vec<String>,
}

/// Compare the running config with the reloaded one.
pub(crate) fn plan(old: &crate::NodeConfig, new: &crate::NodeConfig) -> ReloadPlan {
    let ids = |c: &crate::NodeConfig| c.tasks.iter().map(|t| t.id).collect::<BTreeSet<_>>();
    let (was, now) = (ids(old), ids(new));
    let mut need_restart = Vec::new();
    let mut global = |name: &str, changed: bool| {
        if changed {
            need_restart.push(name.to_string());
        }
    };
    global("keypair", old.keypair.pubkey() != new.keypair.pubkey());
    global("rpc_url", old.rpc_url != new.rpc_url);
    global("data_dir", old.data_dir != new.data_dir);
    global("listen", old.listen != new.listen);
    global("public_url", old.public_url != new.public_url);
    global("log_level", old.log_level != new.log_level);
    global(
        "low_balance_warn",
        old.low_balance_warn_roe != new.low_balance_warn_roe,
    );
    global(
        "unpaid_rounds_warn",
        old.unpaid_rounds_warn != new.unpaid_rounds_warn,
    );
    global("outbound", old.outbound != new.outbound);
    global("sandbox", old.sandbox != new.sandbox);
    for t in &new.tasks {
        let Some(o) = old.tasks.iter().find(|o| o.id == t.id) else {
            continue;
        };
        if o.env != t.env || o.limits != t.limits || o.connect_ports != t.connect_ports {
            need_restart.push(format!(
                "env, limits or connect_ports of task {}",
                t.id.to_base58()
            ));
        }
    }
    ReloadPlan {
        added: now.difference(&was).copied().collect(),
        removed: was.difference(&now).copied().collect(),
        kept: now.intersection(&was).copied().collect(),
        need_restart,
    }
}

/// Uids of the task processes running now (a task added on reload gets another).
pub(crate) fn uids_in_use(sh: &NodeShared) -> BTreeSet<u32> {
    sh.tasks().values().filter_map(|p| p.uid()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeConfig;
    use gradual_types::Keypair;

    #[test]
    fn a_reload_starts_added_tasks_stops_removed_ones_and_names_the_rest() {
        let d = tempfile::tempdir().unwrap();
        gradual_client::write_keypair_file(&d.path().join("k.json"), &Keypair::generate(), false)
            .unwrap();
        let a = Keypair::from_seed([1; 32]).pubkey().to_base58();
        let b = Keypair::from_seed([2; 32]).pubkey().to_base58();
        let c = Keypair::from_seed([3; 32]).pubkey().to_base58();
        let parse = |t: &str| NodeConfig::parse(t, false, d.path(), "node.toml").unwrap();
        let old = parse(&format!(
            "keypair = \"k.json\"\n[[task]]\nid = \"{a}\"\n[[task]]\nid = \"{b}\"\n"
        ));
        let new = parse(&format!(
            "keypair = \"k.json\"\n[[task]]\nid = \"{b}\"\nstake = \"3\"\nauto_stake = true\n\
             [[task]]\nid = \"{c}\"\n"
        ));
        let p = plan(&old, &new);
        let id = |s: &str| TaskId::from_base58(s).unwrap();
        assert_eq!(p.added, vec![id(&c)]);
        assert_eq!(p.removed, vec![id(&a)]);
        assert_eq!(p.kept, vec![id(&b)]);
        assert!(p.need_restart.is_empty(), "{:?}", p.need_restart);
        let new = parse(&format!(
            "keypair = \"k.json\"\nlisten = \"127.0.0.1:9\"\n[[task]]\nid = \"{b}\"\n\
             env = {{ X = \"1\" }}\n"
        ));
        let p = plan(&old, &new);
        assert_eq!(p.removed, vec![id(&a)]);
        assert_eq!(
            p.need_restart,
            vec![
                "listen".to_string(),
                format!("env, limits or connect_ports of task {b}")
            ]
        );
    }
}
