//! Every pipe between parent and child, made before the clone.
use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::{fcntl, FcntlArg, OFlag};

use super::fds::{duplex, high, pipe, Pipe};
use super::LaunchError;
use crate::plan::ChildFds;

/// Both ends of every pipe between parent and child, and the child's stdin.
pub(super) struct Wiring {
    pub(super) sync: Pipe,
    pub(super) status: Pipe,
    pub(super) proto: Pipe,
    pub(super) stdout: Pipe,
    pub(super) stderr: Pipe,
    /// The child's stdin: `/dev/null`, a copy of the caller's, or (held) a
    /// copy of the child's end of the protocol channel.
    pub(super) devnull: OwnedFd,
    /// A copy of the caller's stdout the child writes to instead of the
    /// stdout pipe (with `pass_stdio`).
    pub(super) passed_stdout: Option<OwnedFd>,
}

impl Wiring {
    /// Every pipe; with `pass_stdio`, copies of the caller's stdin and
    /// stdout stand in for `/dev/null` and the stdout pipe. `held` makes
    /// the protocol channel a socket pair whose child end is also the
    /// child's stdin: a held workload waits on its stdin, and the parent
    /// releases it on the same fd it reads the protocol from (one fd per
    /// held instance fewer than a separate hold pipe).
    pub(super) fn new(pass_stdio: bool, held: bool) -> Result<Wiring, LaunchError> {
        if held {
            let w = (|| {
                let proto = duplex()?;
                let stdin = fcntl(&proto.child, FcntlArg::F_DUPFD_CLOEXEC(ChildFds::MIN))?;
                Ok(Wiring {
                    passed_stdout: None,
                    sync: pipe(true)?,
                    status: pipe(false)?,
                    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing
                    // else owns.
                    devnull: unsafe { std::os::fd::FromRawFd::from_raw_fd(stdin) },
                    proto,
                    stdout: pipe(false)?,
                    stderr: pipe(false)?,
                })
            })();
            return w.map_err(LaunchError::Pipe);
        }
        if pass_stdio {
            // SAFETY: fds 0 and 1 stay open for the whole call; the borrows
            // only live for the check.
            let (stdin, stdout) = unsafe {
                (
                    std::os::fd::BorrowedFd::borrow_raw(0),
                    std::os::fd::BorrowedFd::borrow_raw(1),
                )
            };
            refuse_terminals(&[stdin, stdout])?;
        }
        let devnull = if pass_stdio {
            caller(0)
        } else {
            nix::fcntl::open(
                c"/dev/null",
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .and_then(high)
        };
        let passed_stdout = pass_stdio.then(|| caller(1)).transpose();
        let w = (|| {
            Ok(Wiring {
                passed_stdout: passed_stdout?,
                sync: pipe(true)?,
                status: pipe(false)?,
                proto: pipe(false)?,
                stdout: pipe(false)?,
                stderr: pipe(false)?,
                devnull: devnull?,
            })
        })();
        w.map_err(LaunchError::Pipe)
    }

    pub(super) fn child_fds(&self) -> ChildFds {
        ChildFds {
            sync: self.sync.child.as_raw_fd(),
            sync_writer: self.sync.parent.as_raw_fd(),
            status: self.status.child.as_raw_fd(),
            stdin: self.devnull.as_raw_fd(),
            stdout: match &self.passed_stdout {
                Some(fd) => fd.as_raw_fd(),
                None => self.stdout.child.as_raw_fd(),
            },
            stderr: self.stderr.child.as_raw_fd(),
            proto: self.proto.child.as_raw_fd(),
        }
    }
}

/// A close-on-exec copy of the caller's `fd`, at or above [`ChildFds::MIN`].
/// Refuses passing `fds` to a workload when any is a terminal.
fn refuse_terminals(fds: &[std::os::fd::BorrowedFd<'_>]) -> Result<(), LaunchError> {
    use std::io::IsTerminal;
    if fds.iter().any(|fd| fd.is_terminal()) {
        return Err(LaunchError::TerminalStdio);
    }
    Ok(())
}

fn caller(fd: i32) -> Result<OwnedFd, nix::errno::Errno> {
    // SAFETY: the caller's stdin and stdout stay open for the whole call;
    // the borrow only lives while they are duplicated.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let n = nix::fcntl::fcntl(
        borrowed,
        nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(ChildFds::MIN),
    )?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(n) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_terminal_is_never_passed_to_a_held_workload_but_a_pipe_is() {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let (r, w) = nix::unistd::pipe().expect("pipe");
        assert!(refuse_terminals(&[r.as_fd(), w.as_fd()]).is_ok());
        // The control for the check: the pty's slave is a terminal.
        assert!(matches!(
            refuse_terminals(&[r.as_fd(), pty.slave.as_fd()]),
            Err(LaunchError::TerminalStdio)
        ));
        assert!(matches!(
            refuse_terminals(&[pty.slave.as_fd(), w.as_fd()]),
            Err(LaunchError::TerminalStdio)
        ));
    }
}
