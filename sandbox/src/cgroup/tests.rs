use std::path::PathBuf;

use super::create::{parents, v1_on, v1_targets};
use super::*;
use crate::config::Limits;
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
