//! Builds what vmlab boots, from one workload.
pub mod embedded;
