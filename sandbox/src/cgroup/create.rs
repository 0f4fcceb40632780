//! Creating a cgroup's directories and writing its limits, on v2 and v1.
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use super::files::{create_error, mkdir, write, write_each};
use super::{devices, Cgroup, CgroupError, Controller, Hierarchy, PARENT};
use crate::config::Limits;

/// CFS period used for `--cpus`, in µs.
const CPU_PERIOD_US: u64 = 100_000;

/// v1: the controllers mounted at `mount`.
pub(super) fn v1_on<'a>(
    hier: &'a Hierarchy,
    mount: &Path,
) -> impl Iterator<Item = Controller> + 'a {
    let mount = mount.to_path_buf();
    hier.v1
        .iter()
        .filter(move |(_, p)| *p == mount)
        .map(|(c, _)| *c)
}

/// v1: the hierarchies a cgroup with `l` (and the device policy when
/// `devices`) uses, `(controller, mount)`: those with a controller it needs.
pub(super) fn v1_targets(
    hier: &Hierarchy,
    l: &Limits,
    devices: bool,
) -> Vec<(Controller, PathBuf)> {
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
pub(super) fn parents(hier: &Hierarchy) -> Vec<PathBuf> {
    hier.v2
        .iter()
        .cloned()
        .chain(hier.v1_dirs().into_iter().map(|(_, m)| m))
        .map(|m| m.join(PARENT))
        .collect()
}

impl Cgroup {
    pub(super) fn create_v2(
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

    pub(super) fn create_v1(
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
}
