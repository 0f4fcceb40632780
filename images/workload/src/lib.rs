//! The vmlab workload, shared by every backend.
//!
//! This library is `no_std` and needs no allocator: the bare KVM guest
//! (`images/guest`) links it as well as the static Linux binary
//! (`src/main.rs`). A backend implements [`Platform`] (clock, boundary
//! crossing, memory, protocol), parses a [`Spec`] from its arguments and
//! calls [`run`], which writes JSON lines to any [`core::fmt::Write`]:
//!
//! ```text
//! let spec = Spec::parse(words)?;      // or runner::bad_args → exit 2
//! let code = vmlab_workload::run(&mut platform, &spec, &mut console);
//! // flush the console, then platform.event(Event::Exit(code))
//! ```
//!
//! Every kernel is sized by time ([`measure`]): it runs until its budget is
//! spent and reports the cost per iteration, so the same arguments work
//! natively and under an emulating hypervisor a thousand times slower.
//!
//! Modules:
//! - [`args`]: the command line (kernels, `--size`, `--time`, `--exit`);
//! - [`kernel`]: the kernel names; [`kernels`]: the shared kernels;
//! - [`target`]: the I/O kernels' peer and disk; [`latency`]: percentiles;
//! - [`measure`]: the time-budget harness; [`report`]: the JSON lines;
//! - [`platform`]: what a backend provides; [`runner`]: one run;
//! - [`protocol`]: the ready / mark / exit events and how they travel;
//! - [`bootinfo`]: the boot-info struct the VMM hands the bare guest;
//! - [`io`]: the network and block devices a platform may offer;
//! - [`tail`] (for the host side): a bounded byte tail for output a
//!   workload feeds to the host.
#![no_std]

#[cfg(test)]
extern crate std;

pub mod args;
pub mod bootinfo;
#[cfg(test)]
mod fake;
pub mod io;
pub mod kernel;
pub mod kernels;
pub mod latency;
pub mod measure;
pub mod platform;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod tail;
pub mod target;

pub use args::{ArgsError, Spec};
pub use kernel::Kernel;
pub use measure::{Clock, Timing};
pub use platform::Platform;
pub use protocol::Event;
pub use report::{Failure, Measurement};
pub use runner::run;
