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
    /// Protocol events and when each arrived.
    pub events: Vec<(Event, u64)>,
    /// Protocol words that decode to no event.
    pub bad_words: Vec<u32>,
    /// Everything the workload wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// The exit status.
    pub status: ExitStatus,
    /// When the exit was reaped.
    pub reaped_at: u64,
    /// Why watching stopped.
    pub stop: Stop,
}

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

fn read_some(fd: BorrowedFd<'_>, out: &mut Vec<u8>) -> Result<usize, Errno> {
    let mut buf = [0u8; 16384];
    loop {
        match nix::unistd::read(fd, &mut buf) {
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                return Ok(n);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Watches `child` until it exits, `timeout` passes or `cancel` becomes
/// readable (one byte: the signal number). On timeout or cancel the child
/// gets `SIGKILL` (as PID 1 of its namespace, everything inside dies with it).
pub fn watch(
    child: &Child,
    pipes: Pipes,
    timeout: Duration,
    cancel: Option<BorrowedFd<'_>>,
) -> Watched {
    let deadline = monotonic_ns().saturating_add(timeout.as_nanos() as u64);
    let mut proto_buf: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut bad_words = Vec::new();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut open = [true, true, true];
    let mut stop = Stop::Exited;
    let mut exited = false;
    let fds = [
        pipes.proto.as_fd(),
        pipes.stdout.as_fd(),
        pipes.stderr.as_fd(),
    ];
    // Until the child is gone, and then until its pipes are drained (each
    // write end closes with the last process holding it).
    while open.iter().any(|o| *o) {
        let now = monotonic_ns();
        let wait_ms = if exited {
            // The workload is dead; writers may only be its descendants
            // outside a pid namespace. Drain what is there, briefly.
            10
        } else {
            deadline
                .saturating_sub(now)
                .div_ceil(1_000_000)
                .min(i32::MAX as u64) as i32
        };
        let mut pfds: Vec<PollFd> = Vec::with_capacity(5);
        let mut which = Vec::with_capacity(5);
        for (i, fd) in fds.iter().enumerate() {
            if open[i] {
                pfds.push(PollFd::new(*fd, PollFlags::POLLIN));
                which.push(i);
            }
        }
        if !exited {
            pfds.push(PollFd::new(child.pidfd.as_fd(), PollFlags::POLLIN));
            which.push(3);
            if let Some(c) = cancel {
                pfds.push(PollFd::new(c, PollFlags::POLLIN));
                which.push(4);
            }
        }
        let n = match nix::poll::poll(
            &mut pfds,
            PollTimeout::try_from(wait_ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(_) => 0,
        };
        let arrived = monotonic_ns();
        if n == 0 {
            if exited {
                break;
            }
            if arrived >= deadline {
                stop = Stop::TimedOut;
                kill(child);
                exited = true;
            }
            continue;
        }
        for (p, &i) in pfds.iter().zip(&which) {
            let ready = p.revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR)
            });
            if !ready {
                continue;
            }
            match i {
                0 => {
                    if matches!(read_some(fds[0], &mut proto_buf), Ok(0) | Err(_)) {
                        open[0] = false;
                    }
                    let whole = proto_buf.len() / 4 * 4;
                    for w in proto_buf[..whole].chunks_exact(4) {
                        let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                        match Event::decode(word) {
                            Some(e) => events.push((e, arrived)),
                            None => bad_words.push(word),
                        }
                    }
                    proto_buf.drain(..whole);
                }
                1 | 2 => {
                    let out = if i == 1 { &mut stdout } else { &mut stderr };
                    if matches!(read_some(fds[i], out), Ok(0) | Err(_)) {
                        open[i] = false;
                    }
                }
                3 => exited = true,
                _ => {
                    let mut b = Vec::new();
                    if let Some(c) = cancel {
                        let _ = read_some(c, &mut b);
                    }
                    stop =
                        Stop::Interrupted(b.first().copied().unwrap_or(libc::SIGTERM as u8) as i32);
                    kill(child);
                    exited = true;
                }
            }
        }
    }
    let (status, reaped_at) = reap(child);
    Watched {
        events,
        bad_words,
        stdout,
        stderr,
        status,
        reaped_at,
        stop,
    }
}

/// Sends `SIGKILL` through the pidfd.
pub fn kill(child: &Child) {
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

/// Waits for the child's exit; returns its status and when it was reaped.
pub fn reap(child: &Child) -> (ExitStatus, u64) {
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
