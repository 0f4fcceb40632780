//! Fault points for root tests (feature `fault-points`, on only in this
//! crate's own tests): hold a launcher at one point of a start so that a
//! test can kill it there, and the weakened child order that the test's
//! positive control runs. Without the feature every point is a no-op.

#[cfg(feature = "fault-points")]
mod on {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};

    static PAUSE_AFTER_CLONE: AtomicBool = AtomicBool::new(false);
    static LATE_DEATH_SIGNAL: AtomicBool = AtomicBool::new(false);

    /// From now on a start stops for good right after its clone, having
    /// printed `FAULT cloned <child pid>` on stdout: the caller never
    /// writes the id maps nor releases the child.
    pub fn pause_after_clone() {
        PAUSE_AFTER_CLONE.store(true, Ordering::SeqCst);
    }

    /// From now on the child keeps its copy of the parent's end of the
    /// sync pipe and sets its parent-death signal only after its id change
    /// (the order before the fix that a launcher killed between clone and
    /// release tests): a deliberately weakened child.
    pub fn late_death_signal() {
        LATE_DEATH_SIGNAL.store(true, Ordering::SeqCst);
    }

    pub(crate) fn after_clone(pid: i32) {
        if PAUSE_AFTER_CLONE.load(Ordering::SeqCst) {
            let mut out = std::io::stdout();
            let _ = writeln!(out, "FAULT cloned {pid}");
            let _ = out.flush();
            loop {
                std::thread::park();
            }
        }
    }

    /// Read by the child between clone and `execve`: an atomic load, no
    /// system call.
    pub(crate) fn early_death_signal() -> bool {
        !LATE_DEATH_SIGNAL.load(Ordering::SeqCst)
    }
}

#[cfg(feature = "fault-points")]
pub(crate) use on::{after_clone, early_death_signal};
#[cfg(feature = "fault-points")]
pub use on::{late_death_signal, pause_after_clone};

#[cfg(not(feature = "fault-points"))]
pub(crate) fn after_clone(_pid: i32) {}

#[cfg(not(feature = "fault-points"))]
pub(crate) fn early_death_signal() -> bool {
    true
}
