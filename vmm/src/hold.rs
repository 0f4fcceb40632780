//! The hold port: a held guest (`--hold`) reads
//! [`HOLD_PORT`](vmlab_workload::protocol::HOLD_PORT) after its kernels, and
//! the VMM answers that read only when the guest may go on and exit.
//!
//! How the VMM answers depends on how it was started:
//!
//! - no gate ([`VmConfig::hold`](crate::VmConfig::hold) `None`): at once, so
//!   a guest started with `--hold` by a caller that never releases it does
//!   not hang (it exits as if released);
//! - a [`HoldGate`]: the vCPU thread blocks on the gate's fd until one
//!   read returns, with data or with end of file (the same rule as the
//!   Linux workload's hold fd and stdin), so a byte written to a pipe or
//!   eventfd, or its writer closing it, releases the guest. The VM's
//!   timeout still applies while it waits;
//! - [`held::HeldVm`](crate::held::HeldVm): the vCPU is parked, no thread
//!   waits, and the owner releases or drops it.
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// What a held guest waits on: an fd whose next read (data or end of file)
/// releases it. Any readable fd works: a pipe's read end, an eventfd,
/// stdin.
#[derive(Debug)]
pub struct HoldGate {
    fd: OwnedFd,
}

/// Why one wait on the gate returned without a release.
#[derive(Debug)]
pub(crate) enum Interrupted {
    /// A signal (the timeout kick): check the deadline, then wait again.
    Signal,
    /// The read failed.
    Failed(io::Error),
}

impl HoldGate {
    /// A gate on `fd`: a read from it that returns releases the guest.
    pub fn new(fd: OwnedFd) -> HoldGate {
        HoldGate { fd }
    }

    /// A gate on a duplicate of this process's stdin: a byte or end of file
    /// there releases the guest.
    pub fn stdin() -> io::Result<HoldGate> {
        Ok(HoldGate::new(io::stdin().as_fd().try_clone_to_owned()?))
    }

    /// The fd the VMM reads (a jailed VMM keeps it and may read it).
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Waits until the gate releases the guest (`Ok`), a signal interrupts
    /// the wait, or the read fails. A non-blocking fd is polled until it
    /// is readable.
    pub(crate) fn wait(&self) -> Result<(), Interrupted> {
        // Eight bytes: an eventfd's read needs them, a pipe gives 1 to 8.
        let mut buf = [0u8; 8];
        loop {
            match nix::unistd::read(&self.fd, &mut buf) {
                Ok(_) => return Ok(()),
                Err(nix::Error::EINTR) => return Err(Interrupted::Signal),
                Err(nix::Error::EAGAIN) => {
                    let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, PollTimeout::NONE) {
                        Ok(_) => continue,
                        Err(nix::Error::EINTR) => return Err(Interrupted::Signal),
                        Err(e) => return Err(Interrupted::Failed(e.into())),
                    }
                }
                Err(e) => return Err(Interrupted::Failed(e.into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn pipe() -> (HoldGate, std::fs::File) {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        (HoldGate::new(r), std::fs::File::from(w))
    }

    #[test]
    fn a_byte_or_end_of_file_releases() {
        let (gate, mut w) = pipe();
        w.write_all(b"x").unwrap();
        assert!(gate.wait().is_ok());
        drop(w);
        assert!(gate.wait().is_ok(), "end of file releases too");
    }

    #[test]
    fn waits_until_written_even_when_non_blocking() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_NONBLOCK).unwrap();
        let gate = HoldGate::new(r);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            std::fs::File::from(w).write_all(b"go").unwrap();
        });
        let t = std::time::Instant::now();
        assert!(gate.wait().is_ok());
        assert!(t.elapsed() >= std::time::Duration::from_millis(20));
        writer.join().unwrap();
    }

    #[test]
    fn a_signal_interrupts_the_wait() {
        let (gate, _w) = pipe();
        let timer = crate::timer::KickTimer::arm(std::time::Duration::from_millis(20)).unwrap();
        assert!(matches!(gate.wait(), Err(Interrupted::Signal)));
        drop(timer);
    }

    #[test]
    fn a_failed_read_is_an_error() {
        // A write-only fd cannot be read: EBADF.
        let (_r, w) = nix::unistd::pipe().unwrap();
        let gate = HoldGate::new(w);
        assert!(matches!(gate.wait(), Err(Interrupted::Failed(_))));
    }
}
