//! Task process confinement (issue #10): a task's code is written by a stranger, so it runs
//! with only what it needs.
//!
//! ```text
//!  node (supervisor.rs)                      gradual __task-sandbox '<policy json>' prog args
//!    env cleared: PATH, HOME, TMPDIR,  ──▶     1. rlimits: processes, open files, CPU, no core
//!    GRADUAL_*, the task's own vars            2. root node: setgroups([]), setgid, setuid to
//!    cwd = the task's data directory              the task's own uid (no capabilities left)
//!                                              3. Landlock (no_new_privs): read+execute only the
//!                                                 runtime and the artifact, read/write only the
//!                                                 data and temp directories; TCP connect only
//!                                                 to the node's port and the allowed ports, bind
//!                                                 only its own; no signals or abstract sockets
//!                                                 outside the sandbox
//!                                              4. exec the task (same pid)
//! ```
//! The launcher is this crate's code run in a fresh process of the node's own binary, before
//! any thread starts (Landlock restricts the calling thread), so the workspace needs no
//! `unsafe`: the `landlock` and `nix` crates make the system calls. What the kernel cannot
//! enforce is reported by [`probe`] once at node start (best effort, unless the operator
//! requires full confinement). Memory is not capped here: the supervisor kills a task whose
//! process tree's resident memory passes its limit (an address-space cap breaks runtimes
//! that reserve large virtual ranges, such as WebAssembly engines).

use landlock::{
    path_beneath_rules, Access, AccessFs, AccessNet, LandlockStatus, NetPort, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The first argument that makes the node's binary act as the launcher.
pub const LAUNCHER_ARG: &str = "__task-sandbox";
/// The environment variable that carries the policy to the launcher (not argv: any process
/// may read another's command line, only the owner its environment). Removed before `exec`.
pub const POLICY_ENV: &str = "GRADUAL_SANDBOX_POLICY";
const PROBE_ARG: &str = "--probe";
/// `__task-sandbox --kill-user <uid>`: end every process of a task's user.
const KILL_USER_ARG: &str = "--kill-user";
/// Exit status of a launcher that could not start the task (as a shell's "cannot execute").
const LAUNCH_FAILED: u8 = 126;

/// What one task process may do; built by the supervisor, applied by the launcher.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Confine with Landlock (false: limits and identity only).
    pub landlock: bool,
    /// Refuse to start the task when a protection cannot be enforced on this kernel.
    pub require: bool,
    /// Read and execute (the runtime, the artifact, system libraries).
    pub read: Vec<PathBuf>,
    /// Read, write, create and remove (the task's data and temp directories).
    pub write: Vec<PathBuf>,
    /// TCP ports the task may connect to; `None`: any (the operator allowed it).
    pub connect_tcp: Option<Vec<u16>>,
    /// TCP ports the task may bind (its own).
    pub bind_tcp: Vec<u16>,
    /// `(uid, gid)` to run as (the node runs as root).
    pub user: Option<(u32, u32)>,
    pub max_processes: u64,
    pub max_open_files: u64,
    pub cpu_seconds: u64,
}

/// Which protections this kernel and node give task processes (shown in the node's `/info`
/// under `confinement`, and logged at start).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protections {
    /// Task processes are confined at all (`[sandbox] enabled`).
    pub enabled: bool,
    /// Landlock ABI version in use (0: none).
    pub landlock_abi: u8,
    /// Files: only the runtime, the artifact and the task's own directories.
    pub filesystem: bool,
    /// TCP: connect only to allowed ports, bind only its own (Landlock ABI 4).
    pub tcp: bool,
    /// No signals to, and no abstract Unix sockets of, processes outside the sandbox
    /// (Landlock ABI 6).
    pub scopes: bool,
    /// Each task runs as its own unprivileged user (the node runs as root).
    pub separate_user: bool,
    /// What is missing and why, one line each.
    pub missing: Vec<String>,
}

impl Protections {
    /// One line for the node's log.
    pub fn summary(&self) -> String {
        if !self.enabled {
            return "off ([sandbox] enabled = false): tasks run with the node's rights".into();
        }
        let on = |b: bool| if b { "on" } else { "OFF" };
        format!(
            "landlock ABI {}: files {}, tcp {}, signals/sockets {}; own user {}",
            self.landlock_abi,
            on(self.filesystem),
            on(self.tcp),
            on(self.scopes),
            on(self.separate_user),
        )
    }
}

/// If this process was started as the launcher, run it (this never returns when the task
/// starts) and give the exit code; `None` for every other command line. Call it first in
/// `main`, before any thread exists.
pub fn run_if_launcher() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let _exe = args.next();
    if args.next().as_deref() != Some(std::ffi::OsStr::new(LAUNCHER_ARG)) {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    Some(launcher(rest))
}

