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
//! killed with `SIGKILL` left behind ([`sweep`]).
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::Limits;

mod bpf;
pub mod devices;
mod hierarchy;
mod sweep;
mod usage;

pub use hierarchy::{Controller, Hierarchy, Mode};
pub use sweep::owner_pid;
pub use usage::Usage;

/// A cgroup could not be set up or removed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// No cgroup filesystem is mounted at all.
    #[error("no cgroup filesystem is mounted (neither v2 nor v1 under /sys/fs/cgroup); run without a cgroup and its limits")]
    NoCgroupFs,
    /// A limit needs a controller this machine does not offer.
    #[error("the {controller} controller is not available (neither in cgroup v2 nor as a v1 hierarchy), so {flag} cannot be enforced; {still}")]
    MissingController {
        /// The controller.
        controller: &'static str,
        /// The limit that needs it.
        flag: &'static str,
        /// What still works.
        still: String,
    },
    /// Creating the cgroup was refused.
    #[error("no permission to create the cgroup {path}: without root, limits need a cgroup delegated to this user; run without limits or as root")]
    Denied {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Creating the cgroup failed.
    #[error("cannot create the cgroup {path}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a limit or a control file failed.
    #[error("cannot write {value:?} to {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What was written.
        value: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The device policy needs the v1 `devices` controller, and it is not
    /// mounted.
    #[error("the devices controller is not mounted (cgroup v1), so the device policy cannot be enforced; mount it or turn the device policy off")]
    NoDevicesController,
    /// Loading or attaching the v2 device program failed.
    #[error("cannot attach the device policy (a BPF cgroup device program) to {path}; it needs root and a kernel with CONFIG_CGROUP_BPF")]
    DevicePolicy {
        /// The cgroup directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Removing the cgroup failed.
    #[error("cannot remove the cgroup {path}; remove it by hand with rmdir")]
    Remove {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The parent directory every vmlab cgroup lives in.
pub const PARENT: &str = "vmlab";

/// One live cgroup (one directory in v2, one per controller in v1).
#[derive(Debug)]
pub struct Cgroup {
    mode: Mode,
    /// `(controller, directory)`; in v2 a single entry with `None`.
    dirs: Vec<(Option<Controller>, PathBuf)>,
    /// v2: the directory, open, for `CLONE_INTO_CGROUP`.
    fd: Option<OwnedFd>,
    removed: bool,
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

/// Writes each of `values` with a `write` of its own through one open of
/// `path` (v1's `devices.allow` takes one rule per write).
fn write_each(path: &Path, values: &[String]) -> Result<(), CgroupError> {
    use std::io::Write;
    let err = |value: &str, source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| err(values.first().map_or("", String::as_str), e))?;
    for v in values {
        // One rule per write(2): write_all on a short string is one call.
        f.write_all(v.as_bytes()).map_err(|e| err(v, e))?;
    }
    Ok(())
}

fn mkdir(path: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(create_error(path, source)),
    }
}

fn create_error(path: &Path, source: std::io::Error) -> CgroupError {
    let path = path.to_path_buf();
    if source.kind() == std::io::ErrorKind::PermissionDenied {
        CgroupError::Denied { path, source }
    } else {
        CgroupError::Create { path, source }
    }
}

/// A name unique to this process and call.
pub fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// CFS period used for `--cpus`, in µs.
const CPU_PERIOD_US: u64 = 100_000;

/// v1: the controllers mounted at `mount`.
fn v1_on<'a>(hier: &'a Hierarchy, mount: &Path) -> impl Iterator<Item = Controller> + 'a {
    let mount = mount.to_path_buf();
    hier.v1
        .iter()
        .filter(move |(_, p)| *p == mount)
        .map(|(c, _)| *c)
}

/// v1: the hierarchies a cgroup with `l` (and the device policy when
/// `devices`) uses, `(controller, mount)`: those with a controller it needs.
fn v1_targets(hier: &Hierarchy, l: &Limits, devices: bool) -> Vec<(Controller, PathBuf)> {
    let needed = |c: Controller| match c {
        Controller::Memory | Controller::Pids | Controller::Cpuacct => true,
        // Moving a task into a v1 cpu cgroup can wait milliseconds in the
        // scheduler; join it only to enforce a CPU limit (cpuacct, often a
        // hierarchy of its own, gives the CPU time).
        Controller::Cpu => l.cpus.is_some() || !hier.has(Controller::Cpuacct),
        Controller::Devices => devices,
    };
    hier.v1_dirs()
        .into_iter()
        .filter(|(_, mount)| v1_on(hier, mount).any(needed))
        .collect()
}

