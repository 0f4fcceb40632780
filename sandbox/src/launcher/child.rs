//! The cloned child's entry point, and the guard that kills and reaps it
//! when setup fails.
use nix::errno::Errno;

use crate::clone::Child;
use crate::monitor;
use crate::plan::Plan;
use crate::step::{self, Failure, Status, Step};
use crate::sys::{Real, Sys};

/// The child's entry on its own stack, with the plan it shares with the
/// parent (borrowed by the [`Child`] for as long as the child lives).
pub(super) extern "C" fn child_entry(plan: &Plan) -> ! {
    child_main(plan)
}

/// The child: run the steps, report a failure, never return.
fn child_main(plan: &Plan) -> ! {
    let mut st = Status::new();
    let mut sys = Real;
    let failure = match step::child_steps(plan, &mut sys, &mut st) {
        Err(f) => f,
        Ok(()) => Failure {
            step: Step::Exec,
            errno: Errno::EINVAL,
        },
    };
    st.failure = Some(failure);
    let _ = sys.write_all(plan.fds.status, &st.encode());
    // SAFETY: exit_group ends this process without touching shared memory.
    let _ = unsafe { crate::sys::raw::sys!(libc::SYS_exit_group, 127) };
    // exit_group does not return.
    loop {
        std::hint::spin_loop();
    }
}

/// Kills and reaps the child when dropped, unless [`KillOnDrop::disarm`]ed:
/// every early return during setup tears the child down.
pub(super) struct KillOnDrop<'c, 'a>(Option<&'c Child<'a>>);

impl<'c, 'a> KillOnDrop<'c, 'a> {
    pub(super) fn new(child: &'c Child<'a>) -> Self {
        KillOnDrop(Some(child))
    }

    /// Setup succeeded: the monitor owns the child's end from here.
    pub(super) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop<'_, '_> {
    fn drop(&mut self) {
        if let Some(child) = self.0 {
            monitor::kill(child);
            monitor::reap(child);
        }
    }
}