fn launcher(args: Vec<OsString>) -> ExitCode {
    if args.first().map(|a| a.as_os_str()) == Some(std::ffi::OsStr::new(PROBE_ARG)) {
        let p = enforce_probe();
        println!("{}", serde_json::to_string(&p).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    if args.first().map(|a| a.as_os_str()) == Some(std::ffi::OsStr::new(KILL_USER_ARG)) {
        return match args.get(1).and_then(|u| u.to_str()?.parse::<u32>().ok()) {
            Some(uid) => match kill_own_user(uid) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("[sandbox] cannot end the processes of user {uid}: {e}");
                    ExitCode::from(LAUNCH_FAILED)
                }
            },
            None => ExitCode::from(LAUNCH_FAILED),
        };
    }
    let fail = |msg: String| {
        eprintln!("[sandbox] cannot start the task: {msg}");
        ExitCode::from(LAUNCH_FAILED)
    };
    let [prog, rest @ ..] = args.as_slice() else {
        return fail(
            "usage: __task-sandbox <program> [args...] (policy in $GRADUAL_SANDBOX_POLICY)".into(),
        );
    };
    let policy = std::env::var(POLICY_ENV).unwrap_or_default();
    let policy: Policy = match serde_json::from_str(&policy) {
        Ok(p) => p,
        Err(e) => return fail(format!("bad policy in ${POLICY_ENV}: {e}")),
    };
    if let Err(e) = confine(&policy) {
        return fail(e);
    }
    // Only returns on failure; on success the task replaces this process.
    let err = std::process::Command::new(prog)
        .args(rest)
        .env_remove(POLICY_ENV)
        .exec();
    fail(format!("cannot run '{}': {err}", prog.to_string_lossy()))
}

/// End every process of `uid`: become that user (a root launcher only), then signal all the
/// processes it may signal, which are exactly that user's (however they hop pids or leave
/// their process group), until none is left.
fn kill_own_user(uid: u32) -> Result<(), String> {
    use nix::errno::Errno;
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::{setgid, setgroups, setuid, Gid, Pid, Uid};
    if uid == 0 {
        return Err("refusing to end the processes of root".into());
    }
    setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
    setgid(Gid::from_raw(uid)).map_err(|e| format!("setgid: {e}"))?;
    setuid(Uid::from_raw(uid)).map_err(|e| format!("setuid: {e}"))?;
    for _ in 0..100 {
        match kill(Pid::from_raw(-1), Signal::SIGKILL) {
            Err(Errno::ESRCH) => return Ok(()),
            Err(e) => return Err(format!("kill: {e}")),
            Ok(()) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    Err("processes kept appearing for a second".into())
}

/// Apply `policy` to this process: limits, identity, then Landlock.
fn confine(policy: &Policy) -> Result<(), String> {
    use nix::sys::resource::{setrlimit, Resource};
    let limit = |r: Resource, v: u64, what: &str| {
        setrlimit(r, v, v).map_err(|e| format!("cannot limit {what} to {v}: {e}"))
    };
    limit(Resource::RLIMIT_NPROC, policy.max_processes, "processes")?;
    limit(Resource::RLIMIT_NOFILE, policy.max_open_files, "open files")?;
    limit(Resource::RLIMIT_CPU, policy.cpu_seconds, "CPU seconds")?;
    limit(Resource::RLIMIT_CORE, 0, "core dumps")?;
    if let Some((uid, gid)) = policy.user {
        use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
        setgroups(&[]).map_err(|e| format!("cannot drop supplementary groups: {e}"))?;
        setgid(Gid::from_raw(gid)).map_err(|e| format!("cannot switch to group {gid}: {e}"))?;
        // From uid 0 to another uid the kernel clears every capability.
        setuid(Uid::from_raw(uid)).map_err(|e| format!("cannot switch to user {uid}: {e}"))?;
        if setuid(Uid::from_raw(0)).is_ok() {
            return Err("could switch back to root after dropping privileges".into());
        }
    }
    if !policy.landlock {
        eprintln!("[sandbox] confinement off; limits and identity applied");
        return Ok(());
    }
    let (status, abi) = landlock_restrict(policy).map_err(|e| format!("landlock: {e}"))?;
    let mut p = protections_of(abi, policy.connect_tcp.is_some(), status.no_new_privs);
    p.separate_user = policy.user.is_some();
    let full = status.ruleset == RulesetStatus::FullyEnforced && p.missing.is_empty();
    eprintln!(
        "[sandbox] {}{}",
        p.summary(),
        if full { "" } else { " (partly enforced)" }
    );
    if policy.require && !full {
        return Err(format!(
            "full confinement is required ([sandbox] require = true) but missing: {}",
            p.missing.join("; ")
        ));
    }
    Ok(())
}

fn landlock_restrict(
    policy: &Policy,
) -> Result<(landlock::RestrictionStatus, u8), landlock::RulesetError> {
    // The newest ABI this crate knows; best effort drops what the kernel lacks (reported).
    let abi = ABI::V10;
    // Binds are always confined (a task taking another task's port would get its calls);
    // connects unless the operator allowed any port.
    let mut net = AccessNet::from_all(abi);
    if policy.connect_tcp.is_none() {
        net.remove(AccessNet::ConnectTcp);
    }
    let mut created = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))?
        .handle_access(net)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)?
        .create()?
        .add_rules(path_beneath_rules(&policy.read, AccessFs::from_read(abi)))?
        .add_rules(path_beneath_rules(&policy.write, AccessFs::from_all(abi)))?;
    for port in policy.connect_tcp.iter().flatten() {
        created = created.add_rule(NetPort::new(*port, AccessNet::ConnectTcp))?;
    }
    for port in &policy.bind_tcp {
        created = created.add_rule(NetPort::new(*port, AccessNet::BindTcp))?;
    }
    // Name resolution.
    created = created.add_rule(NetPort::new(53, AccessNet::ConnectSendUdp))?;
    let status = created.restrict_self()?;
    let used = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi as u8,
        _ => 0,
    };
    Ok((status, used))
}

