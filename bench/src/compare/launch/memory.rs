//! Sampling the memory of a launcher's process tree from /proc while it runs.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A thread reading VmHWM and PSS of a process and its descendants until
/// stopped.
pub(super) struct TreeSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl TreeSampler {
    pub(super) fn start(root: libc::pid_t) -> TreeSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peaks = std::collections::HashMap::<i32, u64>::new();
            let mut pss_peak = 0;
            let started = std::time::Instant::now();
            while !flag.load(Ordering::SeqCst) {
                let mut pss = 0;
                for m in tree_memory(root) {
                    let peak = peaks.entry(m.pid).or_default();
                    *peak = (*peak).max(m.hwm_kb);
                    pss += m.pss_kb;
                }
                pss_peak = pss_peak.max(pss);
                std::thread::sleep(sample_interval(started.elapsed()));
            }
            (peaks.values().sum::<u64>() * 1024, pss_peak * 1024)
        });
        TreeSampler { stop, thread }
    }

    /// Stops sampling; the summed VmHWM peaks and the peak summed PSS, bytes.
    pub(super) fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or((0, 0))
    }
}

/// How long the sampler sleeps `elapsed` into a run: every millisecond at
/// first (short boots), then every 20 ms. Reading smaps walks the address
/// space under the process's mmap lock; sampled every millisecond for
/// seconds, that slows an emulated VM so much its guest kernel stalls.
fn sample_interval(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_millis(100) {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(20)
    }
}

/// Memory of one process, from /proc.
#[derive(Debug, Clone, Copy)]
struct ProcMemory {
    pid: i32,
    /// Peak RSS (VmHWM), kB.
    hwm_kb: u64,
    /// Proportional set size now, kB.
    pss_kb: u64,
}

/// The value of `key` (e.g. `VmHWM:`) in /proc's "key   123 kB" text.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Memory of `root` and every descendant alive now (processes that are
/// gone or are zombies are left out).
fn tree_memory(root: libc::pid_t) -> Vec<ProcMemory> {
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(hwm_kb) = kb_field(&status, "VmHWM:") {
            let rollup =
                std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            out.push(ProcMemory {
                pid,
                hwm_kb,
                pss_kb: kb_field(&rollup, "Pss:").unwrap_or(0),
            });
        }
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
        for task in tasks.into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    use super::super::launch_with;

    #[test]
    fn samples_the_memory_of_a_process_tree() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.2 & sleep 0.2; wait"]);
        let l = launch_with(&mut cmd, Duration::from_secs(20), true).unwrap();
        let own = tree_memory(std::process::id() as i32);
        assert!(
            !own.is_empty() && own[0].hwm_kb > 0 && own[0].pss_kb > 0,
            "{own:?}"
        );
        // sh and two sleeps: more than nothing, less than a gigabyte.
        let bytes = l.tree_hwm_bytes.unwrap();
        assert!(bytes > 0 && bytes < 1 << 30, "{bytes}");
        let pss = l.tree_pss_bytes.unwrap();
        assert!(pss > 0 && pss <= bytes, "{pss} > {bytes}");
    }
}
