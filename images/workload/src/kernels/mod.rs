//! The shared kernels: they run on any [`Platform`](crate::platform::Platform).
//!
//! Each one measures with the time-budget harness ([`crate::measure`]) and
//! hands its result to a `report` callback. The work goes through
//! [`core::hint::black_box`] so the optimizer cannot drop it.
pub mod blk;
pub mod cpu;
pub mod crossing;
mod dispatch;
pub mod memory;
pub mod net;
pub mod pagetouch;

pub use dispatch::run_shared;
