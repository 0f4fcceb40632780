//! The parts of the `vmlab` CLI that the Criterion benches share with it:
//! the backend names ([`id`]), `compare`'s backends (ours spawned as
//! `vmlab run`, and the peers), the matrix that runs them, the run record
//! `vmlab run --json` writes and compare reads ([`record`]), host facts,
//! the I/O kernels' test network and disk ([`io`]), and the conversion of samples into the reports crate's results model.
//! The `vmlab` binary uses this library; the benches under `benches/` call
//! the same backends, so `cargo bench` and `vmlab compare` measure the same
//! thing.
pub mod compare;
pub mod configs;
pub mod doctor;
pub mod export;
pub mod host;
pub mod id;
pub mod io;
pub mod record;
pub mod scale;
pub mod vmm_cgroup;

pub use id::BackendId;
