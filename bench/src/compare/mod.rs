//! `vmlab compare`: the matrix of backends, measured run by run (placeholder).
use clap::Args;

/// Arguments of `vmlab compare`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {}

/// Runs the comparison; returns the process exit code.
pub fn main(_args: CompareArgs) -> anyhow::Result<u8> {
    anyhow::bail!("vmlab compare is not implemented yet")
}
