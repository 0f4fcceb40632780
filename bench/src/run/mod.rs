//! `vmlab run`: boot the workload once in one backend.
mod args;
mod command;
mod hint;
mod process;
mod sandbox;
mod vm;

pub use args::{timeout, Net, RunArgs, MAX_TIMEOUT_S};
pub use command::main;
