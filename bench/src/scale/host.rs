//! What the scale driver reads and sets on the host: MemAvailable, the
//! open-file limit.

/// MemAvailable from `meminfo` text, bytes.
pub fn parse_mem_available(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemAvailable:")?;
        let kib: u64 = rest.trim().strip_suffix("kB")?.trim().parse().ok()?;
        Some(kib * 1024)
    })
}

/// The host's MemAvailable now, bytes: the kernel's estimate of what can be
/// allocated without swapping, so it drops with every page an instance
/// costs the host, kernel-side ones included (page tables, namespaces,
/// tmpfs, KVM structures), and not with reclaimable page cache.
pub fn mem_available() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")
        .map_err(|e| anyhow::anyhow!("cannot read /proc/meminfo: {e}"))?;
    parse_mem_available(&text)
        .ok_or_else(|| anyhow::anyhow!("/proc/meminfo has no MemAvailable line"))
}

/// vmlab's parent cgroup for memory: cgroup v2's `vmlab` directory, or the
/// v1 memory controller's.
const MEMORY_PARENTS: &[(&str, &str)] = &[
    ("/sys/fs/cgroup/vmlab", "memory.current"),
    ("/sys/fs/cgroup/memory/vmlab", "memory.usage_in_bytes"),
];

/// The instances' cgroups now: how many live below vmlab's memory parent
/// and their summed usage (the parent's own figure, which is hierarchical),
/// bytes; `None` where there is no such parent.
pub fn vmlab_cgroups() -> Option<(usize, u64)> {
    MEMORY_PARENTS.iter().find_map(|(dir, file)| {
        let usage = std::fs::read_to_string(format!("{dir}/{file}")).ok()?;
        let count = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .count();
        Some((count, usage.trim().parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   12345 kB\n";
        assert_eq!(parse_mem_available(text), Some(12345 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
        assert!(mem_available().unwrap() > 0);
    }
}
