//! Which cgroup hierarchies this machine mounts, from `/proc/self/mountinfo`.
use std::path::{Path, PathBuf};

use super::CgroupError;
use crate::config::Limits;

/// How the machine's cgroups are organised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pure cgroup v2 (the unified hierarchy at `/sys/fs/cgroup`).
    V2,
    /// Only v1 hierarchies.
    V1,
    /// v1 hierarchies for the controllers plus a v2 mount beside them.
    Hybrid,
}

impl Mode {
    /// `v2`, `v1` or `hybrid`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::V2 => "v2",
            Mode::V1 => "v1",
            Mode::Hybrid => "hybrid",
        }
    }
}

/// The controllers the sandbox uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    /// Memory limit and peak.
    Memory,
    /// Task limit and peak.
    Pids,
    /// CPU bandwidth.
    Cpu,
    /// CPU time (v1 only; v2 has `cpu.stat` always).
    Cpuacct,
    /// The device policy (v1 only; v2 attaches a BPF program instead).
    Devices,
}

impl Controller {
    /// The kernel's name.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Devices => "devices",
        }
    }

    const ALL: [Controller; 5] = [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Devices,
    ];
}

/// The mounted hierarchies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// The mode.
    pub mode: Mode,
    /// The cgroup2 mount point, if any.
    pub v2: Option<PathBuf>,
    /// Controllers available in v2 (`cgroup.controllers` of its root).
    pub v2_controllers: Vec<Controller>,
    /// v1 controllers and their mount points.
    pub v1: Vec<(Controller, PathBuf)>,
}

impl Hierarchy {
    /// This machine's hierarchies, read once per process ([`Hierarchy::detect`]).
    pub fn cached() -> Result<Hierarchy, CgroupError> {
        static CACHE: std::sync::OnceLock<Hierarchy> = std::sync::OnceLock::new();
        if let Some(h) = CACHE.get() {
            return Ok(h.clone());
        }
        let h = Hierarchy::detect()?;
        Ok(CACHE.get_or_init(|| h).clone())
    }

    /// Reads the mounts the calling thread sees.
    pub fn detect() -> Result<Hierarchy, CgroupError> {
        let info = std::fs::read_to_string("/proc/thread-self/mountinfo").unwrap_or_default();
        Hierarchy::parse(&info, |p| {
            std::fs::read_to_string(p.join("cgroup.controllers")).unwrap_or_default()
        })
    }

