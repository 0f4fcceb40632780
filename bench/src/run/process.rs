//! `vmlab run --backend process` (placeholder).
use super::{RunArgs, RunOutput};

pub fn run(args: &RunArgs) -> anyhow::Result<RunOutput> {
    anyhow::bail!("backend {:?} is not implemented yet", args.backend)
}
