//! `vmlab scale`'s janitor: the `vmlab` binary again (`scale
//! --janitor-for PID`, hidden), started before the first sandbox is held
//! in the driver. It waits on a pidfd of the driver; once the driver has
//! exited (or was SIGKILLed) it removes the cgroups the driver's held
//! sandboxes left. Their workloads die with the driver (their parent-death
//! signal is SIGKILL); only their empty cgroups would stay, until the next
//! sandbox start swept them.
//!
//! A pidfd, not the end of a pipe: every child the driver clones holds a
//! copy of the driver's fds until it execs, so one stuck before its exec
//! would keep a pipe open, and the sweep from starting, after the driver
//! is gone.
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// How long it keeps sweeping while the driver's workloads are dying (on a
/// loaded host thousands of them take a while).
const SWEEP_FOR: Duration = Duration::from_secs(60);

/// Starts the janitor for this process; it works once this process has
/// exited (the returned child is not waited for).
pub fn spawn() -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot locate the vmlab binary")?;
    Command::new(exe)
        .args(["scale", "--janitor-for"])
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Not in the driver's process group: a Ctrl-C at the terminal
        // reaches the driver, which tears down first.
        .process_group(0)
        .spawn()
        .context("cannot start the scale janitor")
}

/// Whether `owner` is still this process's parent.
fn parent_is(owner: u32) -> bool {
    nix::unistd::getppid().as_raw() as u32 == owner
}

/// Returns once the driver `owner` (our parent when we started) is gone.
fn wait_for_exit(owner: u32) {
    let pidfd = vmlab_sandbox::clone::pidfd_open(owner as i32);
    // Checked after the open: while the driver is our parent its pid
    // cannot name another process, so the pidfd names the driver.
    if !parent_is(owner) {
        return;
    }
    // Without a pidfd (a kernel before 5.3, or poll failing) the parent
    // is watched instead.
    if let Ok(fd) = pidfd {
        loop {
            let mut p = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut p, PollTimeout::NONE) {
                Ok(n) if n > 0 => return,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => break,
            }
        }
    }
    while parent_is(owner) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The janitor's work for the driver `owner`; returns the exit code.
pub fn run(owner: u32) -> anyhow::Result<u8> {
    wait_for_exit(owner);
    let Ok(hier) = vmlab_sandbox::cgroup::Hierarchy::cached() else {
        return Ok(0);
    };
    let t = Instant::now();
    // Until none of the driver's cgroups is left (one whose last task is
    // still exiting is busy and removed by a later sweep).
    loop {
        vmlab_sandbox::cgroup::sweep_owner(&hier, owner as i32);
        if vmlab_sandbox::cgroup::left_by(&hier, owner as i32) == 0 {
            return Ok(0);
        }
        if t.elapsed() >= SWEEP_FOR {
            return Ok(1);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
