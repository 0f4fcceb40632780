//! Reading a finished cgroup's usage.
use std::path::{Path, PathBuf};

use super::{Controller, Mode};

/// What the workload used, as far as the cgroup can tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Peak memory in bytes.
    pub memory_peak: Option<u64>,
    /// CPU time in ns.
    pub cpu_ns: Option<u64>,
    /// Peak number of tasks.
    pub pids_peak: Option<u64>,
    /// Times the OOM killer killed a task in the cgroup.
    pub oom_kills: Option<u64>,
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The value of `key` in a flat keyed file (`key value` lines).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        (w.next() == Some(key)).then(|| w.next()?.parse().ok())?
    })
}

fn read_keyed(path: &Path, key: &str) -> Option<u64> {
    keyed(&std::fs::read_to_string(path).ok()?, key)
}

/// Reads the usage files of `dirs` for `mode`.
pub fn read(mode: Mode, dirs: &[(Option<Controller>, PathBuf)]) -> Usage {
    let find = |file: &str| dirs.iter().map(|(_, d)| d.join(file)).find(|p| p.exists());
    match mode {
        Mode::V2 => Usage {
            memory_peak: find("memory.peak").and_then(|p| read_u64(&p)),
            cpu_ns: find("cpu.stat")
                .and_then(|p| read_keyed(&p, "usage_usec"))
                .map(|us| us * 1000),
            pids_peak: find("pids.peak").and_then(|p| read_u64(&p)),
            oom_kills: find("memory.events").and_then(|p| read_keyed(&p, "oom_kill")),
        },
        Mode::V1 | Mode::Hybrid => Usage {
            memory_peak: find("memory.max_usage_in_bytes").and_then(|p| read_u64(&p)),
            cpu_ns: find("cpuacct.usage").and_then(|p| read_u64(&p)),
            pids_peak: find("pids.peak").and_then(|p| read_u64(&p)),
            oom_kills: find("memory.oom_control").and_then(|p| read_keyed(&p, "oom_kill")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse() {
        let t = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed(t, "oom_kill"), Some(3));
        assert_eq!(keyed(t, "oom"), None);
        assert_eq!(
            keyed("usage_usec 1200\nuser_usec 1000\n", "usage_usec"),
            Some(1200)
        );
    }
}
