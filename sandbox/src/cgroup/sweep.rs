//! Removing the cgroups of vmlab runs that died without cleaning up
//! (`kill -9` of the parent): a cgroup creation sweeps first, when its
//! process holds no other live cgroup ([`super::Cgroup::create_named`]).
//!
//! A run's cgroup is `<mount>/vmlab/<pid>-<n>` ([`super::unique_name`]). An
//! entry whose `<pid>` is no live process is a leftover: its tasks (a
//! workload that outlived its parent) are killed and the directory removed.
//! A live pid is never swept, even when the pid was reused by an unrelated
//! process — that leftover then waits for a later run. Like the names
//! themselves, this assumes every run sharing a hierarchy shares one pid
//! namespace. Names of any other form are not touched.
//!
//! Cost with nothing to sweep: one `readdir` per hierarchy and one
//! `kill(pid, 0)` per live run owning entries (none for this process's
//! own; a process owning many cgroups, such as the scale driver or its VM
//! fork server, is checked once).
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The pid in a run's cgroup name `<pid>-<n>`, if `name` is one.
pub fn owner_pid(name: &str) -> Option<i32> {
    let (pid, n) = name.split_once('-')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(pid) || !digits(n) {
        return None;
    }
    pid.parse().ok().filter(|p| *p > 0)
}

/// Whether no process `pid` exists (a zombie still counts as one).
fn gone(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
}

/// Sweeps the `vmlab` parent directories `parents`; returns the leftovers
/// removed.
pub fn sweep<'a>(parents: impl IntoIterator<Item = &'a Path>) -> Vec<PathBuf> {
    // Owners seen alive in this sweep (this process, first of all): one
    // `kill(pid, 0)` per owner, not per entry — a driver holding N
    // sandboxes owns N entries in each hierarchy.
    let mut alive = vec![std::process::id() as i32];
    sweep_where(parents, |pid| {
        if alive.contains(&pid) {
            return false;
        }
        if !gone(pid) {
            alive.push(pid);
            return false;
        }
        true
    })
}

/// Sweeps the entries of `owner` in `parents`, a run the caller knows is
/// dead (a zombie not yet reaped by its parent counts as alive for
/// [`sweep`]); returns the directories removed.
pub fn sweep_owner<'a>(parents: impl IntoIterator<Item = &'a Path>, owner: i32) -> Vec<PathBuf> {
    sweep_where(parents, |pid| pid == owner)
}

/// How many entries of `owner` are left in `parents`.
pub fn left_by<'a>(parents: impl IntoIterator<Item = &'a Path>, owner: i32) -> usize {
    parents
        .into_iter()
        .filter_map(|p| std::fs::read_dir(p).ok())
        .flat_map(|d| d.flatten())
        .filter(|e| e.file_name().to_str().and_then(owner_pid) == Some(owner))
        .count()
}

fn sweep_where<'a>(
    parents: impl IntoIterator<Item = &'a Path>,
    mut dead: impl FnMut(i32) -> bool,
) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for parent in parents {
        let Ok(entries) = std::fs::read_dir(parent) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(owner_pid) else {
                continue;
            };
            if !dead(pid) {
                continue;
            }
            let dir = e.path();
            kill_tasks(&dir);
            if super::files::rmdir_retry(&dir).is_ok() {
                removed.push(dir);
            }
        }
        // Like a run's own removal: the parent goes when it is left empty
        // (a run needing it creates it again).
        if removed.last().is_some_and(|d| d.parent() == Some(parent)) {
            let _ = std::fs::remove_dir(parent);
        }
    }
    removed
}

/// The pids listed in a `cgroup.procs` file.
fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Kills every task in `dir`: v2's `cgroup.kill` where the kernel has it,
/// else `SIGKILL` to each listed process until none is left (a fork may
/// race with the first pass).
fn kill_tasks(dir: &Path) {
    if std::fs::write(dir.join("cgroup.kill"), "1").is_ok() {
        return;
    }
    for _ in 0..100 {
        let pids = procs(dir);
        if pids.is_empty() {
            return;
        }
        for p in pids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_run_names_have_an_owner() {
        assert_eq!(owner_pid("1234-0"), Some(1234));
        assert_eq!(owner_pid("7-12"), Some(7));
        for bad in [
            "",
            "-",
            "1234",
            "1234-",
            "-0",
            "0-0",
            "12a-0",
            "12-0x",
            "+1-0",
            "1-2-3",
            "tasks",
            "99999999999-0",
        ] {
            assert_eq!(owner_pid(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn live_pids_are_not_gone() {
        assert!(!gone(std::process::id() as i32));
        // Past the kernel's PID_MAX_LIMIT (4 Mi): no such process.
        assert!(gone(1 << 23));
    }
}
