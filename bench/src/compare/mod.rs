//! `vmlab compare`: every backend this host supports, next to the peers
//! found on it, measured run by run on the same images, written as
//! `results.json` and `index.html`.
//!
//! Steps: build the images if missing; probe every backend (a missing or
//! failing one is reported as skipped with its reason); run the matrix
//! ([`matrix`]: warm-up, then interleaved rounds in a seeded random order,
//! [`order`]; failed runs kept, [`measured`]); measure the images; write
//! the report with the reports crate. After the matrix, one traced boot per
//! backend ([`traced`]) and one boot with the escape battery ([`attacks`])
//! give the isolation evidence; then the warm-start section ([`warm`]):
//! cold against pool and restore starts. Every boot is timed from the spawn
//! of a launcher process ([`launch`]): `vmlab run` for ours ([`ours`]), the
//! tool itself for the peers ([`oci`], [`peers`]). The command itself
//! (arguments, selection, the run) is in `command.rs`.
pub mod attacks;
pub mod backend;
pub mod bare_peer;
pub mod cloud_hypervisor;
mod command;
pub mod images;
pub mod io;
pub mod launch;
pub mod matrix;
pub mod measured;
pub mod oci;
pub mod order;
pub mod ours;
pub mod peers;
pub mod private;
pub mod probe;
pub mod progress;
pub mod protections;
pub mod qemu_io;
pub mod results;
pub mod scale;
pub mod setup;
pub mod surface;
pub mod traced;
pub mod warm;

pub use command::{backends, keep_inherited_fds_out, main, selection, CompareArgs};
