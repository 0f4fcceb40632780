//! `spawn`: the cost of a new process. Two results, `"mode":"fork"` (fork,
//! the child exits at once, wait) and `"mode":"exec"` (fork, the child
//! execs this binary with [`EXEC_CHILD_ARG`], which exits at once, wait).
//! Each mode gets the full time budget.
use std::path::Path;

use vmlab_workload::measure::measure;
use vmlab_workload::{Failure, Kernel, Measurement, Spec};

use super::platform::Mono;
use super::sys::{self, SelfExec};

/// The hidden first argument that makes the binary exit at once.
pub const EXEC_CHILD_ARG: &str = "--vmlab-exec-child";

/// Waits for `child` and checks it exited with 0.
fn reap(child: sys::Child, mode: &str) -> Result<(), Failure> {
    match child.wait() {
        Ok(0) => Ok(()),
        Ok(127) if mode == "exec" => Err(failure!(
            "spawn: the child could not exec /proc/self/exe (exit 127)"
        )),
        Ok(code) => Err(failure!("spawn: {mode} child exited with {code}")),
        Err(e) => Err(failure!("spawn: {mode} child: {e}")),
    }
}

/// Runs both modes for the spec's time budget each.
pub fn run(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let clock = Mono::new();
    let fork = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            let child =
                sys::fork_child(&[], || 0).map_err(|e| failure!("spawn: fork failed: {e}"))?;
            reap(child, "fork")?;
        }
        Ok(n)
    })?;
    report(&Measurement {
        mode: Some("fork"),
        ..Measurement::new(Kernel::Spawn, fork)
    });

    if !Path::new("/proc/self/exe").exists() {
        return Err(failure!(
            "spawn: /proc/self/exe is missing, so exec cannot be measured; mount /proc"
        ));
    }
    let exec = SelfExec::new("vmlab-workload", EXEC_CHILD_ARG);
    let timing = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            let child = sys::fork_child(&[], || {
                let _ = exec.exec();
                127
            })
            .map_err(|e| failure!("spawn: fork failed: {e}"))?;
            reap(child, "exec")?;
        }
        Ok(n)
    })?;
    report(&Measurement {
        mode: Some("exec"),
        ..Measurement::new(Kernel::Spawn, timing)
    });
    Ok(())
}
