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

/// Busy and total jiffies from the aggregate `cpu` line of `/proc/stat`
/// text (idle and iowait count as not busy).
pub fn parse_cpu_busy(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// Waits, up to `max`, until the host's CPUs were mostly idle (busy under
/// a quarter) over one 50 ms interval (`/proc/stat` counts in 10 ms
/// ticks per CPU): the kernel tears network namespaces
/// and cgroups down asynchronously after their instances are gone, and
/// that work would otherwise be charged to the next measurement.
pub fn settle(max: std::time::Duration) {
    let t0 = std::time::Instant::now();
    let read = || {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| parse_cpu_busy(&s))
    };
    let Some(mut last) = read() else {
        return;
    };
    while t0.elapsed() < max {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let Some(now) = read() else { break };
        // iowait may step back between reads: saturate, never underflow.
        let busy = now.0.saturating_sub(last.0);
        let total = now.1.saturating_sub(last.1);
        last = now;
        if total > 0 && busy * 4 < total {
            break;
        }
    }
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

    #[test]
    fn reads_cpu_busy() {
        let text = "cpu  10 2 8 100 5 1 4 0 0 0\ncpu0 5 1 4 50 2 0 2 0 0 0\n";
        // busy: user+nice+system+irq+softirq+steal; idle+iowait are not.
        assert_eq!(parse_cpu_busy(text), Some((25, 130)));
        assert_eq!(parse_cpu_busy("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_cpu_busy("cpu  1 x 3 4\n"), None);
    }
}
