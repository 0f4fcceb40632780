//! `vmlab images build|sizes` (placeholder).
use std::path::PathBuf;

use clap::Subcommand;

/// What to do with the images.
#[derive(Subcommand, Debug)]
pub enum ImagesCommand {
    /// Build every artifact into DIR and print the size table.
    Build {
        /// Output directory.
        #[arg(long, default_value = "target/vmlab/images")]
        out: PathBuf,
    },
    /// Print the size of every artifact in DIR.
    Sizes {
        /// Output directory.
        #[arg(long, default_value = "target/vmlab/images")]
        out: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn main(cmd: ImagesCommand) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet: {cmd:?}")
}
