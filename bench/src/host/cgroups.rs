//! How cgroups are mounted on this host, and which controllers it has.
use serde::Serialize;
use vmlab_reports::model::CgroupMode;

use super::system::read;

/// How cgroups are mounted and which controllers are usable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cgroups {
    /// v1, v2 or hybrid.
    pub mode: CgroupMode,
    /// Usable controllers (v1 hierarchies, or the v2 root's).
    pub controllers: Vec<String>,
    /// Controllers of the v2 hierarchy (all of them in v2 mode, few in hybrid mode).
    pub v2_controllers: Vec<String>,
}

/// Reads the cgroup setup of this host.
pub fn cgroups() -> Cgroups {
    let mode = cgroup_mode(&read("/proc/self/mountinfo"));
    let v2_root = match mode {
        CgroupMode::V2 => Some("/sys/fs/cgroup/cgroup.controllers"),
        CgroupMode::Hybrid => Some("/sys/fs/cgroup/unified/cgroup.controllers"),
        CgroupMode::V1 => None,
    };
    let v2_controllers: Vec<String> = v2_root
        .map(|p| read(p).split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let controllers = match mode {
        CgroupMode::V2 => v2_controllers.clone(),
        _ => v1_controllers(&read("/proc/cgroups")),
    };
    Cgroups {
        mode,
        controllers,
        v2_controllers,
    }
}

/// The cgroup mode from /proc/self/mountinfo text: cgroup2 at /sys/fs/cgroup
/// is v2; a cgroup2 at /sys/fs/cgroup/unified next to v1 hierarchies is
/// hybrid; anything else is v1.
pub fn cgroup_mode(mountinfo: &str) -> CgroupMode {
    let mut root = None;
    let mut unified = false;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount_point), Some(fs_type)) = (fields.get(4), fields.get(dash + 1)) else {
            continue;
        };
        match *mount_point {
            // The last mount at a point wins (it hides the earlier ones).
            "/sys/fs/cgroup" => root = Some(fs_type.to_string()),
            "/sys/fs/cgroup/unified" if *fs_type == "cgroup2" => unified = true,
            _ => {}
        }
    }
    match root.as_deref() {
        Some("cgroup2") => CgroupMode::V2,
        _ if unified => CgroupMode::Hybrid,
        _ => CgroupMode::V1,
    }
}

/// Enabled v1 controllers bound to a hierarchy, from /proc/cgroups text.
pub fn v1_controllers(proc_cgroups: &str) -> Vec<String> {
    proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [name, hierarchy, _, enabled] if *hierarchy != "0" && *enabled == "1" => {
                    Some(name.to_string())
                }
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_modes() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                      32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup_mode(hybrid), CgroupMode::Hybrid);
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup_mode(v2), CgroupMode::V2);
        let v1 = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(cgroup_mode(v1), CgroupMode::V1);
    }

    #[test]
    fn v1_controller_list() {
        let text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nnet_cls\t0\t1\t1\nmemory\t4\t22\t1\npids\t8\t1\t0\n";
        assert_eq!(v1_controllers(text), vec!["cpu", "memory"]);
    }
}
