//! The workload's cgroup: created with its limits before the clone, usage
//! read back after the exit, removed on every path (also on drop).
//!
//! - **v2** (`/sys/fs/cgroup` is cgroup2): one directory
//!   `/sys/fs/cgroup/vmlab/<name>`; the controllers are enabled in the
//!   `subtree_control` of the parents; the child is born in it with
//!   `CLONE_INTO_CGROUP`.
//! - **v1** (and hybrid, where v2 holds no controller we need): one directory
//!   per controller, `/sys/fs/cgroup/<controller>/vmlab/<name>`; the child
//!   moves itself there by writing `0` to each `tasks` file (see
//!   [`crate::step`] for why not the parent).
//!
//! The `vmlab` parent directory is removed too when it is left empty.
//!
//! Every cgroup also carries the [`devices`] policy unless it is turned off
//! ([`crate::Config::devices`]): the v1 `devices` controller joins the v1
//! hierarchies, and on v2 a device program is attached before the child is
//! born in the cgroup. Creating a cgroup first sweeps the cgroups that runs
//! killed with `SIGKILL` left behind ([`sweep`]), when its process holds no
//! other live cgroup (a driver holding thousands sweeps once, not per start).
//!
//! - `live`: [`Cgroup`], its handle, and [`sweep_leftovers`];
//! - `create`: its directories and limits; `files`: control-file writes;
//! - [`devices`], `bpf`: the device policy; `hierarchy`: what is mounted;
//!   `sweep`: leftovers of dead runs; `usage`: what a run used.
mod bpf;
mod create;
pub mod devices;
mod error;
mod files;
mod hierarchy;
mod live;
mod sweep;
mod usage;

pub use error::CgroupError;
pub use hierarchy::{Controller, Hierarchy, Mode};
pub use live::{left_by, sweep_leftovers, sweep_owner, unique_name, Cgroup, PARENT};
pub use sweep::owner_pid;
pub use usage::Usage;

#[cfg(test)]
mod tests;
