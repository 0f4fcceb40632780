//! Watching a started workload: protocol events timestamped as they arrive,
//! stdout and stderr collected, the exit reaped. Shared by the sandbox and
//! the plain-process backend.
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use vmlab_workload::protocol::Event;

use crate::clone::Child;
use crate::sys::monotonic_ns;

mod ready;
mod state;

pub use ready::{until, Early, NotYet};
use state::{read_some, State};

/// How the workload ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl ExitStatus {
    /// The shell's convention: the code, or 128 + signal.
    pub fn as_code(self) -> u8 {
        match self {
            ExitStatus::Code(c) => c as u8,
            ExitStatus::Signal(s) => 128u8.wrapping_add(s as u8),
        }
    }
}

/// Why watching stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The workload exited by itself.
    Exited,
    /// The timeout expired; the workload was killed.
    TimedOut,
    /// The parent got this signal; the workload was killed.
    Interrupted(i32),
}

/// What watching collected. Times are `CLOCK_MONOTONIC` ns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watched {
    /// Protocol events and when each arrived (the first [`MAX_EVENTS`]).
    pub events: Vec<(Event, u64)>,
    /// Protocol words that decode to no event (the first [`MAX_EVENTS`]).
    pub bad_words: Vec<u32>,
    /// The last [`OUTPUT_CAP`] bytes the workload wrote to stdout.
    pub stdout: Vec<u8>,
    /// The last [`OUTPUT_CAP`] bytes it wrote to stderr.
    pub stderr: Vec<u8>,
    /// What was not kept.
    pub dropped: Dropped,
    /// The exit status.
    pub status: ExitStatus,
    /// When the exit was reaped.
    pub reaped_at: u64,
    /// Why watching stopped.
    pub stop: Stop,
}

/// What a bounded buffer did not keep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// stdout bytes before the kept tail.
    pub stdout_bytes: u64,
    /// stderr bytes before the kept tail.
    pub stderr_bytes: u64,
    /// Protocol events (and bad words) after the first [`MAX_EVENTS`].
    pub events: u64,
}

impl Dropped {
    /// Whether anything was dropped.
    pub fn any(&self) -> bool {
        self.stdout_bytes + self.stderr_bytes + self.events > 0
    }
}

/// The most stdout (and, separately, stderr) kept: the last 1 MiB.
pub const OUTPUT_CAP: usize = vmlab_workload::tail::DEFAULT_CAP;

/// The most protocol events (and bad words) kept.
pub const MAX_EVENTS: usize = 65_536;

/// How long the pipes are drained after the workload is gone: writers
/// left then (a daemon outside its process group) are not waited for.
pub const DRAIN: Duration = Duration::from_millis(100);

/// The parent's ends of the workload's pipes.
#[derive(Debug)]
pub struct Pipes {
    /// Protocol words.
    pub proto: OwnedFd,
    /// stdout.
    pub stdout: OwnedFd,
    /// stderr.
    pub stderr: OwnedFd,
}

/// How a watched workload is killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kill {
    /// PID 1 of its own pid namespace: killing it kills everything inside.
    Pid,
    /// A plain process in a process group of its own: the group is killed,
    /// on timeout and cancel and also once the workload itself exited.
    Group,
}

/// Poll slots: the three pipes, then the pidfd, then `cancel`.
const PIDFD: usize = 3;

/// The fds to poll now and the slot of each (see [`PIDFD`]).
fn poll_set<'a>(
    pipes: &[BorrowedFd<'a>; 3],
    s: &State,
    child: &'a Child<'_>,
    cancel: Option<BorrowedFd<'a>>,
) -> (Vec<PollFd<'a>>, Vec<usize>) {
    let mut pfds = Vec::with_capacity(5);
    let mut which = Vec::with_capacity(5);
    for (i, fd) in pipes.iter().enumerate().filter(|(i, _)| s.open[*i]) {
        pfds.push(PollFd::new(*fd, PollFlags::POLLIN));
        which.push(i);
    }
    if !s.exited {
        pfds.push(PollFd::new(child.pidfd.as_fd(), PollFlags::POLLIN));
        which.push(PIDFD);
    }
    if let Some(c) = cancel {
        pfds.push(PollFd::new(c, PollFlags::POLLIN));
        which.push(PIDFD + 1);
    }
    (pfds, which)
}

