//! Subcommands other than `run`.
pub mod doctor;
pub mod images;
pub mod report;