/// What Landlock ABI `abi` enforces, with a line for each gap.
fn protections_of(abi: u8, tcp_wanted: bool, no_new_privs: bool) -> Protections {
    let mut p = Protections {
        enabled: true,
        landlock_abi: abi,
        filesystem: abi >= 1,
        tcp: tcp_wanted && abi >= 4,
        scopes: abi >= 6,
        separate_user: false,
        missing: Vec::new(),
    };
    if !p.filesystem {
        p.missing.push(
            "filesystem confinement: this kernel has no Landlock (Linux 5.13+ with \
             CONFIG_SECURITY_LANDLOCK and 'landlock' in the lsm= boot list)"
                .into(),
        );
    }
    if abi < 4 {
        p.missing.push(format!(
            "TCP port rules: need Landlock ABI 4 (Linux 6.7+), this kernel has ABI {abi}; a task \
             could connect anywhere and bind another task's port"
        ));
    }
    if abi < 9 {
        p.missing.push(format!(
            "Unix socket rules: need Landlock ABI 9, this kernel has ABI {abi}; a task may \
             connect to pathname Unix sockets its user can open (e.g. a desktop session bus)"
        ));
    }
    if abi < 10 {
        p.missing.push(format!(
            "UDP rules: need Landlock ABI 10, this kernel has ABI {abi}; a task may send UDP \
             anywhere"
        ));
    }
    if !p.scopes {
        p.missing.push(format!(
            "signal and abstract-socket scoping: need Landlock ABI 6 (Linux 6.12+), this kernel \
             has ABI {abi}; a task running as the node's user could signal the node"
        ));
    }
    if !no_new_privs {
        p.missing.push("no_new_privs could not be set".into());
    }
    p
}

/// The launcher's `--probe`: restrict a throwaway process with everything handled and
/// nothing allowed, and say what the kernel enforced.
fn enforce_probe() -> Protections {
    let policy = Policy {
        landlock: true,
        connect_tcp: Some(Vec::new()),
        ..Policy::default()
    };
    match landlock_restrict(&policy) {
        Ok((status, abi)) => protections_of(abi, true, status.no_new_privs),
        Err(e) => {
            let mut p = protections_of(0, true, false);
            p.missing.insert(0, format!("landlock: {e}"));
            p
        }
    }
}

/// Ask a launcher process what this kernel enforces (`exe` is the node's own binary).
pub fn probe(exe: &Path) -> Protections {
    let out = std::process::Command::new(exe)
        .args([LAUNCHER_ARG, PROBE_ARG])
        .env_clear()
        .output();
    match out {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            not_probed(format!("the launcher's answer is not understood: {e}"))
        }),
        Ok(o) => not_probed(format!(
            "'{} {LAUNCHER_ARG}' failed ({}): {}",
            exe.display(),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => not_probed(format!("cannot run '{}': {e}", exe.display())),
    }
}

fn not_probed(why: String) -> Protections {
    Protections {
        enabled: true,
        missing: vec![why],
        ..Protections::default()
    }
}

