//! Subcommands other than `run`.
pub mod images;
