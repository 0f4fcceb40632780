//! Our backends (process, sandbox, vm-bare, vm-linux), measured end to end
//! like the peers: `vmlab run --backend X --json -- ARGS` is spawned and
//! timed from the spawn. The child reports its in-process timings and the
//! CLOCK_MONOTONIC instant it started the backend; the gap from the spawn
//! to that instant (exec, loader, argument parsing) becomes a first phase,
//! `launch`, and is added to the in-process to-ready figure. To-exit is
//! measured by the parent (the child reaped). In-process figures, without
//! the launch, are what `cargo bench --bench boot` measures.
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use vmlab_reports::model::{BackendKind, KvmKind};

use super::backend::{kernel_lines, Backend, Probe, Sample, SkipReason};
use super::launch::{launch_opts, Launched, Options, JSON_CAP};
use crate::host;

/// The fact `vmlab run` puts its start instant in (see `run::START_FACT`).
const START_FACT: &str = "start_monotonic_ns";

/// Which of our backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The workload as a plain process.
    Process,
    /// The vmlab namespace sandbox.
    Sandbox,
    /// The tiny VMM with the bare guest.
    VmBare,
    /// The tiny VMM with a Linux guest.
    VmLinux,
}

impl Which {
    /// Every one of ours, in report order.
    pub const ALL: [Which; 4] = [
        Which::Process,
        Which::Sandbox,
        Which::VmBare,
        Which::VmLinux,
    ];

    /// The name, as `vmlab run --backend` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Which::Process => "process",
            Which::Sandbox => "sandbox",
            Which::VmBare => "vm-bare",
            Which::VmLinux => "vm-linux",
        }
    }
}

/// One of our backends, run through the `vmlab` binary.
#[derive(Debug, Clone)]
pub struct Ours {
    which: Which,
    /// The `vmlab` binary.
    exe: PathBuf,
    /// The images directory.
    images: PathBuf,
    /// What /dev/kvm is here.
    kvm: KvmKind,
}

impl Ours {
    /// `which`, launched through `exe` on the images in `images`.
    pub fn new(which: Which, exe: PathBuf, images: PathBuf, kvm: KvmKind) -> Self {
        Ours {
            which,
            exe,
            images,
            kvm,
        }
    }
}

/// The part of `vmlab run --json` output compare uses.
#[derive(Debug, Deserialize)]
struct RunReport {
    exit_code: u8,
    to_ready_ns: Option<u64>,
    #[serde(default)]
    phases: Vec<(String, u64)>,
    #[serde(default)]
    results: Vec<serde_json::Value>,
    #[serde(default)]
    facts: std::collections::BTreeMap<String, String>,
}

/// Why a VM backend cannot run on a host with this KVM.
pub fn linux_guest_skip(kvm: KvmKind) -> Option<SkipReason> {
    match kvm {
        KvmKind::Hardware => None,
        KvmKind::None => Some(SkipReason("no usable /dev/kvm on this host".into())),
        KvmKind::PvmSoftwareNested => Some(SkipReason(
            "software nested KVM (kvm_pvm): Linux guests do not boot; see `vmlab rig`".into(),
        )),
    }
}

impl Backend for Ours {
    fn name(&self) -> &str {
        self.which.name()
    }

    fn kind(&self) -> BackendKind {
        match self.which {
            Which::Process => BackendKind::Process,
            Which::Sandbox => BackendKind::Container,
            Which::VmBare | Which::VmLinux => BackendKind::Vm,
        }
    }

    fn probe(&self) -> Result<Probe, SkipReason> {
        let mut probe = Probe::default();
        match self.which {
            Which::Process => {}
            Which::Sandbox => {
                if host::euid() != Some(0) && !host::userns().0 {
                    return Err(SkipReason(format!(
                        "not root and no unprivileged user namespaces ({})",
                        host::userns().1
                    )));
                }
                probe
                    .notes
                    .push("network namespace with loopback up, like the peers".into());
                probe.notes.push(
                    "default mode: a user namespace (root inside is an unprivileged id outside), nosuid/nodev rootfs, seccomp allow-list, 1024 tasks and a quarter of RAM at most"
                        .into(),
                );
            }
            Which::VmBare => {
                host::kvm_openable()
                    .map_err(|e| SkipReason(format!("cannot open /dev/kvm: {e}")))?;
                probe.emulated = self.kvm.is_software();
            }
            Which::VmLinux => {
                if let Some(why) = linux_guest_skip(self.kvm) {
                    return Err(why);
                }
                host::kvm_openable()
                    .map_err(|e| SkipReason(format!("cannot open /dev/kvm: {e}")))?;
                let manifest = vmlab_images::manifest::Manifest::read(&self.images)
                    .map_err(|e| SkipReason(e.to_string()))?;
                if manifest.kernel.is_none() {
                    return Err(SkipReason(format!(
                        "no guest kernel in the images; {}",
                        vmlab_images::kernel::HOW_TO_GET_ONE
                    )));
                }
            }
        }
        probe.notes.push(
            "end to end: spawn of `vmlab run` to the ready mark (launch + in-process)".into(),
        );
        Ok(probe)
    }

