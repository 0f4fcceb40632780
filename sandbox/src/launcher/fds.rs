//! The pipes between parent and child, and the child's status record read
//! back through one of them.
use std::os::fd::{FromRawFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use super::LaunchError;
use crate::plan::ChildFds;
use crate::step::{Status, STATUS_LEN};
use crate::sys::monotonic_ns;

/// The parent's and the child's ends of one pipe.
pub(super) struct Pipe {
    pub(super) parent: OwnedFd,
    pub(super) child: OwnedFd,
}

/// A pipe whose child end is moved to at least [`ChildFds::MIN`].
pub(super) fn pipe(child_reads: bool) -> Result<Pipe, Errno> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (parent, child) = if child_reads { (w, r) } else { (r, w) };
    Ok(Pipe {
        parent,
        child: high(child)?,
    })
}

/// A connected pair of stream sockets, the child's end moved to at least
/// [`ChildFds::MIN`]: a protocol channel that also carries the parent's
/// word back (a held workload's release: the parent shuts down its
/// writing side and the child reads end of file).
pub(super) fn duplex() -> Result<Pipe, Errno> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    let (parent, child) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok(Pipe {
        parent,
        child: high(child)?,
    })
}

pub(super) fn high(fd: OwnedFd) -> Result<OwnedFd, Errno> {
    let n = fcntl(&fd, FcntlArg::F_DUPFD_CLOEXEC(ChildFds::MIN))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(n) })
}

/// Reads the status pipe to EOF (the child's `execve` closes it); the last
/// record counts.
pub(super) fn read_status(fd: &OwnedFd, timeout_ns: u64) -> Result<Option<Status>, LaunchError> {
    read_records(fd, timeout_ns, false)
}

/// Reads the status pipe up to its first whole record (a parked child's,
/// sent before it blocks) or EOF (it failed and exited first).
pub(super) fn read_first_status(
    fd: &OwnedFd,
    timeout_ns: u64,
) -> Result<Option<Status>, LaunchError> {
    read_records(fd, timeout_ns, true)
}

fn read_records(fd: &OwnedFd, timeout_ns: u64, first: bool) -> Result<Option<Status>, LaunchError> {
    let deadline = monotonic_ns().saturating_add(timeout_ns);
    let mut buf = Vec::with_capacity(2 * STATUS_LEN);
    while !(first && buf.len() >= STATUS_LEN) {
        let left = deadline.saturating_sub(monotonic_ns());
        if left == 0 {
            return Err(LaunchError::SetupTimeout);
        }
        let mut p = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(fd),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = left.div_ceil(1_000_000).min(i32::MAX as u64) as i32;
        match nix::poll::poll(
            &mut p,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        ) {
            Ok(0) => continue,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(LaunchError::Pipe(e)),
        }
        let mut chunk = [0u8; 2 * STATUS_LEN];
        // A first record is read exactly: the next belongs to the release.
        let want = if first {
            STATUS_LEN - buf.len()
        } else {
            chunk.len()
        };
        match nix::unistd::read(fd, &mut chunk[..want]) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => return Err(LaunchError::Pipe(e)),
        }
    }
    let records = buf.len() / STATUS_LEN;
    if records == 0 {
        return Ok(None);
    }
    Ok(Status::decode(
        &buf[(records - 1) * STATUS_LEN..records * STATUS_LEN],
    ))
}
