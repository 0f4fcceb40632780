//! The host-kernel surface a workload reaches: the distinct host system
//! calls made on its behalf during one run, counted by `strace -f`.
//!
//! "On its behalf" is decided per backend kind, from the trace alone:
//! - a workload that runs as a host process (process, sandbox, crun, runc,
//!   bwrap): every call of the workload's processes from the `execve` of
//!   the workload binary on (the runtime's own setup before it is not
//!   reachable by the workload);
//! - a VM: every call of the VMM's process from its first `KVM_RUN` on
//!   (what the guest can make the VMM do: device exits, the console, the
//!   timer, the teardown).
//!
//! This is a lighter, reproducible form of what Anjali et al. (VEE'20)
//! measured as host-kernel code reached per platform: it counts system
//! calls, not kernel functions, and one run's calls, not every call the
//! workload could make (the allow-list size, where a backend has one, is
//! that upper bound).
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where counting starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the `execve` of a path whose last component is one of these
    /// (the workload binary: `init` in a root filesystem, `vmlab-workload`
    /// for the plain process).
    Exec(&'static [&'static str]),
    /// At the first `ioctl(.., KVM_RUN, ..)`.
    KvmRun,
}

/// The workload binary's names in every backend that runs it as a host
/// process.
pub const WORKLOAD_EXEC: Start = Start::Exec(&["init", "vmlab-workload"]);

/// One backend's measured surface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Surface {
    /// Distinct system calls made on the workload's behalf.
    pub distinct: usize,
    /// Their names, sorted.
    pub calls: Vec<String>,
    /// Where counting started (`execve of the workload`, `first KVM_RUN`).
    pub from: String,
    /// Processes and threads counted.
    pub tasks: usize,
}

