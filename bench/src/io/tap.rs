//! A TAP for a VM on a link: opened in the link's instance-side namespace
//! and bridged there with the instance end of the veth pair, so that the
//! guest's virtio-net interface takes the instance's address itself.
//!
//! The hop, guest to server: guest `eth0` (10.77.n.2) → virtio-net → the
//! TAP `vt<n>` → the bridge `vb<n>` → the veth `vi<n>` → `vh<n>` (10.77.n.1)
//! in the host side's namespace. While the TAP is bridged, `vi<n>` has no
//! address (the guest has it); dropping the TAP closes it (the kernel
//! removes a TAP nobody holds), removes the bridge and gives `vi<n>` its
//! address back. A killed vmlab leaves nothing either: the namespaces, and
//! everything in them, die with its descriptors.
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::process::Command;

use super::{link, IoError, Link};

/// A TAP bridged into a link (see the module documentation).
pub struct BridgedTap<'a> {
    link: &'a Link,
    fd: OwnedFd,
}

impl<'a> BridgedTap<'a> {
    /// Opens the TAP in `link`'s namespace and bridges it there.
    pub fn new(link: &'a Link) -> Result<BridgedTap<'a>, IoError> {
        let subnet = link.subnet();
        let name = subnet.tap_if();
        let fd = link
            .ns()
            .run_in(|| vmlab_vmm::devices::virtio::tap::open(&name).map_err(std::io::Error::other))
            .map_err(|e| IoError::Tap(name.clone(), e))?;
        let tap = BridgedTap { link, fd };
        if let Err(e) = link::ip_batch(link.ns(), &subnet.bridge_batch()) {
            // Undo whatever part of the batch ran (drop does).
            drop(tap);
            return Err(e.into());
        }
        Ok(tap)
    }

    /// The TAP's descriptor (a read is one frame, a write sends one).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The address the guest gives its interface (`--addr`).
    pub fn guest_addr(&self) -> String {
        format!("{}/24", self.link.subnet().instance())
    }

    /// Makes `cmd` inherit the TAP's descriptor and die (SIGKILL) with the
    /// thread that spawns it, so that a killed vmlab leaves no VM holding
    /// the TAP and its namespace; returns the descriptor's number there.
    pub fn pass_to(&self, cmd: &mut Command) -> std::io::Result<RawFd> {
        let fd = self.fd.try_clone()?;
        let raw = fd.as_raw_fd();
        // SAFETY: getpid is async-signal-safe and called before the fork.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the closure runs in the child between fork and exec and
        // only calls async-signal-safe functions (fcntl, prctl, getppid,
        // raise) on a descriptor it owns (a copy, closed in the parent when
        // `cmd` drops): clearing FD_CLOEXEC keeps it open, at the same
        // number, across exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(move || {
                if libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) == -1
                    || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before the prctl.
                if libc::getppid() != parent {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            });
        }
        Ok(raw)
    }
}

impl Drop for BridgedTap<'_> {
    fn drop(&mut self) {
        // Best effort: the namespace dies with the link whatever happens.
        let _ = link::ip_batch(self.link.ns(), &self.link.subnet().unbridge_batch());
    }
}