/// The `vmlab` parent directories of every hierarchy of `hier`.
fn parents(hier: &Hierarchy) -> Vec<PathBuf> {
    hier.v2
        .iter()
        .cloned()
        .chain(hier.v1_dirs().into_iter().map(|(_, m)| m))
        .map(|m| m.join(PARENT))
        .collect()
}

/// Removes the cgroups of runs whose process is gone (see [`sweep`]) in
/// every hierarchy of `hier`; returns the directories removed.
pub fn sweep_leftovers(hier: &Hierarchy) -> Vec<PathBuf> {
    let parents = parents(hier);
    sweep::sweep(parents.iter().map(PathBuf::as_path))
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
    /// sandbox). Sweeps the leftovers of dead runs first.
    pub fn create_named(
        hier: &Hierarchy,
        limits: &Limits,
        devices: bool,
        name: &str,
        owner: Option<(u32, u32)>,
    ) -> Result<Cgroup, CgroupError> {
        hier.check(limits)?;
        hier.check_devices(devices)?;
        sweep_leftovers(hier);
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

    fn create_v2(
        &mut self,
        hier: &Hierarchy,
        name: &str,
        l: &Limits,
        devices: bool,
    ) -> Result<(), CgroupError> {
        let root = hier.v2.clone().ok_or(CgroupError::NoCgroupFs)?;
        let parent = root.join(PARENT);
        let wanted: Vec<&str> = [Controller::Memory, Controller::Pids, Controller::Cpu]
            .into_iter()
            .filter(|c| hier.v2_controllers.contains(c))
            .map(|c| c.name())
            .collect();
        let enable = |dir: &Path| -> Result<(), CgroupError> {
            let file = dir.join("cgroup.subtree_control");
            let have = std::fs::read_to_string(&file).unwrap_or_default();
            let missing: Vec<String> = wanted
                .iter()
                .filter(|c| !have.split_whitespace().any(|h| h == **c))
                .map(|c| format!("+{c}"))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                write(&file, &missing.join(" "))
            }
        };
        enable(&root)?;
        let dir = parent.join(name);
        // A concurrent run may remove an empty parent between our mkdirs.
        for attempt in 0.. {
            mkdir(&parent)?;
            enable(&parent)?;
            match std::fs::create_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => continue,
                Err(source) => return Err(create_error(&dir, source)),
            }
        }
        self.dirs.push((None, dir.clone()));
        if let Some(m) = l.memory {
            write(&dir.join("memory.max"), &m.to_string())?;
            if dir.join("memory.swap.max").exists() {
                write(&dir.join("memory.swap.max"), "0")?;
            }
        }
        if let Some(p) = l.pids {
            write(&dir.join("pids.max"), &p.to_string())?;
        }
        if let Some(c) = l.cpus {
            let quota = (c * CPU_PERIOD_US as f64).round().max(1000.0) as u64;
            write(&dir.join("cpu.max"), &format!("{quota} {CPU_PERIOD_US}"))?;
        }
        let fd = std::fs::File::open(&dir).map_err(|source| CgroupError::Create {
            path: dir.clone(),
            source,
        })?;
        if devices {
            devices::attach_v2(fd.as_fd()).map_err(|source| CgroupError::DevicePolicy {
                path: dir.clone(),
                source,
            })?;
        }
        self.fd = Some(fd.into());
        Ok(())
    }

    fn create_v1(
        &mut self,
        hier: &Hierarchy,
        name: &str,
        l: &Limits,
        devices: bool,
        owner: Option<(u32, u32)>,
    ) -> Result<(), CgroupError> {
        for (ctrl, mount) in v1_targets(hier, l, devices) {
            let parent = mount.join(PARENT);
            let dir = parent.join(name);
            for attempt in 0.. {
                mkdir(&parent)?;
                match std::fs::create_dir(&dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => continue,
                    Err(source) => return Err(create_error(&dir, source)),
                }
            }
            self.dirs.push((Some(ctrl), dir.clone()));
            if let Some((uid, gid)) = owner {
                let tasks = dir.join("tasks");
                std::os::unix::fs::chown(&tasks, Some(uid), Some(gid)).map_err(|source| {
                    CgroupError::Write {
                        path: tasks,
                        value: format!("owner {uid}:{gid}"),
                        source,
                    }
                })?;
            }
            for c in v1_on(hier, &mount) {
                match c {
                    Controller::Memory => {
                        if let Some(m) = l.memory {
                            write(&dir.join("memory.limit_in_bytes"), &m.to_string())?;
                            let memsw = dir.join("memory.memsw.limit_in_bytes");
                            if memsw.exists() {
                                write(&memsw, &m.to_string())?;
                            }
                        }
                    }
                    Controller::Pids => {
                        if let Some(p) = l.pids {
                            write(&dir.join("pids.max"), &p.to_string())?;
                        }
                    }
                    Controller::Cpu => {
                        if let Some(c) = l.cpus {
                            let quota = (c * CPU_PERIOD_US as f64).round().max(1000.0) as u64;
                            write(&dir.join("cpu.cfs_period_us"), &CPU_PERIOD_US.to_string())?;
                            write(&dir.join("cpu.cfs_quota_us"), &quota.to_string())?;
                        }
                    }
                    Controller::Cpuacct => {}
                    Controller::Devices => {
                        if devices {
                            let (deny, allow) = devices::v1_rules();
                            write(&dir.join("devices.deny"), deny)?;
                            write_each(&dir.join("devices.allow"), &allow)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The cgroup mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The v2 directory fd for `CLONE_INTO_CGROUP`, if any.
    pub fn clone_fd(&self) -> Option<RawFd> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
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

/// `rmdir`, retried while the kernel still counts exiting tasks (`EBUSY`).
fn rmdir_retry(dir: &Path) -> std::io::Result<()> {
    let mut delay = std::time::Duration::from_micros(50);
    for _ in 0..40 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
    std::fs::remove_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's layout: every v1 controller on its own mount, and a
    /// v2 mount without controllers.
    const HYBRID: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";

    fn mounts(t: &[(Controller, PathBuf)]) -> Vec<String> {
        t.iter().map(|(_, m)| m.display().to_string()).collect()
    }

    #[test]
    fn v1_joins_the_devices_hierarchy_for_the_policy() {
        let h = Hierarchy::parse(HYBRID, |_| String::new()).unwrap();
        let none = Limits::default();
        assert_eq!(
            mounts(&v1_targets(&h, &none, true)),
            [
                "/sys/fs/cgroup/cpuacct",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/devices",
                "/sys/fs/cgroup/pids"
            ]
        );
        assert!(!mounts(&v1_targets(&h, &none, false)).contains(&"/sys/fs/cgroup/devices".into()));
        let tasks = Cgroup::v1_tasks_files(&h, &none, true, "7-0");
        assert!(tasks.contains(&PathBuf::from("/sys/fs/cgroup/devices/vmlab/7-0/tasks")));
        // A CPU limit adds the cpu hierarchy.
        let cpus = Limits {
            cpus: Some(1.0),
            ..Limits::default()
        };
        assert_eq!(v1_targets(&h, &cpus, true).len(), 5);
    }

    #[test]
    fn devices_sharing_a_mount_with_another_controller_is_joined() {
        let info = "1 0 0:1 / /cg/memory,devices rw - cgroup cgroup rw,memory,devices\n";
        let h = Hierarchy::parse(info, |_| String::new()).unwrap();
        let t = v1_targets(&h, &Limits::default(), true);
        assert_eq!(mounts(&t), ["/cg/memory,devices"]);
        assert!(v1_on(&h, &t[0].1).any(|c| c == Controller::Devices));
    }

    #[test]
    fn every_hierarchy_is_swept() {
        let h = Hierarchy::parse(HYBRID, |_| String::new()).unwrap();
        let p: Vec<String> = parents(&h)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(p.len(), 6);
        assert_eq!(p[0], "/sys/fs/cgroup/unified/vmlab");
        assert!(p.contains(&"/sys/fs/cgroup/devices/vmlab".into()));
    }
}
