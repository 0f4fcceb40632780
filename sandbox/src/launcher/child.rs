//! The cloned child's entry point.
use nix::errno::Errno;

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
