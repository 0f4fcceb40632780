//! Starting one workload: cgroup, pipes, plan, clone, parent steps, the
//! child's status record, watching, usage, cleanup.
//!
//! - `error`: [`LaunchError`] and the hint for each failed step;
//! - `outcome`: what a run produced ([`Outcome`]);
//! - `fds`: the pipes and the status record read through one;
//! - `child`: the cloned child's entry, and the guard that kills and reaps
//!   it when setup fails;
//! - `phases`, `cgroup_setup`, `wiring`: what the run prepares before the
//!   clone;
//! - `run`: [`run`] itself, from the plan to the outcome.
mod cgroup_setup;
mod child;
mod error;
mod fds;
mod outcome;
mod phases;
mod run;
mod wiring;

pub use error::LaunchError;
pub use outcome::Outcome;
pub use run::run;
