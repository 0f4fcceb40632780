//! The Linux side of the workload binary: the [`Platform`] for processes,
//! sandboxes and Linux guests, PID 1 duties, and the Linux-only kernels.
//!
//! [`Platform`]: vmlab_workload::Platform

/// Builds a [`Failure`](vmlab_workload::Failure) from a format string.
macro_rules! failure {
    ($($arg:tt)*) => {
        vmlab_workload::Failure::new(format_args!($($arg)*))
    };
}

pub mod attacks;
pub mod blk;
pub mod channel;
pub mod console;
pub mod file;
pub mod guest_io;
pub mod init;
pub mod net;
pub mod pipe;
pub mod platform;
pub mod spawn;
pub mod sys;
pub mod tcp;
