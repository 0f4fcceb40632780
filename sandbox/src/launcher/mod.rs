//! Starting one workload: cgroup, pipes, plan, clone, parent steps, the
//! child's status record, watching, usage, cleanup.
//!
//! - `error`: [`LaunchError`] and the hint for each failed step;
//! - `bind`: a host file's detached bind mount ([`BindError`]);
//! - `outcome`: what a run produced ([`Outcome`]);
//! - `fds`: the pipes and the status record read through one;
//! - `child`: the cloned child's entry;
//! - `phases`, `cgroup_setup`, `wiring`: what the run prepares before the
//!   clone;
//! - `run`: [`run`] itself, and the parent's steps and the outcome;
//! - `started`: a cloned sandbox that owns its plan, set up to `execve` or
//!   parked just before it (for [`crate::pool`]).
mod bind;
mod cgroup_setup;
mod child;
mod error;
mod fds;
mod outcome;
mod phases;
mod run;
mod started;
mod wiring;

pub use bind::BindError;
pub use error::LaunchError;
pub use outcome::Outcome;
pub use run::run;
pub(crate) use started::Started;
