//! One trait for every backend `vmlab compare` runs: ours (spawned as
//! `vmlab run`) and the peers (container runtimes, QEMU, Firecracker).
use std::process::Command;
use std::time::Duration;

use vmlab_reports::model::{BackendKind, BootOrigin};
use vmlab_workload_host::protocol::Line;

use super::launch::Launched;
use super::probe::{self, HostView};
use super::surface;
use crate::id::BackendId;

/// What a backend reports about itself when it can run here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    /// Version of the runtime (peers) or of vmlab (ours).
    pub version: Option<String>,
    /// True when guest code is emulated (software nested KVM, QEMU TCG).
    pub emulated: bool,
    /// Things worth knowing about how it runs here.
    pub notes: Vec<String>,
}

/// Why a backend cannot run on this host (a full sentence for the report).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkipReason(pub String);

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One boot of the workload, measured from the outside.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Spawn of the launcher to the ready mark, ns.
    pub to_ready_ns: Option<u64>,
    /// Spawn of the launcher to everything reaped, ns.
    pub to_exit_ns: u64,
    /// Named phases as ns since the spawn, in order (ours only).
    pub phases: Vec<(String, u64)>,
    /// The workload's result and error lines, and the escape battery's.
    pub results: Vec<Line>,
    /// `ru_maxrss` of the launcher, bytes (see `Launched::max_rss_bytes`).
    pub max_rss_bytes: u64,
    /// Summed peak RSS of the launcher's process tree, when sampled.
    pub tree_hwm_bytes: Option<u64>,
    /// Peak summed PSS of the launcher's process tree, when sampled.
    pub tree_pss_bytes: Option<u64>,
    /// Bytes of the launcher's output (console, stderr) compare did not
    /// keep: only a bounded tail of each is.
    pub dropped_bytes: u64,
    /// The round it ran in (set by the matrix).
    pub round: Option<u32>,
    /// When it started, ns since the Unix epoch (set by the matrix).
    pub started_at_unix_ns: Option<u64>,
}

/// A boot stopped at its time limit (an error the matrix stores as a
/// censored run rather than a failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TimedOut {
    /// The limit it was stopped at.
    pub limit: Duration,
    /// What happened, for the user.
    pub message: String,
}

/// The error for a launch that failed: [`TimedOut`] when it was stopped at
/// the limit, else `message` alone.
pub fn launch_error(l: &Launched, timeout: Duration, message: String) -> anyhow::Error {
    if l.timed_out {
        anyhow::Error::new(TimedOut {
            limit: timeout,
            message,
        })
    } else {
        anyhow::anyhow!(message)
    }
}

impl Sample {
    /// "kernel: message" of each kernel that reported an error.
    pub fn kernel_errors(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|l| match l {
                Line::Error(e) => Some(e.to_string()),
                _ => None,
            })
            .collect()
    }

    /// The ns/iteration of each kernel result, named `kernel` or
    /// `kernel/mode` (spawn reports a fork and an exec result).
    pub fn kernel_timings(&self) -> Vec<(String, f64)> {
        self.results
            .iter()
            .filter_map(|l| match l {
                Line::Result(r) => Some((r.name(), r.ns_per_iter)),
                _ => None,
            })
            .collect()
    }
}

/// The command that boots the workload once, with what must outlive it:
/// a private directory (a bundle, a config file) and a clean-up to run
/// after it has exited (deleting a container). Dropping it cleans up.
pub struct Prepared<'a> {
    /// The command to spawn.
    pub cmd: Command,
    /// Removed when this is dropped, after `after` ran.
    keep: Option<tempfile::TempDir>,
    after: Option<Box<dyn FnOnce() + 'a>>,
}

impl<'a> Prepared<'a> {
    /// `cmd` alone.
    pub fn new(cmd: Command) -> Self {
        Prepared {
            cmd,
            keep: None,
            after: None,
        }
    }

    /// Keeps `dir` until the command has run.
    pub fn keeping(mut self, dir: tempfile::TempDir) -> Self {
        self.keep = Some(dir);
        self
    }

    /// Runs `f` once the command has run (before `dir` is removed).
    pub fn then(mut self, f: impl FnOnce() + 'a) -> Self {
        self.after = Some(Box::new(f));
        self
    }
}

impl Drop for Prepared<'_> {
    fn drop(&mut self) {
        if let Some(f) = self.after.take() {
            f();
        }
        drop(self.keep.take());
    }
}

