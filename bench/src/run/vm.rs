//! `vmlab run --backend vm-bare|vm-linux` (placeholder).
use super::{RunArgs, RunOutput};

pub fn run(args: &RunArgs) -> anyhow::Result<RunOutput> {
    anyhow::bail!("backend {:?} is not implemented yet", args.backend)
}
