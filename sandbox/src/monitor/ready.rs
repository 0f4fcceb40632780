//! Waiting for one protocol event before the watch begins: a held
//! workload's `ready`, read from the protocol pipe while its stdout and
//! stderr wait in their pipes (read later by [`super::watch_from`]).
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use vmlab_workload::protocol::Event;

use super::state::{read_some, Proto};
use crate::clone::Child;
use crate::sys::monotonic_ns;

/// The protocol words a workload sent before its watch began; the watch
/// goes on from them.
#[derive(Debug, Default)]
pub struct Early(pub(super) Proto);

impl Early {
    /// The events so far, each with its arrival (`CLOCK_MONOTONIC` ns).
    pub fn events(&self) -> &[(Event, u64)] {
        &self.0.events
    }
}

/// Why the awaited event did not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotYet {
    /// The workload exited (or closed its protocol fd) first.
    Exited,
    /// `limit` passed.
    TimedOut,
    /// The pipe could not be polled or read.
    Pipe(Errno),
}

/// Reads `proto`, the protocol pipe of `child`, into `early` until `event`
/// arrives or `limit` passes; returns when it arrived (`CLOCK_MONOTONIC`
/// ns). What the pipe holds is read before an exit counts, so an event sent
/// just before the exit is seen.
pub fn until(
    child: &Child<'_>,
    proto: BorrowedFd<'_>,
    event: Event,
    limit: Duration,
    early: &mut Early,
) -> Result<u64, NotYet> {
    let deadline = monotonic_ns().saturating_add(limit.as_nanos().min(u64::MAX as u128) as u64);
    let mut buf = [0u8; 512];
    let mut seen = 0;
    loop {
        if let Some((_, t)) = early.0.events[seen..].iter().find(|(e, _)| *e == event) {
            return Ok(*t);
        }
        seen = early.0.events.len();
        let left = deadline.saturating_sub(monotonic_ns());
        if left == 0 {
            return Err(NotYet::TimedOut);
        }
        let mut pfds = [
            PollFd::new(proto, PollFlags::POLLIN),
            PollFd::new(child.pidfd.as_fd(), PollFlags::POLLIN),
        ];
        let ms = left.div_ceil(1_000_000).min(i32::MAX as u64) as i32;
        match nix::poll::poll(
            &mut pfds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        ) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(NotYet::Pipe(e)),
        }
        let hit = |p: &PollFd<'_>, f: PollFlags| p.revents().is_some_and(|r| r.intersects(f));
        if hit(
            &pfds[0],
            PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR,
        ) {
            match read_some(proto, &mut buf) {
                Ok(0) => return Err(NotYet::Exited),
                Ok(n) => early.0.feed(&buf[..n], monotonic_ns()),
                Err(Errno::EAGAIN) => {}
                Err(e) => return Err(NotYet::Pipe(e)),
            }
        } else if hit(&pfds[1], PollFlags::POLLIN) {
            return Err(NotYet::Exited);
        }
    }
}
