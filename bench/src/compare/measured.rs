//! What the matrix measured for one backend: its samples by purpose, and
//! every run that gave no sample (failed or timed out), kept with its round
//! for results.json.
use std::time::{SystemTime, UNIX_EPOCH};

use vmlab_reports::model::RunFailure;

use super::backend::{Sample, TimedOut};

/// What the matrix measured for one backend.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Measured boots (no kernels), each with its round and start time.
    pub boot: Vec<Sample>,
    /// Measured overhead runs (with kernels).
    pub overhead: Vec<Sample>,
    /// Memory runs (no kernels, process tree sampled).
    pub memory: Vec<Sample>,
    /// Instances that ran at once (no kernels, each tree sampled).
    pub concurrent: Vec<Sample>,
    /// Why the backend was dropped (its first boot failed).
    pub failure: Option<String>,
    /// Every run that produced no sample, the dropping one included.
    pub failures: Vec<RunFailure>,
    /// Kernels that reported an error ("kernel: message"), once each.
    pub kernel_errors: Vec<String>,
    /// Why the I/O kernels (or some) did not run, when they did not.
    pub io_note: Option<String>,
}

/// What a run was for, as results.json names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An unmeasured boot before the rounds.
    Warmup,
    /// A measured boot.
    Boot,
    /// A run of the kernels.
    Overhead,
    /// A boot with the process tree sampled.
    Memory,
    /// A run of the I/O kernels (its results join the overhead figures).
    Io,
}

impl Purpose {
    /// The name in results.json.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Warmup => "warm-up",
            Purpose::Boot => "boot",
            Purpose::Overhead => "overhead",
            Purpose::Memory => "memory",
            Purpose::Io => "io",
        }
    }
}

/// Now, ns since the Unix epoch (0 if the clock is before it).
pub fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A failed run as results.json stores it: a timeout keeps its limit (the
/// run took at least that long).
pub fn failure_of(e: &anyhow::Error, purpose: Purpose, round: Option<u32>) -> RunFailure {
    let timed_out = e.downcast_ref::<TimedOut>();
    RunFailure {
        purpose: purpose.name().to_string(),
        round,
        timed_out: timed_out.is_some(),
        limit_ns: timed_out.map(|t| t.limit.as_nanos() as u64),
        reason: format!("{e:#}"),
    }
}

impl Measured {
    /// Records one run of `purpose` in `round`, started at `started` (ns
    /// since the epoch). A backend whose first measured boot fails (and
    /// that had no warm-up to fail before) is dropped with that reason.
    pub fn record(
        &mut self,
        result: anyhow::Result<Sample>,
        purpose: Purpose,
        round: Option<u32>,
        started: u64,
    ) {
        match result {
            Ok(mut s) => {
                s.round = round;
                s.started_at_unix_ns = Some(started);
                match purpose {
                    Purpose::Memory => self.memory.push(s),
                    Purpose::Overhead | Purpose::Io => {
                        for e in s.kernel_errors() {
                            if !self.kernel_errors.contains(&e) {
                                self.kernel_errors.push(e);
                            }
                        }
                        self.overhead.push(s);
                    }
                    Purpose::Boot => self.boot.push(s),
                    Purpose::Warmup => {}
                }
            }
            Err(e) => {
                let first_boot = purpose == Purpose::Boot && self.boot.is_empty();
                if purpose == Purpose::Warmup || first_boot {
                    self.failure = Some(format!("{e:#}"));
                }
                self.failures.push(failure_of(&e, purpose, round));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn failures_keep_purpose_round_and_timeout() {
        let mut m = Measured::default();
        let ok = || Ok(Sample::default());
        m.record(ok(), Purpose::Boot, Some(0), 5);
        let timeout = anyhow::Error::new(TimedOut {
            limit: Duration::from_secs(2),
            message: "x was stopped after the 2 s timeout".into(),
        });
        m.record(Err(timeout), Purpose::Boot, Some(1), 6);
        m.record(
            Err(anyhow::anyhow!("exited with code 1")),
            Purpose::Overhead,
            Some(2),
            7,
        );
        assert_eq!(m.boot.len(), 1);
        assert_eq!(
            (m.boot[0].round, m.boot[0].started_at_unix_ns),
            (Some(0), Some(5))
        );
        assert!(
            m.failure.is_none(),
            "a later failure does not drop the backend"
        );
        assert_eq!(m.failures.len(), 2);
        let t = &m.failures[0];
        assert_eq!(
            (t.purpose.as_str(), t.round, t.timed_out),
            ("boot", Some(1), true)
        );
        assert_eq!(t.limit_ns, Some(2_000_000_000));
        assert!(t.reason.contains("2 s timeout"), "{}", t.reason);
        let f = &m.failures[1];
        assert_eq!(
            (f.purpose.as_str(), f.timed_out, f.limit_ns),
            ("overhead", false, None)
        );
    }

    #[test]
    fn a_failing_first_boot_drops_the_backend_and_is_stored() {
        let mut m = Measured::default();
        m.record(
            Err(anyhow::anyhow!("cannot start")),
            Purpose::Boot,
            Some(0),
            1,
        );
        assert_eq!(m.failure.as_deref(), Some("cannot start"));
        assert_eq!(m.failures.len(), 1);
        let mut w = Measured::default();
        w.record(Err(anyhow::anyhow!("no")), Purpose::Warmup, None, 1);
        assert!(w.failure.is_some());
        assert_eq!(w.failures[0].purpose, "warm-up");
    }
}
