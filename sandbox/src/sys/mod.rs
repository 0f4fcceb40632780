//! The system calls the setup steps make, behind a trait.
//!
//! [`Real`] makes them (in the cloned child they must not allocate or touch
//! `errno`: every argument is prepared by the parent, every call is raw).
//! `Recorder` (in `record`, built for unit tests) writes each call as a line,
//! so the order and arguments of the steps are tested without root.
mod clock;
mod fs;
mod ops;
pub(crate) mod raw;
mod real;
#[cfg(test)]
pub mod record;

pub use clock::monotonic_ns;
pub use fs::{attr, FsSpec};
pub use ops::Sys;
pub use real::Real;
