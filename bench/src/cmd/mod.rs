//! Subcommands other than `run`.
pub mod doctor;
pub mod generate;
pub mod images;
pub mod io_serve;
pub mod janitor;
pub mod report;
pub mod scale;
pub mod zygote;
