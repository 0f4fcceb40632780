//! `vmlab scale`'s janitor: the `vmlab` binary again (`scale
//! --janitor-for PID`, hidden), started before the first sandbox is held
//! in the driver. It waits on a pipe whose only write end the driver
//! keeps; when that closes (the driver exited, or was SIGKILLed: the
//! kernel closes its fds) and the driver is gone, it removes the cgroups
//! the driver's held sandboxes left. Their workloads die with the driver
//! (their parent-death signal is SIGKILL); only their empty cgroups would
//! stay, until the next sandbox start swept them.
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// How long the janitor waits for the driver to be gone once its pipe
/// closed.
const DRIVER_EXIT: Duration = Duration::from_secs(30);

/// How long it keeps sweeping while the driver's workloads are dying (on a
/// loaded host thousands of them take a while).
const SWEEP_FOR: Duration = Duration::from_secs(60);

/// Starts the janitor for this process; it works when the returned child's
/// stdin closes (dropped with it, or at this process's end).
pub fn spawn() -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot locate the vmlab binary")?;
    Command::new(exe)
        .args(["scale", "--janitor-for"])
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Not in the driver's process group: a Ctrl-C at the terminal
        // reaches the driver, which tears down first.
        .process_group(0)
        .spawn()
        .context("cannot start the scale janitor")
}

/// The janitor's work for the driver `owner`; returns the exit code.
pub fn run(owner: u32) -> anyhow::Result<u8> {
    let mut buf = [0u8; 64];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
    let t = Instant::now();
    // The driver is our parent until it is gone (then we are reparented).
    while nix::unistd::getppid().as_raw() as u32 == owner && t.elapsed() < DRIVER_EXIT {
        std::thread::sleep(Duration::from_millis(10));
    }
    if nix::unistd::getppid().as_raw() as u32 == owner {
        return Ok(1);
    }
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
