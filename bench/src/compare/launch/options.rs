//! How one launch is made and watched ([`Options`]), and what it measured
//! ([`Launched`]).
use std::time::Duration;

use vmlab_workload::tail::DEFAULT_CAP;
use vmlab_workload_host::protocol::Line;

/// How long a timed-out process has between SIGTERM and SIGKILL: enough
/// for `vmlab run` to tear down its sandbox or VM and remove its cgroups.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// Most bytes of `vmlab run --json` output kept (the report is a few kB;
/// more means something else writes there).
pub const JSON_CAP: usize = 4 << 20;

/// What the launcher's stdout is, and so what of it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// One JSON report (`vmlab run --json`): the first `cap` bytes are
    /// kept; more is counted in `Launched::stdout_dropped`.
    Json {
        /// Most bytes kept.
        cap: usize,
    },
    /// A console (the peers'): the last `cap` bytes are kept.
    Console {
        /// Most bytes kept.
        cap: usize,
    },
}

/// How to launch and watch one process.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// When the watchdog sends SIGTERM.
    pub timeout: Duration,
    /// How long after the SIGTERM it sends SIGKILL.
    pub grace: Duration,
    /// Sample the process tree's memory (costs CPU).
    pub sample_memory: bool,
    /// What of stdout is kept.
    pub stdout: Stdout,
    /// Start the process in a process group of its own and signal the
    /// whole group.
    pub own_group: bool,
}

impl Options {
    /// A peer's launch: a console on stdout, in its own process group.
    pub fn peer(timeout: Duration, sample_memory: bool) -> Options {
        Options {
            timeout,
            grace: KILL_GRACE,
            sample_memory,
            stdout: Stdout::Console { cap: DEFAULT_CAP },
            own_group: true,
        }
    }

    /// A `vmlab run --json` launch: a JSON report on stdout; the process
    /// alone is signalled (it tears down what it started on SIGTERM).
    pub fn vmlab_run(timeout: Duration, sample_memory: bool) -> Options {
        Options {
            stdout: Stdout::Json { cap: JSON_CAP },
            own_group: false,
            ..Options::peer(timeout, sample_memory)
        }
    }
}

/// What one launch measured.
#[derive(Debug, Clone, Default)]
pub struct Launched {
    /// CLOCK_MONOTONIC just before the spawn, ns.
    pub spawned_at_ns: u64,
    /// Spawn to the ready line, ns (None when it never came).
    pub to_ready_ns: Option<u64>,
    /// Spawn to reaped, ns.
    pub to_exit_ns: u64,
    /// Exit code, or None when killed by a signal.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Stopped by the watchdog (SIGTERM on timeout).
    pub timed_out: bool,
    /// Still there after the grace, so SIGKILLed by the watchdog.
    pub killed: bool,
    /// Stdout as kept (see [`Stdout`]).
    pub stdout: String,
    /// Bytes of stdout not kept.
    pub stdout_dropped: u64,
    /// The end of stderr.
    pub stderr: String,
    /// Bytes of stderr before the last [`DEFAULT_CAP`] it kept (of which
    /// `stderr` holds the end).
    pub stderr_dropped: u64,
    /// `ru_maxrss` from wait4, bytes: the largest of the process and its
    /// reaped descendants, but never below what the spawning process (this
    /// one) had resident when the child was exec'd, so only meaningful for
    /// big launchers.
    pub max_rss_bytes: u64,
    /// Sum over the process tree of each process's peak RSS (VmHWM),
    /// sampled while it ran (every ms at first, then every 20 ms); when asked for.
    pub tree_hwm_bytes: Option<u64>,
    /// The largest sum over the process tree of the processes' PSS seen in
    /// one sample (shared pages divided among their sharers); when asked for.
    pub tree_pss_bytes: Option<u64>,
}

impl Launched {
    /// The workload's JSON lines (`{"vmlab":...}`) from stdout, wherever
    /// they start on a line (a serial console may prefix them).
    pub fn vmlab_lines(&self) -> Vec<Line> {
        Line::scan(&self.stdout).collect()
    }

    /// "exit code 3", "signal 9", "timed out after ...": for messages.
    pub fn describe(&self, timeout: Duration) -> String {
        let how = if self.timed_out {
            let how = if self.killed {
                "SIGTERM, then SIGKILL"
            } else {
                "SIGTERM"
            };
            format!(
                "was stopped after the {:.0} s timeout ({how})",
                timeout.as_secs_f64()
            )
        } else if let Some(s) = self.signal {
            format!("was killed by signal {s}")
        } else {
            format!("exited with code {}", self.code.unwrap_or(-1))
        };
        let err = self.stderr.trim();
        if err.is_empty() {
            how
        } else {
            let last: Vec<&str> = err.lines().rev().take(3).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            format!("{how}: {}", last.join(" | "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_prefixes_are_tolerated() {
        let l = Launched {
            stdout: "[ 1.0] noise\n{\"vmlab\":\"ready\"}\r\nx {\"vmlab\":\"result\",\"kernel\":\"cpu\",\"iters\":2,\"total_ns\":5,\"ns_per_iter\":2.5,\"bytes\":0}\n".into(),
            ..Launched::default()
        };
        let v = l.vmlab_lines();
        assert_eq!(v.len(), 2);
        assert!(
            matches!(&v[1], Line::Result(r) if r.name() == "cpu"),
            "{v:?}"
        );
    }
}
