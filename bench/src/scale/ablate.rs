//! `vmlab scale --ablate`: the in-driver sandbox with one part of its
//! isolation taken away at a time, and the plain process in the sandbox's
//! namespaces and nothing else. Each row is held and measured like the
//! others, so the differences say what each part costs per creation and
//! per instance held. Analysis rows only: none of them is an isolation to
//! run anything with.
use std::path::Path;

use vmlab_sandbox::{Config, Net, Root, SysMount};

use super::indriver::InDriver;

/// The rows, each after the full sandbox's configuration changed by one
/// thing (the last: the process given the sandbox's namespaces).
pub fn rows(images: &Path) -> anyhow::Result<Vec<InDriver>> {
    let full = InDriver::sandbox(images)?.config().clone();
    let without = |name: &'static str, change: &dyn Fn(&mut Config)| {
        let mut c = full.clone();
        change(&mut c);
        InDriver::new(name, c)
    };
    let mut out = vec![
        // A rootless sysfs needs a network namespace of its own.
        without("sandbox-no-netns", &|c| {
            c.ns.net = Net::Host;
            c.sys = SysMount::Absent;
        }),
        without("sandbox-no-cgroup", &|c| {
            c.cgroup = false;
            c.limits = Default::default();
        }),
        without("sandbox-no-seccomp", &|c| c.seccomp = false),
        without("sandbox-no-rootfs", &|c| {
            c.entry = c.entry_on_host();
            c.root = Root::Host;
            c.ns.mount = false;
            c.sys = SysMount::Absent;
            c.tmp = false;
        }),
    ];
    // Without a user namespace the workload is real root on the host: only
    // root may ask for that.
    if nix::unistd::geteuid().is_root() {
        out.push(without("sandbox-no-userns", &|c| c.ns.user = None));
    }
    let mut ns_only = InDriver::process(images)?.config().clone();
    ns_only.ns = full.ns;
    ns_only.ns.mount = false;
    ns_only.hostname = full.hostname.clone();
    out.push(InDriver::new("process-in-ns", ns_only));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::scale::holders::Holder;

    #[test]
    fn each_row_takes_one_thing_away_from_the_sandbox() {
        let images = tempfile::tempdir().unwrap();
        let rootfs = images.path().join("rootfs");
        std::fs::create_dir(&rootfs).unwrap();
        let init = rootfs.join("init");
        std::fs::write(&init, b"").unwrap();
        std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
        let full = InDriver::sandbox(images.path()).unwrap().config().clone();
        let rows = rows(images.path()).unwrap();
        let by = |n: &str| {
            rows.iter()
                .find(|r| r.name() == n)
                .unwrap_or_else(|| panic!("no row {n}"))
                .config()
                .clone()
        };
        assert_eq!(by("sandbox-no-netns").ns.net, Net::Host);
        assert_eq!(by("sandbox-no-netns").ns.pid, full.ns.pid);
        assert!(!by("sandbox-no-cgroup").cgroup && by("sandbox-no-cgroup").seccomp);
        assert!(!by("sandbox-no-seccomp").seccomp && by("sandbox-no-seccomp").cgroup);
        let nr = by("sandbox-no-rootfs");
        assert_eq!(nr.root, Root::Host);
        assert_eq!(nr.entry, init);
        assert!(!nr.ns.mount && nr.ns.net != Net::Host && nr.cgroup);
        let ns = by("process-in-ns");
        assert!(ns.ns.pid && ns.ns.ipc && ns.ns.uts && ns.ns.net != Net::Host);
        assert!(!ns.cgroup && !ns.seccomp && !ns.ns.mount);
        assert_eq!(ns.ns.user, full.ns.user);
        for r in &rows {
            r.config().validate().unwrap();
        }
    }
}
