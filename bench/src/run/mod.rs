//! `vmlab run`: boot the workload once in one backend.
mod args;
mod command;
mod devices;
mod hint;
mod process;
mod restore;
mod sandbox;
pub mod snapshot;
mod vm;

pub use args::{timeout, Net, RunArgs, MAX_TIMEOUT_S};
pub use command::main;
