//! One backend's figures: boot samples, kernel timings, memory, image.
use serde::{Deserialize, Serialize};

use super::{IsolationEvidence, Protections, RunFailure};

/// What kind of isolation a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A plain process: the reference.
    #[default]
    Process,
    /// A namespace sandbox or container runtime.
    Container,
    /// A virtual machine.
    Vm,
}

impl BackendKind {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            BackendKind::Process => "process",
            BackendKind::Container => "container",
            BackendKind::Vm => "VM",
        }
    }
}

/// Everything measured for one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BackendResult {
    /// Backend name (e.g. `sandbox`, `vm-bare`, `crun`).
    pub name: String,
    /// Process, container or VM.
    pub kind: BackendKind,
    /// False when the backend could not run here.
    pub available: bool,
    /// Why it was skipped, when `available` is false.
    pub skipped_reason: Option<String>,
    /// Version of the runtime, for peers.
    pub version: Option<String>,
    /// True for a VM whose guest code is emulated (software nested KVM, QEMU TCG).
    pub emulated: bool,
    /// Boot samples.
    pub boot: Samples,
    /// Workload kernel timings, one entry per kernel.
    #[serde(default)]
    pub overhead: Vec<KernelSamples>,
    /// Memory use, when measured.
    pub memory: Option<MemorySample>,
    /// Size of what this backend ships, when it has an image.
    pub image: Option<ImageSize>,
    /// How this backend was run and measured (flags, where ready is seen).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Runs that failed or timed out (they are not in the samples).
    #[serde(default)]
    pub failures: Vec<RunFailure>,
    /// The protections the backend ran with, when recorded.
    #[serde(default)]
    pub protections: Option<Protections>,
    /// Measured isolation evidence (attack battery, host-syscall surface).
    #[serde(default)]
    pub isolation: Option<IsolationEvidence>,
}

impl BackendResult {
    /// The name with "(emulated)" appended for emulated VMs.
    pub fn label(&self) -> String {
        if self.emulated {
            format!("{} (emulated)", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// Where the boot clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BootOrigin {
    /// Before spawning the launcher process (end to end).
    #[default]
    Spawn,
    /// Before the in-process library call.
    LibraryCall,
}

/// Boot-time samples of one backend, one value per measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Samples {
    /// Where the clock starts.
    #[serde(default)]
    pub origin: BootOrigin,
    /// Start to the ready mark, ns.
    pub to_ready_ns: Vec<u64>,
    /// Start to everything gone and reaped, ns.
    pub to_exit_ns: Vec<u64>,
    /// Per-phase durations, in boot order.
    #[serde(default)]
    pub phases: Vec<Phase>,
    /// The round of each run in `to_exit_ns` (same order), when recorded.
    #[serde(default)]
    pub rounds: Vec<u32>,
    /// When each run in `to_exit_ns` started, ns since the Unix epoch,
    /// when recorded.
    #[serde(default)]
    pub started_at_unix_ns: Vec<u64>,
}

impl Samples {
    /// Adds one run. `phase_marks` are (name, ns since start) in order, as
    /// `vmlab run --json` reports them; they are stored as durations (each
    /// from the previous mark, the first from the start).
    pub fn push_run(
        &mut self,
        to_ready_ns: Option<u64>,
        to_exit_ns: u64,
        phase_marks: &[(String, u64)],
    ) {
        if let Some(r) = to_ready_ns {
            self.to_ready_ns.push(r);
        }
        self.to_exit_ns.push(to_exit_ns);
        let mut previous = 0u64;
        for (name, at) in phase_marks {
            let duration = at.saturating_sub(previous);
            previous = previous.max(*at);
            match self.phases.iter_mut().find(|p| &p.name == name) {
                Some(p) => p.ns.push(duration),
                None => self.phases.push(Phase {
                    name: name.clone(),
                    ns: vec![duration],
                }),
            }
        }
    }
}

/// Durations of one boot phase, one per run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Phase name (e.g. `create VM`, `pivot_root`).
    pub name: String,
    /// Duration per run, ns.
    pub ns: Vec<u64>,
}

/// Timings of one workload kernel in one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KernelSamples {
    /// Kernel name as the workload reports it (`cpu`, `memory`, `pagetouch`, `crossing`, ...).
    pub kernel: String,
    /// ns per iteration, one value per run.
    pub ns_per_iter: Vec<f64>,
    /// Median latency of one iteration in each run, ns, for the kernels
    /// that time every iteration (`net-rr`, `blk-rand/*`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p50_ns: Vec<u64>,
    /// 99th-percentile latency of one iteration in each run, ns (same kernels).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p99_ns: Vec<u64>,
    /// Throughput of each run, MiB/s (2^20 bytes per second), for the
    /// kernels that move data; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mib_per_s: Vec<f64>,
}

/// Memory used by one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MemorySample {
    /// Peak resident set of everything the backend runs, bytes.
    pub rss_bytes: u64,
    /// Proportional set size, bytes, when measurable.
    pub pss_bytes: Option<u64>,
    /// Extra memory per additional instance when several run at once, bytes.
    pub per_instance_bytes: Option<u64>,
    /// How many instances ran at once for `per_instance_bytes`.
    #[serde(default)]
    pub instances: u32,
}

/// Sizes of one image or artifact, bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ImageSize {
    /// What it consists of (e.g. "kernel + initramfs", "OCI layout").
    #[serde(default)]
    pub contents: String,
    /// The files the backend boots, as it opens them (e.g. `vmlinux`,
    /// `initramfs.cpio`), when recorded.
    #[serde(default)]
    pub boots: Option<String>,
    /// Sum of file sizes as shipped: an artifact that is itself compressed
    /// (an OCI layer, a bzImage) counts compressed. The field keeps its
    /// historical name; the report calls it "as shipped".
    pub uncompressed: u64,
    /// Bytes once expanded (layers unpacked, kernel decompressed), when measured.
    #[serde(default)]
    pub expanded: Option<u64>,
    /// gzip -6 of the whole (tar or file).
    pub gzip: u64,
    /// zstd -3 of the whole.
    pub zstd: u64,
    /// Blocks allocated on disk.
    pub on_disk: u64,
    /// Number of files.
    pub files: u64,
}

/// One built artifact and its sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Artifact name (e.g. `initramfs.cpio`).
    pub name: String,
    /// Its sizes.
    pub size: ImageSize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_run_stores_durations() {
        let mut s = Samples::default();
        let marks = vec![
            ("a".to_string(), 100),
            ("b".to_string(), 250),
            ("c".to_string(), 1000),
        ];
        s.push_run(Some(900), 1100, &marks);
        s.push_run(None, 1200, &marks);
        assert_eq!(s.to_ready_ns, vec![900]);
        assert_eq!(s.to_exit_ns, vec![1100, 1200]);
        assert_eq!(s.phases.len(), 3);
        assert_eq!(s.phases[1].ns, vec![150, 150]);
        assert_eq!(s.phases[2].ns, vec![750, 750]);
    }
}
