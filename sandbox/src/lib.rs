//! The vmlab namespace sandbox: a small, fast container runtime that boots
//! the vmlab workload from a root filesystem directory.
//!
//! # Design
//! One [`launcher::run`] call:
//! 1. checks the [`Config`] (rootfs, entry, limits) and creates the
//!    [`cgroup`] with its limits and its device allow-list (v2, or v1 per
//!    controller; see [`cgroup::devices`]);
//! 2. builds a [`step::Plan`] — every path, id map, capability mask and the
//!    [`seccomp`] BPF program — so that the child never allocates;
//! 3. `clone3`s the child with every namespace at once ([`clone`]); on
//!    cgroup v2 straight into its cgroup (`CLONE_INTO_CGROUP`). The child
//!    shares the parent's memory until `execve` (`CLONE_VM` on a stack of
//!    its own, like `posix_spawn`), so no page table is copied, and makes
//!    raw system calls only ([`sys`]);
//! 4. runs the parent steps (id maps, cgroup join on v1, release) and the
//!    child runs its named steps ([`step`]) up to `execve` of the workload as
//!    PID 1, reporting each step's end time (or the failing step) over a
//!    close-on-exec status pipe;
//! 5. [`monitor`] timestamps the workload's protocol events as they arrive,
//!    collects stdout and stderr and reaps the exit (or kills on timeout or
//!    on `SIGINT`/`SIGTERM`, see [`signal`]);
//! 6. reads the cgroup usage (memory peak, CPU time, pids peak, OOM kills)
//!    and removes the cgroup.
//!
//! Mounts live in the child's mount namespace and vanish with it; no
//! helper process or shell is involved. The steps make their system calls
//! through the [`sys::Sys`] trait, so a recording implementation tests their
//! order and arguments without root.
//!
//! # Rootless
//! With [`config::UserNs::rootless`], root inside maps to one host id: the
//! caller's own uid/gid when not root. Launched by root, it maps to
//! `nobody` (65534), so the workload is unprivileged on the host. A real
//! non-root caller gets every namespace, mount and seccomp/capability step,
//! but cgroup limits need a cgroup delegated to that user; without one,
//! run without limits (usage is then not reported).
//!
//! # Warm start
//! [`pool::Parked`] runs the same steps but parks the child just before
//! `execve` (seccomp already loaded), and releases it with one byte;
//! [`pool::Pool`] keeps N of them warm.
//!
//! # Held
//! [`held::HeldSandbox`] is a cold start of a `--hold` workload that the
//! caller keeps: ready, waiting on a hold pipe of its own until released
//! (a driver holding many sandboxes at once, see `vmlab scale`).
//!
//! The same launcher with [`Config::process`] starts the workload as a plain
//! process (no namespace, no cgroup), so both backends share one spawn and
//! one event reader.
pub mod capability;
pub mod cgroup;
pub mod clone;
pub mod config;
pub mod fault;
pub mod held;
pub mod launcher;
pub mod monitor;
pub mod plan;
pub mod pool;
pub mod seccomp;
pub mod signal;
pub mod step;
pub mod sys;

pub use config::{Config, FileBind, Limits, Namespaces, Net, Root, SysMount, UserNs};
pub use launcher::{run, BindError, LaunchError, Outcome};
pub use monitor::ExitStatus;