/// A way to boot the workload (shared by the threads that start several
/// instances at once).
pub trait Backend: Sync {
    /// Which backend.
    fn id(&self) -> BackendId;
    /// Name in results (`process`, `crun`, `qemu`, ...).
    fn name(&self) -> &'static str {
        self.id().name()
    }
    /// Process, container or VM.
    fn kind(&self) -> BackendKind {
        self.id().kind()
    }
    /// Where its boot clock starts.
    fn origin(&self) -> BootOrigin {
        BootOrigin::Spawn
    }
    /// Whether the images hold what it boots (the host is checked by
    /// [`probe::probe`] before).
    fn check_images(&self) -> Result<(), SkipReason> {
        Ok(())
    }
    /// The command that boots the workload with `args` once (what
    /// [`Backend::boot`] launches and the surface trace runs).
    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>>;
    /// Boots the workload with `args` once, to its end; with `memory`, the
    /// process tree's peak RSS is sampled too (which costs CPU). By default,
    /// as a peer: its command launched and timed from the outside, what the
    /// command needed (a bundle, a config file) cleaned up after it exited.
    fn boot(&self, args: &[String], memory: bool) -> anyhow::Result<Sample> {
        let timeout = self.timeout();
        let mut prepared = self.command(args)?;
        let launched = super::launch::launch_with(&mut prepared.cmd, timeout, memory);
        drop(prepared);
        sample_of(self.name(), launched?, timeout)
    }
    /// Where its host-syscall surface starts: the workload's `execve` for
    /// a workload that runs as a host process, the first `KVM_RUN` for a VM.
    fn surface_start(&self) -> surface::Start {
        match self.kind() {
            BackendKind::Vm => surface::Start::KvmRun,
            _ => surface::WORKLOAD_EXEC,
        }
    }
    /// Why its surface cannot be traced here, when it cannot.
    fn untraceable(&self) -> Option<String> {
        None
    }
    /// Whether it runs the Linux-only kernels (spawn, pipe, file, tcp):
    /// whether there is a Linux user space, which the attack battery needs.
    fn linux_kernels(&self) -> bool {
        true
    }
    /// Whether the workload's system calls are served by a kernel of its
    /// own (a VM's guest kernel, gVisor's Sentry) rather than the host's:
    /// then what the attack battery gets from that kernel stays inside.
    fn own_kernel(&self) -> bool {
        self.kind() == BackendKind::Vm
    }
    /// Whether it creates a network namespace (torn down asynchronously by
    /// the kernel, so the next backend gets a short cool-down).
    fn new_netns(&self) -> bool {
        false
    }
    /// Whether it runs the I/O kernels ([`super::io`]), or why not.
    fn io(&self) -> Result<super::io::Reach, SkipReason> {
        Err(SkipReason(super::io::NO_VIRTIO.into()))
    }
    /// The command for the I/O kernels with `args`: it must not create a
    /// network namespace (it is spawned inside the link's), and it gives
    /// the workload the host file `disk` and `--disk` naming it inside.
    fn io_command(&self, args: &[String], disk: &std::path::Path) -> anyhow::Result<Prepared<'_>> {
        let _ = (args, disk);
        anyhow::bail!("{}: {}", self.name(), super::io::NO_VIRTIO)
    }
    /// One run of the I/O kernels inside `link`'s namespace. By default, as
    /// a peer: [`Backend::io_command`] launched and timed from the outside.
    fn io_boot(
        &self,
        args: &[String],
        disk: &std::path::Path,
        link: &crate::io::Link,
    ) -> anyhow::Result<Sample> {
        let timeout = self.timeout();
        let mut prepared = self.io_command(args, disk)?;
        link.enter_on_spawn(&mut prepared.cmd)?;
        let launched = super::launch::launch_with(&mut prepared.cmd, timeout, false);
        drop(prepared);
        sample_of(self.name(), launched?, timeout)
    }
    /// Slow backends (emulated VMs) run at most this many measured boots.
    fn max_runs(&self) -> Option<u32> {
        None
    }
    /// The timeout of one boot.
    fn timeout(&self) -> Duration {
        Duration::from_secs(30)
    }
}

/// Whether `backend` can run on `host` with its images, and its version.
pub fn probe(backend: &dyn Backend, host: &HostView) -> Result<Probe, SkipReason> {
    let probe = probe::probe(backend.id(), host)?;
    backend.check_images()?;
    Ok(probe)
}