/// System paths a runtime may need to read (libraries, interpreters, certificates, name
/// resolution, time zones, `/proc/self`). Secrets under `/etc` (shadow, ssh keys) are not
/// among them; `/proc/<other pid>` stays closed: Landlock refuses ptrace-style access to
/// processes outside the sandbox.
pub const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/bin",
    "/sbin",
    "/opt",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/passwd",
    "/etc/group",
    "/proc",
    "/sys/fs/cgroup",
    "/sys/devices/system/cpu",
    "/dev/urandom",
    "/dev/random",
    "/dev/zero",
];

/// Devices a runtime writes to.
pub const SYSTEM_WRITE: &[&str] = &["/dev/null"];

/// The install prefix of `prog` as found on `path` (e.g. `/root/.pyenv` for a pyenv shim,
/// `/usr` for `/usr/bin/python3`): runtimes read their libraries next to their binary.
pub fn runtime_prefix(prog: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    let found = if prog.contains('/') {
        PathBuf::from(prog)
    } else {
        std::env::split_paths(path)
            .map(|d| d.join(prog))
            .find(|p| p.is_file())?
    };
    let mut prefixes = Vec::new();
    // Both the path as found (a shim or a symlink's directory) and its target.
    for p in [Some(found.clone()), found.canonicalize().ok()]
        .into_iter()
        .flatten()
    {
        if let Some(prefix) = p.parent().and_then(Path::parent) {
            prefixes.push(prefix.to_path_buf());
        }
    }
    // The shallowest, so a shim's prefix covers the versions it runs.
    prefixes
        .into_iter()
        .filter(|p| p.components().count() > 1)
        .min_by_key(|p| p.components().count())
}

/// Task users on a root node: one uid (and gid) per task, in `base .. base + 10^6`, the
/// first free one from `base + (id mod 10^6)`, tasks taken in id order (stable while the
/// node runs the same tasks). Free: no other task of this node has it and `taken` (the
/// system's users, `/etc/passwd`) does not name it, so a task crafted to collide with
/// another gets a uid of its own, never a person's or a service's.
pub fn task_uids(
    tasks: &[gradual_types::TaskId],
    base: u32,
    taken: &std::collections::BTreeSet<u32>,
) -> std::collections::BTreeMap<gradual_types::TaskId, u32> {
    const SPAN: u32 = 1_000_000;
    let mut ids: Vec<_> = tasks.to_vec();
    ids.sort();
    ids.dedup();
    let mut used = std::collections::BTreeSet::new();
    let mut out = std::collections::BTreeMap::new();
    for id in ids {
        let mut k = u32::from_le_bytes([id.0[0], id.0[1], id.0[2], id.0[3]]) % SPAN;
        // At most as many steps as tasks plus system users: a free uid always exists.
        while used.contains(&k) || taken.contains(&base.saturating_add(k)) {
            k = (k + 1) % SPAN;
        }
        used.insert(k);
        out.insert(id, base.saturating_add(k));
    }
    out
}

/// Uids named in `/etc/passwd` (users and services of this machine).
pub fn system_uids() -> std::collections::BTreeSet<u32> {
    std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect()
}

/// Give `dir` and everything in it to the task's user, private to it, without following
/// links: each directory is opened with `O_NOFOLLOW` and changed through its descriptor,
/// each entry relative to its directory's descriptor, so a link planted by the task (or
/// swapped in meanwhile) is changed itself, never what it points to.
pub fn own_tree(dir: &Path, uid: u32, gid: u32) -> Result<(), String> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd =
        open(dir, flags, Mode::empty()).map_err(|e| format!("open '{}': {e}", dir.display()))?;
    own_dir(fd, uid, gid, 0).map_err(|e| format!("'{}': {e}", dir.display()))
}

/// Deepest directory level [`own_tree`] walks (each level holds a descriptor open).
const OWN_TREE_DEPTH_MAX: u32 = 64;

