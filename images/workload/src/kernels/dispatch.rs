//! [`run_shared`]: one shared kernel, chosen by name.
use crate::args::Spec;
use crate::kernel::Kernel;
use crate::platform::Platform;
use crate::report::{Failure, Measurement};

use super::{cpu, crossing, memory, pagetouch};

/// Runs one shared kernel; `Err` for a kernel that is not shared or that
/// cannot get its memory.
pub fn run_shared<P: Platform + ?Sized>(
    p: &mut P,
    kernel: Kernel,
    spec: &Spec,
    report: &mut dyn FnMut(&Measurement),
) -> Result<(), Failure> {
    let m = match kernel {
        Kernel::Cpu => cpu::run(p, spec),
        Kernel::Memory => memory::run(p, spec)?,
        Kernel::Pagetouch => pagetouch::run(p, spec)?,
        Kernel::Crossing => crossing::run(p, spec),
        _ => return Err(Failure::unsupported(kernel)),
    };
    report(&m);
    Ok(())
}