/// A sample from an outside launch, failing unless the workload signalled
/// ready and exited 0.
pub fn sample_of(name: &str, l: Launched, timeout: Duration) -> anyhow::Result<Sample> {
    let lines = l.vmlab_lines();
    let kernel_failed = lines.iter().any(|l| matches!(l, Line::Error(_)));
    // A kernel that cannot run here (e.g. tcp without loopback) makes the
    // workload exit 1 after reporting it; the other kernels still count.
    let exited = l.code == Some(0) || (l.code.is_some() && kernel_failed);
    if l.timed_out || !exited || l.to_ready_ns.is_none() {
        let ready = if l.to_ready_ns.is_some() {
            "after signalling ready"
        } else {
            "without signalling ready"
        };
        let message = format!("{name} {} {ready}", l.describe(timeout));
        return Err(launch_error(&l, timeout, message));
    }
    Ok(Sample {
        to_ready_ns: l.to_ready_ns,
        to_exit_ns: l.to_exit_ns,
        phases: Vec::new(),
        results: outcome_lines(lines),
        max_rss_bytes: l.max_rss_bytes,
        tree_hwm_bytes: l.tree_hwm_bytes,
        tree_pss_bytes: l.tree_pss_bytes,
        dropped_bytes: l.stdout_dropped + l.stderr_dropped,
        ..Sample::default()
    })
}

/// The workload's per-kernel lines (results and errors) and the escape
/// battery's among its JSON lines.
pub fn outcome_lines(lines: Vec<Line>) -> Vec<Line> {
    lines.into_iter().filter(Line::is_outcome_line).collect()
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use vmlab_workload::Kernel;
    use vmlab_workload_host::protocol::{ErrorLine, ResultLine};

    /// A result line of `kernel` (with `mode`) at `ns` per iteration.
    pub fn result(kernel: &str, mode: Option<&str>, ns: f64) -> Line {
        Line::Result(ResultLine {
            kernel: Kernel::from_name(kernel).unwrap(),
            mode: mode.map(str::to_string),
            iters: 1,
            total_ns: ns as u64,
            ns_per_iter: ns,
            bytes: 0,
            mib_per_s: None,
            size: None,
            p50_ns: None,
            p99_ns: None,
        })
    }

    #[test]
    fn kernel_timings_name_modes() {
        let s = Sample {
            results: vec![
                result("cpu", None, 1.5),
                result("spawn", Some("fork"), 9.0),
                Line::Error(ErrorLine {
                    kernel: Some(Kernel::Tcp),
                    message: "x".into(),
                }),
            ],
            ..Sample::default()
        };
        assert_eq!(
            s.kernel_timings(),
            vec![("cpu".to_string(), 1.5), ("spawn/fork".to_string(), 9.0)]
        );
        assert_eq!(s.kernel_errors(), ["tcp: x"]);
    }

    #[test]
    fn failed_launches_are_errors() {
        let t = Duration::from_secs(5);
        let ok = Launched {
            to_ready_ns: Some(5),
            to_exit_ns: 9,
            code: Some(0),
            stdout: "{\"vmlab\":\"ready\"}\n{\"vmlab\":\"result\",\"kernel\":\"cpu\",\"iters\":1,\"total_ns\":1,\"ns_per_iter\":1,\"bytes\":0}\n".into(),
            ..Launched::default()
        };
        let s = sample_of("x", ok.clone(), t).unwrap();
        assert_eq!(
            (s.to_ready_ns, s.to_exit_ns, s.results.len()),
            (Some(5), 9, 1)
        );
        let kernel_error = Launched {
            code: Some(1),
            stdout: format!(
                "{}{{\"vmlab\":\"error\",\"kernel\":\"tcp\",\"message\":\"no lo\"}}\n",
                ok.stdout
            ),
            ..ok.clone()
        };
        let s = sample_of("x", kernel_error, t).unwrap();
        assert_eq!(s.kernel_errors(), ["tcp: no lo"]);
        assert_eq!(s.kernel_timings().len(), 1);
        let no_ready = Launched {
            to_ready_ns: None,
            ..ok.clone()
        };
        let e = sample_of("x", no_ready, t).unwrap_err().to_string();
        assert!(e.contains("without signalling ready"), "{e}");
        let failed = Launched {
            code: Some(1),
            stderr: "boom\n".into(),
            ..ok
        };
        let e = sample_of("crun", failed, t).unwrap_err().to_string();
        assert!(e.contains("crun exited with code 1: boom"), "{e}");
    }
}