fn own_dir(fd: std::os::fd::OwnedFd, uid: u32, gid: u32, depth: u32) -> Result<(), String> {
    use nix::dir::Dir;
    use nix::fcntl::{openat, AtFlags, OFlag};
    use nix::sys::stat::{fchmod, Mode};
    use nix::unistd::{fchown, fchownat, Gid, Uid};
    use std::os::fd::AsFd;
    let (u, g) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
    fchown(fd.as_fd(), u, g).map_err(|e| format!("fchown: {e}"))?;
    fchmod(fd.as_fd(), Mode::from_bits_truncate(0o700)).map_err(|e| format!("fchmod: {e}"))?;
    if depth >= OWN_TREE_DEPTH_MAX {
        return Err(format!("deeper than {OWN_TREE_DEPTH_MAX} directories"));
    }
    let dup = fd.try_clone().map_err(|e| format!("dup: {e}"))?;
    let mut dir = Dir::from_fd(dup).map_err(|e| format!("read dir: {e}"))?;
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let sub = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match openat(
            fd.as_fd(),
            name.as_c_str(),
            sub,
            nix::sys::stat::Mode::empty(),
        ) {
            Ok(child) => own_dir(child, uid, gid, depth + 1)?,
            // Not a directory (a file, or a link, never followed): change the entry itself.
            Err(_) => fchownat(
                fd.as_fd(),
                name.as_c_str(),
                u,
                g,
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| format!("fchownat {name:?}: {e}"))?,
        }
    }
    Ok(())
}

/// End every process of task user `uid` through a launcher that becomes that user (`exe` is
/// the node's own binary).
pub fn kill_user(exe: &Path, uid: u32) {
    let _ = std::process::Command::new(exe)
        .args([LAUNCHER_ARG, KILL_USER_ARG, &uid.to_string()])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status();
}

/// Whether every directory above `path` (and `path`) lets others traverse it, so a task
/// running as another user can reach its files; the first that does not.
pub fn first_untraversable(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut p = Some(path);
    while let Some(dir) = p {
        match std::fs::metadata(dir) {
            Ok(m) if m.permissions().mode() & 0o001 != 0 => {}
            _ => return Some(dir.to_path_buf()),
        }
        p = dir.parent();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protections_name_what_each_abi_lacks() {
        let p = protections_of(3, true, true);
        assert!(p.filesystem && !p.tcp && !p.scopes);
        assert_eq!(p.missing.len(), 4, "{:?}", p.missing);
        assert!(p.missing[0].contains("ABI 4"));
        let p = protections_of(7, true, true);
        assert!(p.filesystem && p.tcp && p.scopes);
        assert_eq!(p.missing.len(), 2, "{:?}", p.missing);
        assert!(p.missing[0].contains("Unix socket") && p.missing[1].contains("UDP"));
        assert!(protections_of(10, true, true).missing.is_empty());
        let p = protections_of(0, true, true);
        assert!(p.missing[0].contains("no Landlock"));
    }

    #[test]
    fn task_uids_are_distinct_stable_and_never_a_system_users() {
        use gradual_types::Hash;
        let base = 2_000_000_000;
        // Two tasks whose ids map to the same uid (a collision crafted by a task creator).
        let (a, mut b) = (Hash([7; 32]), Hash([7; 32]));
        b.0[31] = 8;
        let system: std::collections::BTreeSet<u32> = [base + 117_447].into_iter().collect();
        let uids = task_uids(&[b, a], base, &system);
        let (ua, ub) = (uids[&a], uids[&b]);
        assert_ne!(ua, ub);
        assert!(!system.contains(&ua) && !system.contains(&ub));
        assert!((base..base + 1_000_000).contains(&ua));
        assert_eq!(uids, task_uids(&[a, b], base, &system), "stable");
    }

    /// Issue #10, found by review: the ownership fix-up followed links a task planted in its
    /// data directory, so a root node could chown and chmod any tree to the task's user.
    #[test]
    fn own_tree_never_follows_links() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "x").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o755)).unwrap();
        let data = t.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("sub/file"), "y").unwrap();
        std::os::unix::fs::symlink(&outside, data.join("link")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), data.join("sub/flink")).unwrap();
        let me = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        own_tree(&data, me, gid).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data.join("sub")), 0o700);
        assert_eq!(mode(&outside), 0o755, "the link's target is untouched");
        assert_eq!(std::fs::metadata(outside.join("secret")).unwrap().uid(), me);
        // A link given as the top directory is refused, not followed.
        assert!(own_tree(&data.join("link"), me, gid).is_err());
    }

    #[test]
    fn runtime_prefix_is_the_install_root() {
        let prefix = runtime_prefix("sh", std::ffi::OsStr::new("/usr/bin:/bin"));
        assert!(
            matches!(prefix.as_deref(), Some(p) if p == Path::new("/usr") || p == Path::new("/")),
            "{prefix:?}"
        );
        assert_eq!(
            runtime_prefix("no-such-runtime-here", std::ffi::OsStr::new("/usr/bin")),
            None
        );
    }

    #[test]
    fn a_bad_policy_is_refused_with_its_reason() {
        let code = launcher(vec!["{not json".into(), "true".into()]);
        assert_eq!(code, ExitCode::from(LAUNCH_FAILED));
    }
}
