//! `clone3`: one call creates the child in all its namespaces (and, on
//! cgroup v2, directly in its cgroup), with a pidfd for the parent.
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

/// The child as the parent sees it.
#[derive(Debug)]
pub struct Child {
    /// Its pid in the parent's pid namespace.
    pub pid: i32,
    /// A pidfd: readable when the child exits; signals go through it.
    pub pidfd: OwnedFd,
}

/// Which side of the clone we are on.
#[derive(Debug)]
pub enum Forked {
    /// The parent, with the child.
    Parent(Child),
    /// The child: it may only make async-signal-safe calls until `execve`.
    Child,
}

/// `CLONE_INTO_CGROUP` (libc's constant is an overflowing `c_int`).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Namespace flags for `clone3` (`CLONE_NEW*`).
pub type Flags = u64;

/// Clones the calling process like `fork`, into new namespaces `flags` and,
/// when `cgroup` is given, into that cgroup v2 directory.
///
/// # Safety
/// In the child, until `execve` or `_exit`, only async-signal-safe
/// operations are allowed (the parent may have other threads holding locks):
/// no allocation, no locks, no panics.
pub unsafe fn clone3(flags: Flags, cgroup: Option<RawFd>) -> Result<Forked, Errno> {
    let mut pidfd: libc::c_int = -1;
    let mut f = flags | libc::CLONE_PIDFD as u64;
    if cgroup.is_some() {
        f |= CLONE_INTO_CGROUP;
    }
    // SAFETY: clone_args is plain data; zero is valid for every field.
    let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
    args.flags = f;
    args.pidfd = &mut pidfd as *mut libc::c_int as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    args.cgroup = cgroup.unwrap_or(0) as u64;
    // SAFETY: `args` is a valid clone_args of the size passed; without
    // CLONE_VM and without a stack the child runs on a copy of this stack,
    // like after fork. The caller upholds the async-signal-safety contract.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut libc::clone_args,
            std::mem::size_of::<libc::clone_args>(),
        )
    };
    match rc {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(Child {
            pid: pid as i32,
            // SAFETY: with CLONE_PIDFD the kernel stored a new fd we own.
            pidfd: unsafe { OwnedFd::from_raw_fd(pidfd) },
        })),
    }
}
