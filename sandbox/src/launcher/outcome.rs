//! What one run produced.
use vmlab_workload::protocol::Event;

use crate::cgroup::{Mode, Usage};
use crate::monitor::{self, ExitStatus};

/// What one run produced. Times are ns since the start of [`run`](crate::run)
/// (for a sandbox from a pool: since its release request).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// `CLOCK_MONOTONIC` ns at the start (all other times are relative).
    pub start: u64,
    /// Named phases, each with its end time, ordered by time. For a
    /// sandbox released from a pool: from the release request (`release`,
    /// `exec`, `ready`).
    pub phases: Vec<(&'static str, u64)>,
    /// A sandbox released from a pool: the phases of its preparation, ns
    /// since the preparation began (up to `park`); empty for a cold run.
    pub prepared: Vec<(&'static str, u64)>,
    /// Protocol events.
    pub events: Vec<(Event, u64)>,
    /// Protocol words that were not events.
    pub bad_words: Vec<u32>,
    /// The ready event.
    pub ready: Option<u64>,
    /// The workload reaped (teardown of the cgroup not included).
    pub exited: u64,
    /// Everything cleaned up.
    pub cleaned: u64,
    /// The exit status.
    pub status: ExitStatus,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// stdout.
    pub stdout: Vec<u8>,
    /// stderr.
    pub stderr: Vec<u8>,
    /// Cgroup usage (when a cgroup was used).
    pub usage: Option<Usage>,
    /// The OOM killer killed a task of the workload.
    pub oom_killed: bool,
    /// The cgroup mode used, if any.
    pub cgroup_mode: Option<Mode>,
    /// Ran in a user namespace (root inside, an unprivileged id outside);
    /// `false`: real root on the host.
    pub user_ns: bool,
    /// What the bounded output and event buffers did not keep.
    pub dropped: monitor::Dropped,
    /// The child's pid on the host.
    pub pid: i32,
}