/// The signal number `cancel` carries (one byte; 0 or none: `SIGTERM`).
fn cancel_signal(cancel: Option<BorrowedFd<'_>>) -> i32 {
    let mut b = [0u8; 1];
    if let Some(c) = cancel {
        let _ = read_some(c, &mut b);
    }
    if b[0] == 0 {
        libc::SIGTERM
    } else {
        i32::from(b[0])
    }
}

/// Watches `child` until it exits, `timeout` passes or `cancel` becomes
/// readable (one byte: the signal number). On timeout or cancel the child
/// gets `SIGKILL` (as PID 1 of its namespace, everything inside dies with
/// it; see [`Kill`]). Output is kept in bounded tails and the pipes are
/// drained for at most [`DRAIN`] after the exit, so neither a flood nor a
/// writer that outlives the workload holds the caller; `cancel` is heard
/// until the end.
pub fn watch(
    child: &Child<'_>,
    pipes: Pipes,
    timeout: Duration,
    cancel: Option<BorrowedFd<'_>>,
    how: Kill,
) -> Watched {
    watch_from(child, pipes, timeout, cancel, how, Early::default())
}

/// [`watch`], going on from the protocol words [`until`] read already
/// (they come first in the events; `timeout` counts from now).
pub fn watch_from(
    child: &Child<'_>,
    pipes: Pipes,
    timeout: Duration,
    cancel: Option<BorrowedFd<'_>>,
    how: Kill,
    early: Early,
) -> Watched {
    let mut s = State::new(timeout, early.0);
    let mut buf = vec![0u8; 16384];
    let fds = [
        pipes.proto.as_fd(),
        pipes.stdout.as_fd(),
        pipes.stderr.as_fd(),
    ];
    let kill_all = |child: &Child<'_>| match how {
        Kill::Pid => kill(child),
        Kill::Group => kill_group(child),
    };
    let drain = DRAIN.as_nanos() as u64;
    // Until the child is gone, and then until its pipes are drained (each
    // write end closes with the last process holding it) or DRAIN is over.
    while s.open.iter().any(|o| *o) {
        let Some(wait_ms) = s.wait_ms(monotonic_ns()) else {
            break;
        };
        let (mut pfds, which) = poll_set(&fds, &s, child, cancel);
        let timeout = PollTimeout::try_from(wait_ms).unwrap_or(PollTimeout::MAX);
        let n = match nix::poll::poll(&mut pfds, timeout) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(_) => 0,
        };
        let arrived = monotonic_ns();
        if n == 0 {
            if !s.exited && arrived >= s.deadline {
                kill_all(child);
                s.ended(Some(Stop::TimedOut), arrived.saturating_add(drain));
            }
            continue;
        }
        let hit = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        for (p, &i) in pfds.iter().zip(&which) {
            if !p.revents().is_some_and(|r| r.intersects(hit)) {
                continue;
            }
            match i {
                0..=2 => s.read_pipe(i, fds[i], &mut buf, arrived),
                PIDFD => {
                    s.ended(None, arrived.saturating_add(drain));
                    // A plain process's own group goes with it.
                    if how == Kill::Group {
                        kill_group(child);
                    }
                }
                _ => {
                    let sig = cancel_signal(cancel);
                    kill_all(child);
                    // Torn down at once: nothing more is read.
                    s.ended(Some(Stop::Interrupted(sig)), arrived);
                }
            }
        }
    }
    s.finish(child)
}

/// Sends `SIGKILL` through the pidfd.
pub fn kill(child: &Child<'_>) {
    // SAFETY: pidfd_send_signal on our own pidfd with no siginfo.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            child.pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// Sends `SIGKILL` to the child's process group (its pgid is its pid; the
/// child is not reaped yet, so the id cannot have been reused).
fn kill_group(child: &Child<'_>) {
    kill(child);
    let _ = nix::sys::signal::killpg(Pid::from_raw(child.pid), nix::sys::signal::Signal::SIGKILL);
}

/// Waits for the child's exit; returns its status and when it was reaped.
pub fn reap(child: &Child<'_>) -> (ExitStatus, u64) {
    loop {
        match waitpid(Pid::from_raw(child.pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return (ExitStatus::Code(code), monotonic_ns()),
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return (ExitStatus::Signal(sig as i32), monotonic_ns())
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            // Already reaped elsewhere (ECHILD): report as killed.
            Err(_) => return (ExitStatus::Signal(libc::SIGKILL), monotonic_ns()),
        }
    }
}
