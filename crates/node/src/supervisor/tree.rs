//! A task's process tree on Linux: how it ended, which processes are its, and killing them
//! all.

use crate::config::Limits;
use crate::sandbox;
use std::path::Path;

fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        6 => "SIGABRT",
        7 => "SIGBUS",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        _ => "signal",
    }
}

pub(super) fn describe_exit(status: std::process::ExitStatus, limits: &Limits) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        let hint = match sig {
            24 => format!(" (its CPU limit of {} s was reached)", limits.cpu_seconds),
            6 => " (aborted)".to_string(),
            _ => String::new(),
        };
        return format!(
            "crashed: killed by signal {sig} ({}){hint}",
            signal_name(sig)
        );
    }
    format!("exited with status {}", status.code().unwrap_or(-1))
}

/// The processes of a task: those in its process group (`pgid`, the task's first pid) and,
/// when it runs as its own user, every process of that user (a task may leave its group
/// with `setsid`, never its user). Linux `/proc`.
pub(super) fn task_processes(pgid: u32, uid: Option<u32>) -> Vec<(u32, u64)> {
    use std::os::unix::fs::MetadataExt;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |p| p as u64);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let owned = uid.is_some_and(|u| std::fs::metadata(&path).is_ok_and(|m| m.uid() == u));
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces and parentheses).
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let pgrp = fields.get(2).and_then(|f| f.parse::<u32>().ok());
        let rss_pages = fields
            .get(21)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0);
        if owned || pgrp == Some(pgid) {
            out.push((pid, rss_pages * page));
        }
    }
    out
}

/// Kill every process of a task: its process group, and when it runs as its own user every
/// process of that user (through a launcher that becomes the user, so a process that hops
/// pids or leaves the group is caught too).
pub(super) fn kill_tree(exe: &Path, pgid: u32, uid: Option<u32>) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    if pgid > 1 {
        let _ = killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL);
    }
    if let Some(uid) = uid {
        sandbox::kill_user(exe, uid);
    }
}
