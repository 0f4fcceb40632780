//! One live cgroup: created, read, removed (also on drop).
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::create::{parents, v1_targets};
use super::files::rmdir_retry;
use super::{sweep, usage, CgroupError, Controller, Hierarchy, Mode, Usage};
use crate::config::Limits;

/// The parent directory every vmlab cgroup lives in.
pub const PARENT: &str = "vmlab";

/// One live cgroup (one directory in v2, one per controller in v1).
#[derive(Debug)]
pub struct Cgroup {
    pub(super) mode: Mode,
    /// `(controller, directory)`; in v2 a single entry with `None`.
    pub(super) dirs: Vec<(Option<Controller>, PathBuf)>,
    /// v2: the directory, open, for `CLONE_INTO_CGROUP`.
    pub(super) fd: Option<OwnedFd>,
    pub(super) removed: bool,
}

/// How many [`Cgroup`]s this process holds (created, not yet removed).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A name unique to this process and call.
pub fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes the cgroups of runs whose process is gone (see [`sweep`]) in
/// every hierarchy of `hier`; returns the directories removed.
pub fn sweep_leftovers(hier: &Hierarchy) -> Vec<PathBuf> {
    let parents = parents(hier);
    sweep::sweep(parents.iter().map(PathBuf::as_path))
}

/// Removes the cgroups of the dead run `owner` (its pid) in every
/// hierarchy of `hier`, killing what is left in them; returns the
/// directories removed. For a janitor that outlives a driver.
pub fn sweep_owner(hier: &Hierarchy, owner: i32) -> Vec<PathBuf> {
    let parents = parents(hier);
    sweep::sweep_owner(parents.iter().map(PathBuf::as_path), owner)
}

/// How many cgroups of the run `owner` are left on `hier`.
pub fn left_by(hier: &Hierarchy, owner: i32) -> usize {
    let parents = parents(hier);
    sweep::left_by(parents.iter().map(PathBuf::as_path), owner)
}

impl Cgroup {
    /// Creates a cgroup with `limits` on the detected hierarchy.
    /// and the device policy.
    pub fn create(hier: &Hierarchy, limits: &Limits) -> Result<Cgroup, CgroupError> {
        Cgroup::create_named(hier, limits, true, &unique_name(), None)
    }

    /// Creates the cgroup `name`, with the device policy when `devices`; on
    /// v1, `owner` (uid, gid) gets its `tasks` files, so that a process
    /// running as that user may move itself in (delegation to a rootless
    /// sandbox). Sweeps the leftovers of dead runs first, unless this
    /// process already holds a live cgroup: a driver holding N instances
    /// would otherwise read N entries per hierarchy on every start (work
    /// quadratic in N); its first creation swept, and the next one made
    /// while it holds none sweeps again.
    pub fn create_named(
        hier: &Hierarchy,
        limits: &Limits,
        devices: bool,
        name: &str,
        owner: Option<(u32, u32)>,
    ) -> Result<Cgroup, CgroupError> {
        hier.check(limits)?;
        hier.check_devices(devices)?;
        if LIVE.load(Ordering::Relaxed) == 0 {
            sweep_leftovers(hier);
        }
        LIVE.fetch_add(1, Ordering::Relaxed);
        let mut cg = Cgroup {
            mode: hier.mode,
            dirs: Vec::new(),
            fd: None,
            removed: false,
        };
        match hier.mode {
            Mode::V2 => cg.create_v2(hier, name, limits, devices)?,
            Mode::V1 | Mode::Hybrid => cg.create_v1(hier, name, limits, devices, owner)?,
        }
        Ok(cg)
    }

    /// v1: the `tasks` files of the cgroup `name` that [`Cgroup::create_named`]
    /// will create (empty on v2, where the child is born in its cgroup).
    pub fn v1_tasks_files(
        hier: &Hierarchy,
        limits: &Limits,
        devices: bool,
        name: &str,
    ) -> Vec<PathBuf> {
        match hier.mode {
            Mode::V2 => Vec::new(),
            Mode::V1 | Mode::Hybrid => v1_targets(hier, limits, devices)
                .into_iter()
                .map(|(_, m)| m.join(PARENT).join(name).join("tasks"))
                .collect(),
        }
    }

    /// The cgroup mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The v2 directory fd for `CLONE_INTO_CGROUP`, if any.
    pub fn clone_fd(&self) -> Option<RawFd> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }

    /// Closes the directory's fd once the child is in the cgroup (it is
    /// only for `CLONE_INTO_CGROUP` and the device program's attach): one
    /// fd fewer per live sandbox.
    pub fn close_fd(&mut self) {
        self.fd = None;
    }

    /// The directories (one in v2).
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.dirs.iter().map(|(_, d)| d.as_path())
    }

    /// Reads memory peak, CPU time, pids peak and whether the OOM killer ran.
    pub fn usage(&self) -> Usage {
        usage::read(self.mode, &self.dirs)
    }

    /// Removes the cgroup (waiting briefly for dying tasks to leave).
    pub fn remove(mut self) -> Result<(), CgroupError> {
        self.remove_dirs()
    }

    fn remove_dirs(&mut self) -> Result<(), CgroupError> {
        if self.removed {
            return Ok(());
        }
        self.removed = true;
        LIVE.fetch_sub(1, Ordering::Relaxed);
        self.fd = None;
        let mut first_err = None;
        for (_, dir) in &self.dirs {
            if let Err(e) = rmdir_retry(dir) {
                first_err.get_or_insert(CgroupError::Remove {
                    path: dir.clone(),
                    source: e,
                });
            }
            // The shared parent goes when it is empty; another run may hold it.
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = self.remove_dirs();
    }
}
