//! Spawning one launcher process and timing it from the outside: the spawn
//! is the origin, the workload's `{"vmlab":"ready"}` line on the piped
//! stdout is "ready", the reap is "exit". The peak RSS comes from `wait4`,
//! which reports the largest of the process and its reaped descendants.
//!
//! The process is waited for with `waitid(WNOWAIT)` first, so a watchdog
//! that signals it on timeout can never hit a recycled pid: the pid stays a
//! zombie until the watchdog has been stopped, and only then is it reaped.
//! On timeout the watchdog asks first (SIGTERM: `vmlab run` then tears its
//! sandbox or VM down, cgroups included) and kills (SIGKILL) only when the
//! process is still there [`KILL_GRACE`] later. Peers run in a process
//! group of their own, and the whole group is signalled.
//!
//! What the process writes is bounded: `vmlab run --json` output up to
//! [`JSON_CAP`] (more is counted and reported as an error), a console or
//! stderr as a [`Tail`] of its last [`DEFAULT_CAP`] bytes, with the bytes
//! dropped before them counted in [`Launched`].
mod memory;
mod options;
mod read;
mod spawn;

pub use options::{Launched, Options, Stdout, JSON_CAP, KILL_GRACE};
pub use read::{read_bounded, Kept};
pub use spawn::{launch, launch_opts, launch_with};

/// CLOCK_MONOTONIC now, ns (one definition, the sandbox's).
pub use vmlab_sandbox::sys::monotonic_ns;
