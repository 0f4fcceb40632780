//! CPU, memory, kernel, user namespaces and the effective uid, from /proc;
//! and [`facts`], the host facts `results.json` records.
use vmlab_reports::model::HostFacts;

use super::cgroups::cgroups;
use super::kvm::Kvm;

/// Collects the host facts that go into `results.json`.
pub fn facts() -> HostFacts {
    let cgroups = cgroups();
    HostFacts {
        cpu_model: cpu_model(&read("/proc/cpuinfo")),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        mem_bytes: mem_total(&read("/proc/meminfo")),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        kvm: Kvm::detect().into(),
        cgroup_mode: cgroups.mode,
        controllers: cgroups.controllers,
        userns: userns().0,
        ..HostFacts::default()
    }
}

pub(super) fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `model name` from /proc/cpuinfo text ("unknown" when absent).
pub fn cpu_model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// MemTotal from /proc/meminfo text, in bytes (0 when absent).
pub fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Whether unprivileged user namespaces are allowed, and why not.
pub fn userns() -> (bool, String) {
    let max = read("/proc/sys/user/max_user_namespaces");
    let clone = std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone").ok();
    let apparmor =
        std::fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").ok();
    userns_allowed(&max, clone.as_deref(), apparmor.as_deref())
}

/// The user-namespace verdict from the sysctl values (None = not present).
pub fn userns_allowed(
    max_user_namespaces: &str,
    unprivileged_clone: Option<&str>,
    apparmor_restrict: Option<&str>,
) -> (bool, String) {
    match max_user_namespaces.trim().parse::<u64>() {
        Ok(0) => return (false, "user.max_user_namespaces is 0".into()),
        Ok(_) => {}
        Err(_) => {
            return (
                false,
                "/proc/sys/user/max_user_namespaces is missing: the kernel has no user namespaces"
                    .into(),
            )
        }
    }
    if unprivileged_clone.is_some_and(|v| v.trim() == "0") {
        return (false, "kernel.unprivileged_userns_clone is 0".into());
    }
    if apparmor_restrict.is_some_and(|v| v.trim() == "1") {
        return (
            false,
            "kernel.apparmor_restrict_unprivileged_userns is 1".into(),
        );
    }
    (
        true,
        format!("user.max_user_namespaces = {}", max_user_namespaces.trim()),
    )
}

/// The effective uid, from /proc/self/status (None when unreadable).
pub fn euid() -> Option<u32> {
    read("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_and_meminfo() {
        let cpu = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(cpu_model(cpu), "Intel(R) Xeon(R) CPU @ 2.20GHz");
        assert_eq!(cpu_model(""), "unknown");
        assert_eq!(
            mem_total("MemTotal:       25165824 kB\nMemFree: 1 kB\n"),
            25_769_803_776
        );
        assert_eq!(mem_total(""), 0);
    }

    #[test]
    fn userns_rules() {
        assert!(userns_allowed("96365\n", None, None).0);
        assert!(!userns_allowed("0\n", None, None).0);
        assert!(!userns_allowed("100", Some("0\n"), None).0);
        assert!(!userns_allowed("100", Some("1"), Some("1")).0);
        assert!(!userns_allowed("", None, None).0);
    }
}
