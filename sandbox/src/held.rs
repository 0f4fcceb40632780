//! Held sandboxes: a workload started with `--hold`, ready, and waiting
//! for its release, owned by the caller (a driver holding many at once).
//!
//! [`HeldSandbox::start`] runs exactly the cold start of
//! [`run`](crate::run) for the same [`Config`] (namespaces, mounts,
//! cgroup, ids, capabilities, seccomp, `execve`), with one difference in
//! wiring: the protocol channel is a socket pair instead of a pipe, and the
//! workload's stdin is its own end of it, so that the one fd the caller
//! reads the protocol from also releases the hold (four fds per held
//! instance in the caller: pidfd, protocol, stdout, stderr); its stdout is
//! captured, instead of `/dev/null` or, with [`Config::pass_stdio`], the
//! caller's own stdin and stdout — so `pass_stdio` does not apply here. It
//! returns once the workload's `ready` event arrived. No thread watches a
//! held sandbox: its output waits in its pipes (a held workload writes one
//! line) until [`HeldSandbox::release`] shuts down the caller's side of the
//! channel (the workload reads end of file on its stdin and exits) and
//! watches it to its end like a cold run.
//!
//! Dropping one kills and reaps the workload, closes its pipes and removes
//! its cgroup; its mounts die with its mount namespace. The workload gets
//! `SIGKILL` when the thread that started it exits (its parent-death
//! signal): start and release on one long-lived thread.
use std::time::Duration;

use vmlab_workload::protocol::Event;

use crate::config::Config;
use crate::launcher::{LaunchError, Outcome, Started};
use crate::monitor::{Early, ExitStatus, NotYet};

/// How long a workload that exited before its ready has to be reaped and
/// its output read.
pub(crate) const LAST_WORDS: Duration = Duration::from_secs(2);

/// Most bytes of a failed start's stderr put in its error.
const STDERR_TAIL: usize = 600;

/// A started sandbox whose workload is ready and held.
pub struct HeldSandbox {
    started: Started,
    early: Early,
    ready_ns: u64,
}

impl std::fmt::Debug for HeldSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldSandbox")
            .field("pid", &self.pid())
            .field("ready_ns", &self.ready_ns)
            .finish()
    }
}

impl HeldSandbox {
    /// Starts `config`'s workload (whose arguments include `--hold`) and
    /// waits up to `limit` for its ready event. On any failure everything
    /// started is torn down.
    pub fn start(config: &Config, limit: Duration) -> Result<HeldSandbox, LaunchError> {
        let started = Started::start_with(config, false, true)?;
        let mut early = Early::default();
        match started.until(Event::Ready, limit, &mut early) {
            Ok(at) => Ok(HeldSandbox {
                ready_ns: at.saturating_sub(started.phases_start()),
                started,
                early,
            }),
            Err(NotYet::Exited) => {
                let out = started.wait_from(None, early, LAST_WORDS)?;
                Err(ended_before_ready(&out))
            }
            Err(NotYet::TimedOut) => Err(LaunchError::NotReady(limit)),
            Err(NotYet::Pipe(e)) => Err(LaunchError::Pipe(e)),
        }
    }

    /// The workload's pid on the host.
    pub fn pid(&self) -> i32 {
        self.started.pid()
    }

    /// From the start of [`HeldSandbox::start`] to the ready event, ns.
    pub fn to_ready_ns(&self) -> u64 {
        self.ready_ns
    }

    /// The start's phases (cgroup, plan, clone, each setup step, exec),
    /// each with its end in ns since the start.
    pub fn phases(&self) -> &[(&'static str, u64)] {
        self.started.phases()
    }

    /// Whether the workload has exited (before its release).
    pub fn exited(&self) -> bool {
        self.started.exited()
    }

    /// Ends the hold: the workload reads end of file on its stdin and goes
    /// on to its exit (not waited for here).
    pub fn let_go(&mut self) {
        self.started.let_go();
    }

    /// Releases the workload and watches it to its end, for at most
    /// `limit` (then it is killed); the usage is read and the cgroup
    /// removed. Times in the outcome count from the start.
    pub fn release(mut self, limit: Duration) -> Result<Outcome, LaunchError> {
        self.let_go();
        let HeldSandbox { started, early, .. } = self;
        started.wait_from(None, early, limit)
    }
}

/// How a workload ended, in words: `code 1`, `signal 9`, or the OOM
/// killer's work within the memory limit of its cgroup.
pub fn ended(out: &Outcome) -> String {
    match out.status {
        _ if out.oom_killed => {
            "killed by the OOM killer: out of memory within its cgroup's memory limit".into()
        }
        ExitStatus::Code(c) => format!("code {c}"),
        ExitStatus::Signal(s) => format!("signal {s}"),
    }
}

/// The error for a workload that exited before its ready event.
fn ended_before_ready(out: &Outcome) -> LaunchError {
    let (ended, stderr) = last_words(out);
    LaunchError::EndedBeforeReady { ended, stderr }
}

/// How a workload that ended too early ended, and the end of its stderr as
/// `: text` (empty when there was none).
pub(crate) fn last_words(out: &Outcome) -> (String, String) {
    let ended = ended(out);
    let text = String::from_utf8_lossy(&out.stderr);
    let text = text.trim();
    let from = (text.len().saturating_sub(STDERR_TAIL)..=text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    let stderr = if text.is_empty() {
        String::new()
    } else {
        format!(": {}", &text[from..])
    };
    (ended, stderr)
}
