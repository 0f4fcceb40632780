//! `SIGINT`/`SIGTERM` to the parent, turned into a readable fd so that the
//! watcher tears the sandbox down instead of dying with it.
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The pipe the handler writes to (-1: none).
static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; `b` is a valid byte.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
}

/// Installing the handlers failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the SIGINT/SIGTERM handlers")]
pub struct SignalError(#[from] Errno);

/// While alive, `SIGINT` and `SIGTERM` write their number to [`Interrupt::fd`]
/// instead of killing the process. Dropping it restores the old handlers.
#[derive(Debug)]
pub struct Interrupt {
    read: OwnedFd,
    _write: OwnedFd,
    old: [(Signal, SigAction); 2],
}

impl Interrupt {
    /// Installs the handlers (one `Interrupt` at a time per process).
    pub fn install() -> Result<Interrupt, SignalError> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        WRITE_FD.store(std::os::fd::AsRawFd::as_raw_fd(&write), Ordering::Relaxed);
        let act = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        // SAFETY: the handler only makes an async-signal-safe write.
        let old_int = unsafe { sigaction(Signal::SIGINT, &act) }?;
        // SAFETY: as above.
        let old_term = unsafe { sigaction(Signal::SIGTERM, &act) }?;
        Ok(Interrupt {
            read,
            _write: write,
            old: [(Signal::SIGINT, old_int), (Signal::SIGTERM, old_term)],
        })
    }

    /// Readable once a signal arrived; reading yields the signal number.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        for (sig, old) in &self.old {
            // SAFETY: restoring the handler that was there before.
            let _ = unsafe { sigaction(*sig, old) };
        }
        WRITE_FD.store(-1, Ordering::Relaxed);
    }
}