/// Errors measuring a surface.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// strace is not installed.
    #[error("strace is not installed (Debian: apt-get install strace)")]
    NoStrace,
    /// strace could not be run.
    #[error("cannot run strace")]
    Spawn(#[source] std::io::Error),
    /// The traced command did not finish in time.
    #[error("the traced run did not finish within {0:?}")]
    Timeout(Duration),
    /// The trace could not be read.
    #[error("cannot read the trace {path}")]
    Read {
        /// The trace file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The start event never appeared in the trace.
    #[error("the trace has no {0}: the workload did not start")]
    NoStart(&'static str),
}

/// Whether strace is on PATH.
pub fn available() -> bool {
    Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd` (its program, arguments, environment and working directory)
/// under `strace -f`, its trace written to a file in `dir`, killed after
/// `timeout`, and counts its surface from `start`.
pub fn trace(cmd: &Command, start: Start, dir: &Path, timeout: Duration) -> Result<Surface, Error> {
    if !available() {
        return Err(Error::NoStrace);
    }
    let out = dir.join("strace.txt");
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "-qq", "-s", "64", "-o"])
        .arg(&out)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => traced.env(key, v),
            None => traced.env_remove(key),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        traced.current_dir(d);
    }
    // A group of its own: on timeout the whole traced tree is killed (a
    // killed strace alone would let its tracees run on).
    let mut child = traced
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(Error::Spawn)?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match child.try_wait().map_err(Error::Spawn)? {
            Some(_) => break,
            None if std::time::Instant::now() >= deadline => {
                let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
                let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(Error::Timeout(timeout));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let text = std::fs::read_to_string(&out).map_err(|source| Error::Read {
        path: out.display().to_string(),
        source,
    })?;
    count(&text, start)
}

/// One call line of `strace -f -o`: its task id and the call's name (None
/// for signals, exits and the second half of an interrupted call).
fn call(line: &str) -> Option<(u32, &str, &str)> {
    let (pid, rest) = line.split_once(char::is_whitespace)?;
    let pid: u32 = pid.parse().ok()?;
    let rest = rest.trim_start();
    if rest.starts_with("<...") || rest.starts_with("---") || rest.starts_with("+++") {
        return None;
    }
    let open = rest.find('(')?;
    let name = &rest[..open];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    Some((pid, name, &rest[open + 1..]))
}

/// The task a `clone`/`fork`/`vfork`/`clone3` line created, from its
/// result (`= 1234`), if it succeeded.
fn created(name: &str, args: &str) -> Option<u32> {
    if !matches!(name, "clone" | "clone3" | "fork" | "vfork") {
        return None;
    }
    let (_, result) = args.rsplit_once(") = ")?;
    result.split_whitespace().next()?.parse().ok()
}

/// Whether a call is the start event.
enum Begins {
    /// Yes.
    Now,
    /// An exec of the workload whose result is on a later line.
    IfResumedWell,
    /// No.
    No,
}

/// Whether this call is the start event.
fn starts(start: Start, name: &str, args: &str) -> Begins {
    match start {
        Start::Exec(names) => {
            if name != "execve" && name != "execveat" {
                return Begins::No;
            }
            // execve("path", ...) = 0: a successful exec of the workload.
            let Some(path) = args.strip_prefix('"').and_then(|a| a.split('"').next()) else {
                return Begins::No;
            };
            let last = path.rsplit('/').next().unwrap_or(path);
            let args = args.trim_end();
            if !names.contains(&last) {
                Begins::No
            } else if args.ends_with("= 0") {
                Begins::Now
            } else if args.ends_with("<unfinished ...>") {
                Begins::IfResumedWell
            } else {
                Begins::No
            }
        }
        Start::KvmRun if name == "ioctl" && args.contains("KVM_RUN") => Begins::Now,
        Start::KvmRun => Begins::No,
    }
}

/// Counts the surface in a trace (see the module documentation): from each
/// task's start event on, for it and for the tasks it creates after.
pub fn count(trace: &str, start: Start) -> Result<Surface, Error> {
    let mut counted = BTreeSet::new();
    // Tasks whose exec of the workload was interrupted in the trace by
    // another task's line (`<unfinished ...>`): it starts if it resumes
    // with `= 0`.
    let mut pending = BTreeSet::new();
    let mut calls = BTreeSet::new();
    for line in trace.lines() {
        if let Some(pid) = resumed_exec(line) {
            if pending.remove(&pid) {
                counted.insert(pid);
                calls.insert("execve".to_string());
            }
            continue;
        }
        let Some((pid, name, args)) = call(line) else {
            continue;
        };
        if !counted.contains(&pid) {
            match starts(start, name, args) {
                Begins::Now => {
                    counted.insert(pid);
                }
                Begins::IfResumedWell => {
                    pending.insert(pid);
                }
                Begins::No => {}
            }
        }
        if counted.contains(&pid) {
            calls.insert(name.to_string());
            if let Some(child) = created(name, args) {
                counted.insert(child);
            }
        }
    }
    let from = match start {
        Start::Exec(_) => "execve of the workload",
        Start::KvmRun => "first KVM_RUN",
    };
    if counted.is_empty() {
        return Err(Error::NoStart(from));
    }
    Ok(Surface {
        distinct: calls.len(),
        calls: calls.into_iter().collect(),
        from: from.into(),
        tasks: counted.len(),
    })
}

/// The task of a `<... execve resumed> ... = 0` line: a successful exec
/// whose first half was cut off.
fn resumed_exec(line: &str) -> Option<u32> {
    let (pid, rest) = line.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let ok = (rest.starts_with("<... execve resumed>")
        || rest.starts_with("<... execveat resumed>"))
        && rest.trim_end().ends_with("= 0");
    ok.then(|| pid.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SANDBOXED: &str = r#"100 execve("/usr/bin/vmlab", ["vmlab", "run"], 0x7ffd /* 20 vars */) = 0
100 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
100 clone3({flags=CLONE_NEWPID|CLONE_NEWNS, exit_signal=SIGCHLD}, 88) = 101
101 mount("none", "/", NULL, MS_REC|MS_PRIVATE, NULL) = 0
101 execve("/init", ["/init", "--exit", "3"], 0x0 /* 0 vars */) = 0
101 arch_prctl(ARCH_SET_FS, 0x4c3) = 0
101 write(3, "{\"ready\"", 8 <unfinished ...>
100 wait4(101,  <unfinished ...>
101 <... write resumed>) = 8
101 clone(child_stack=NULL, flags=SIGCHLD) = 102
102 getpid() = 1
101 --- SIGCHLD {si_signo=SIGCHLD} ---
101 exit_group(3) = ?
101 +++ exited with 3 +++
100 <... wait4 resumed>[{WIFEXITED(s)}], 0, NULL) = 101
"#;

    #[test]
    fn counts_the_workload_from_its_exec_with_its_children() {
        let s = count(SANDBOXED, WORKLOAD_EXEC).unwrap();
        assert_eq!(
            s.calls,
            [
                "arch_prctl",
                "clone",
                "execve",
                "exit_group",
                "getpid",
                "write"
            ]
        );
        assert_eq!(s.distinct, 6);
        assert_eq!(s.tasks, 2, "the workload and the child it forked");
    }

    #[test]
    fn the_runtime_before_the_exec_is_not_counted() {
        let s = count(SANDBOXED, WORKLOAD_EXEC).unwrap();
        for runtime in ["mount", "openat", "clone3", "wait4"] {
            assert!(!s.calls.iter().any(|c| c == runtime), "{runtime}: {s:?}");
        }
    }

    #[test]
    fn a_failed_exec_of_the_name_is_not_the_start() {
        let t = "7 execve(\"/init\", [\"/init\"], 0x0) = -1 ENOENT (No such file or directory)\n\
                 7 write(2, \"no\", 2) = 2\n";
        assert!(matches!(count(t, WORKLOAD_EXEC), Err(Error::NoStart(_))));
    }

    #[test]
    fn a_vm_counts_from_its_first_kvm_run() {
        let t = "5 ioctl(3, KVM_CREATE_VM, 0) = 4\n\
                 5 mmap(NULL, 268435456, PROT_READ|PROT_WRITE, MAP_SHARED, -1, 0) = 0x7f00\n\
                 5 seccomp(SECCOMP_SET_MODE_FILTER, 0, {len=112}) = 0\n\
                 5 ioctl(6, KVM_RUN, 0) = 0\n\
                 5 write(1, \"hello\", 5) = 5\n\
                 5 ioctl(6, KVM_RUN, 0) = 0\n\
                 5 rt_sigreturn({mask=[]}) = 0\n\
                 5 exit_group(0) = ?\n";
        let s = count(t, Start::KvmRun).unwrap();
        assert_eq!(s.calls, ["exit_group", "ioctl", "rt_sigreturn", "write"]);
        assert_eq!(s.from, "first KVM_RUN");
    }

    #[test]
    fn odd_lines_are_skipped() {
        for line in [
            "",
            "garbage",
            "x write(1) = 1",
            "12 ",
            "12 (",
            "13 a-b(1) = 0",
        ] {
            assert!(call(line).is_none(), "{line:?}");
        }
        assert_eq!(
            call("12 write(1, \"x\", 1) = 1").map(|c| c.1),
            Some("write")
        );
    }

    #[test]
    fn an_exec_cut_by_another_task_counts_once_it_resumes_well() {
        let t = "8 execve(\"/init\", [\"/init\"], 0x0 <unfinished ...>\n\
                 7 wait4(8,  <unfinished ...>\n\
                 8 <... execve resumed>) = 0\n\
                 8 write(1, \"x\", 1) = 1\n\
                 9 execve(\"/init\", [\"/init\"], 0x0 <unfinished ...>\n\
                 9 <... execve resumed>) = -1 ENOENT (No such file or directory)\n\
                 9 write(2, \"no\", 2) = 2\n";
        let s = count(t, WORKLOAD_EXEC).unwrap();
        assert_eq!(s.calls, ["execve", "write"]);
        assert_eq!(s.tasks, 1, "the failed exec in task 9 starts nothing");
    }

    #[test]
    fn a_trace_without_the_start_says_so() {
        assert!(matches!(count("", Start::KvmRun), Err(Error::NoStart(_))));
    }
}
