//! `crossing`: round trips across the isolation boundary (a null system
//! call in a process or container, a port read that exits to the VMM in the
//! bare guest).
use crate::args::Spec;
use crate::kernel::Kernel;
use crate::measure::measure;
use crate::platform::Platform;
use crate::report::Measurement;

/// Runs the kernel for the spec's time budget.
pub fn run<P: Platform + ?Sized>(p: &mut P, spec: &Spec) -> Measurement {
    let clock = p.clock();
    let timing = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            p.cross();
        }
        Ok::<_, core::convert::Infallible>(n)
    })
    .unwrap_or_else(|never| match never {});
    Measurement::new(Kernel::Crossing, timing)
}
