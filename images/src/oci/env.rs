//! What the workload finds in a container's environment.
/// The environment of the workload in a container.
pub const ENV: &[&str] = &["PATH=/sbin:/"];
