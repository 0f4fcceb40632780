//! Every pipe between parent and child, made before the clone.
use std::os::fd::{AsRawFd, OwnedFd};

use nix::fcntl::OFlag;

use super::fds::{high, pipe, Pipe};
use super::LaunchError;
use crate::plan::ChildFds;

/// Both ends of every pipe between parent and child, and the child's stdin.
pub(super) struct Wiring {
    pub(super) sync: Pipe,
    pub(super) status: Pipe,
    pub(super) proto: Pipe,
    pub(super) stdout: Pipe,
    pub(super) stderr: Pipe,
    pub(super) devnull: OwnedFd,
}

impl Wiring {
    pub(super) fn new() -> Result<Wiring, LaunchError> {
        let devnull = nix::fcntl::open(
            c"/dev/null",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .and_then(high);
        let w = (|| {
            Ok(Wiring {
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
            status: self.status.child.as_raw_fd(),
            stdin: self.devnull.as_raw_fd(),
            stdout: self.stdout.child.as_raw_fd(),
            stderr: self.stderr.child.as_raw_fd(),
            proto: self.proto.child.as_raw_fd(),
        }
    }
}