    /// Parses mountinfo text; `controllers` reads a v2 root's controller list.
    pub fn parse(
        mountinfo: &str,
        controllers: impl Fn(&Path) -> String,
    ) -> Result<Hierarchy, CgroupError> {
        let mut v2 = None;
        let mut v1 = Vec::new();
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let Some(dash) = fields.iter().position(|f| *f == "-") else {
                continue;
            };
            let (Some(mount), Some(fstype), Some(opts)) =
                (fields.get(4), fields.get(dash + 1), fields.get(dash + 3))
            else {
                continue;
            };
            match *fstype {
                "cgroup2" if v2.is_none() => v2 = Some(PathBuf::from(mount)),
                "cgroup" => {
                    for c in Controller::ALL {
                        if opts.split(',').any(|o| o == c.name()) {
                            v1.push((c, PathBuf::from(mount)));
                        }
                    }
                }
                _ => {}
            }
        }
        let v2_controllers: Vec<Controller> = match &v2 {
            Some(p) => {
                let list = controllers(p);
                Controller::ALL
                    .into_iter()
                    .filter(|c| list.split_whitespace().any(|w| w == c.name()))
                    .collect()
            }
            None => Vec::new(),
        };
        let mode = match (&v2, v1.is_empty()) {
            (None, true) => return Err(CgroupError::NoCgroupFs),
            (Some(_), true) => Mode::V2,
            (None, false) => Mode::V1,
            (Some(_), false) => Mode::Hybrid,
        };
        Ok(Hierarchy {
            mode,
            v2,
            v2_controllers,
            v1,
        })
    }

    /// Whether `c` can be used in this mode.
    pub fn has(&self, c: Controller) -> bool {
        match self.mode {
            // v2 accounts CPU time in cpu.stat without any controller.
            Mode::V2 => c == Controller::Cpuacct || self.v2_controllers.contains(&c),
            Mode::V1 | Mode::Hybrid => self.v1.iter().any(|(x, _)| *x == c),
        }
    }

    /// Fails, naming the controller and what still works, when a limit needs
    /// a missing controller.
    pub fn check(&self, limits: &Limits) -> Result<(), CgroupError> {
        let needs = [
            (
                limits.memory.is_some(),
                Controller::Memory,
                "the memory limit",
            ),
            (limits.pids.is_some(), Controller::Pids, "the pids limit"),
            (limits.cpus.is_some(), Controller::Cpu, "the CPU limit"),
        ];
        for (wanted, c, flag) in needs {
            if wanted && !self.has(c) {
                let ok: Vec<&str> = needs
                    .iter()
                    .filter(|(_, x, _)| self.has(*x))
                    .map(|(_, _, f)| *f)
                    .collect();
                let still = if ok.is_empty() {
                    "no limit can be enforced here; run without limits".to_string()
                } else {
                    format!("drop {flag}; {} still work", ok.join(" and "))
                };
                return Err(CgroupError::MissingController {
                    controller: c.name(),
                    limit: flag,
                    still,
                });
            }
        }
        Ok(())
    }

    /// Fails when the device policy is wanted on v1 (or hybrid, which uses
    /// v1 for its controllers) and no `devices` hierarchy is mounted. On v2
    /// the policy is a BPF program, which needs no controller.
    pub fn check_devices(&self, devices: bool) -> Result<(), CgroupError> {
        match self.mode {
            Mode::V1 | Mode::Hybrid if devices && !self.has(Controller::Devices) => {
                Err(CgroupError::NoDevicesController)
            }
            _ => Ok(()),
        }
    }

    /// v1: one `(controller, mount)` per distinct mount point.
    pub fn v1_dirs(&self) -> Vec<(Controller, PathBuf)> {
        let mut out: Vec<(Controller, PathBuf)> = Vec::new();
        for (c, p) in &self.v1 {
            if !out.iter().any(|(_, q)| q == p) {
                out.push((*c, p.clone()));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 31 0:35 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
39 31 0:36 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const PURE_V2: &str = "25 23 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

    #[test]
    fn hybrid_uses_v1_and_names_the_missing_controller() {
        let h = Hierarchy::parse(HYBRID, |_| "hugetlb".into()).unwrap();
        assert_eq!(h.mode, Mode::Hybrid);
        assert!(h.has(Controller::Memory) && h.has(Controller::Cpu));
        assert!(!h.has(Controller::Pids));
        // cpu and cpuacct share one mount: one directory.
        assert_eq!(h.v1_dirs().len(), 2);
        // No devices hierarchy: the device policy cannot be enforced.
        assert!(matches!(
            h.check_devices(true),
            Err(CgroupError::NoDevicesController)
        ));
        assert!(h.check_devices(false).is_ok());
        let err = h
            .check(&Limits {
                pids: Some(8),
                ..Limits::default()
            })
            .unwrap_err()
            .to_string();
        assert!(err.contains("pids controller"), "{err}");
        assert!(
            err.contains("the memory limit and the CPU limit still work"),
            "{err}"
        );
    }

    #[test]
    fn pure_v2_reads_controllers() {
        let h = Hierarchy::parse(PURE_V2, |p| {
            assert_eq!(p, Path::new("/sys/fs/cgroup"));
            "cpuset cpu io memory pids".into()
        })
        .unwrap();
        assert_eq!(h.mode, Mode::V2);
        assert!(h.check_devices(true).is_ok());
        assert!(h.has(Controller::Memory) && h.has(Controller::Pids) && h.has(Controller::Cpu));
        assert!(h
            .check(&Limits {
                memory: Some(1 << 26),
                pids: Some(4),
                cpus: Some(0.5)
            })
            .is_ok());
    }

    #[test]
    fn no_cgroup_at_all_is_an_error() {
        assert!(matches!(
            Hierarchy::parse("1 0 0:1 / / rw - ext4 /dev/sda rw\n", |_| String::new()),
            Err(CgroupError::NoCgroupFs)
        ));
    }
}