    fn boot(&self, args: &[String], memory: bool) -> anyhow::Result<Sample> {
        let timeout = self.timeout();
        let mut cmd = Command::new(&self.exe);
        cmd.args(["run", "--backend", self.which.name(), "--json", "--timeout"])
            .arg(format!("{}", timeout.as_secs_f64() * 0.9))
            .arg("--images")
            .arg(&self.images);
        if self.which == Which::Sandbox {
            // Like the peers (crun, runc, bwrap bring `lo` up), so that the
            // tcp kernel runs and boot figures include the same work.
            cmd.args(["--net", "loopback"]);
        }
        cmd.arg("--").args(args);
        let l = launch_opts(&mut cmd, Options::vmlab_run(timeout, memory))?;
        end_to_end(self.which.name(), &l, timeout)
    }

    fn linux_kernels(&self) -> bool {
        self.which != Which::VmBare
    }

    fn new_netns(&self) -> bool {
        self.which == Which::Sandbox
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// The end-to-end sample from a `vmlab run --json` launch.
fn end_to_end(name: &str, l: &Launched, timeout: Duration) -> anyhow::Result<Sample> {
    if l.stdout_dropped > 0 {
        anyhow::bail!(
            "`vmlab run --backend {name} --json` wrote {} bytes to stdout, more than the {} MiB \
             compare keeps for its report; the workload's own output must not reach that stdout",
            JSON_CAP as u64 + l.stdout_dropped,
            JSON_CAP >> 20
        );
    }
    let report: Option<RunReport> = serde_json::from_str(&l.stdout).ok();
    let report = match report {
        Some(r) if !l.timed_out && (r.exit_code == 0 || kernel_failed(&r.results)) => r,
        _ => anyhow::bail!("`vmlab run --backend {name}` {}", l.describe(timeout)),
    };
    let started: u64 = report
        .facts
        .get(START_FACT)
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("`vmlab run --json` output has no {START_FACT} fact"))?;
    let gap = started.saturating_sub(l.spawned_at_ns);
    let to_ready = report
        .to_ready_ns
        .with_context(|| format!("{name} never signalled ready"))?;
    let mut phases = vec![("launch".to_string(), gap)];
    phases.extend(report.phases.into_iter().map(|(n, t)| (n, gap + t)));
    Ok(Sample {
        to_ready_ns: Some(gap + to_ready),
        to_exit_ns: l.to_exit_ns,
        phases,
        results: kernel_lines(report.results),
        max_rss_bytes: l.max_rss_bytes,
        tree_hwm_bytes: l.tree_hwm_bytes,
        tree_pss_bytes: l.tree_pss_bytes,
        dropped_bytes: l.stderr_dropped,
    })
}

/// Whether the workload reported a kernel it could not run (it then exits 1).
fn kernel_failed(results: &[serde_json::Value]) -> bool {
    results.iter().any(|v| v["vmlab"] == "error")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launched(stdout: &str) -> Launched {
        Launched {
            spawned_at_ns: 1_000,
            to_exit_ns: 9_000,
            code: Some(0),
            stdout: stdout.into(),
            max_rss_bytes: 4096,
            ..Launched::default()
        }
    }

    #[test]
    fn adds_the_launch_gap() {
        let out = r#"{"backend":"process","exit_code":0,"to_ready_ns":500,"to_exit_ns":700,
            "phases":[["clone",100],["exec",300]],"marks":[],"counters":{},
            "results":[{"vmlab":"result","kernel":"cpu","ns_per_iter":2.0}],
            "facts":{"start_monotonic_ns":"3000"}}"#;
        let s = end_to_end("process", &launched(out), Duration::from_secs(1)).unwrap();
        assert_eq!(s.to_ready_ns, Some(2_500));
        assert_eq!(s.to_exit_ns, 9_000);
        assert_eq!(
            s.phases,
            vec![
                ("launch".to_string(), 2_000),
                ("clone".to_string(), 2_100),
                ("exec".to_string(), 2_300)
            ]
        );
        assert_eq!(s.kernel_timings(), vec![("cpu".to_string(), 2.0)]);
    }

    #[test]
    fn failures_say_what_happened() {
        let mut l = launched("");
        l.code = Some(1);
        l.stderr = "vmlab: error: no rootfs\n".into();
        let e = end_to_end("sandbox", &l, Duration::from_secs(1)).unwrap_err();
        assert!(
            e.to_string()
                .contains("exited with code 1: vmlab: error: no rootfs"),
            "{e}"
        );
        let mut flooded = launched(r#"{"exit_code":0"#);
        flooded.stdout_dropped = 10;
        let e = end_to_end("process", &flooded, Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("more than the 4 MiB"), "{e}");
        let no_start = r#"{"exit_code":0,"to_ready_ns":5,"facts":{}}"#;
        let e = end_to_end("sandbox", &launched(no_start), Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains(START_FACT), "{e}");
    }

    #[test]
    fn linux_guests_need_hardware_kvm() {
        assert_eq!(linux_guest_skip(KvmKind::Hardware), None);
        let why = linux_guest_skip(KvmKind::PvmSoftwareNested).unwrap();
        assert!(why.0.contains("kvm_pvm"));
        assert!(linux_guest_skip(KvmKind::None).is_some());
    }
}
