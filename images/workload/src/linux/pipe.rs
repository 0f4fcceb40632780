//! `pipe`: round-trip latency of one byte over a pair of pipes between
//! this process and a forked echo child.
use std::io::{self, Read, Write};
use std::os::fd::AsFd;

use vmlab_workload::measure::measure;
use vmlab_workload::{Failure, Kernel, Measurement, Spec};

use super::platform::Mono;
use super::sys;

/// The child's loop: echo every byte until end of file.
fn echo(mut input: impl Read, mut output: impl Write) -> i32 {
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) => return 0,
            Ok(_) => {
                if output.write_all(&byte).is_err() {
                    return 1;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return 1,
        }
    }
}

/// Runs the kernel for the spec's time budget.
pub fn run(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let (to_child_r, mut to_child) =
        sys::pipe().map_err(|e| failure!("pipe: cannot create a pipe: {e}"))?;
    let (mut from_child, from_child_w) =
        sys::pipe().map_err(|e| failure!("pipe: cannot create a pipe: {e}"))?;
    // The child closes the parent's ends; the closure owns the child's ends,
    // so dropping it in the parent closes them there.
    let child = sys::fork_child(&[to_child.as_fd(), from_child.as_fd()], move || {
        echo(to_child_r, from_child_w)
    })
    .map_err(|e| failure!("pipe: fork failed: {e}"))?;

    let clock = Mono::new();
    let mut byte = [7u8];
    let timing = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            to_child
                .write_all(&byte)
                .and_then(|()| from_child.read_exact(&mut byte))
                .map_err(|e| failure!("pipe: echo round trip failed: {e}"))?;
        }
        Ok(n)
    });
    drop(to_child);
    let status = child.wait();
    let timing = timing?;
    match status {
        Ok(0) => {}
        Ok(code) => return Err(failure!("pipe: echo child exited with {code}")),
        Err(e) => return Err(failure!("pipe: echo child: {e}")),
    }
    report(&Measurement::new(Kernel::Pipe, timing));
    Ok(())
}
