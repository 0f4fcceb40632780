//! Turning a [`crate::Config`] into a [`Plan`]: every path, string, mask
//! and BPF program the child needs, built before the clone.
//!
//! - `types`: the plan itself ([`Plan`], [`RootPlan`], ...);
//! - `build`: [`build`] and [`clone_flags`] from a configuration.
mod build;
mod types;

pub use build::{build, clone_flags, rlimits, PlanError, DEV_NODES, MASKED, READONLY};
pub use types::*;
