//! The results model: what `vmlab compare` measured, as versioned JSON.
//!
//! Raw samples are kept (not only summaries) so that a later `vmlab report`
//! can redo every statistic and compare against a baseline. Bump
//! [`SCHEMA_VERSION`] whenever a field changes meaning or is removed;
//! adding an optional field (with `#[serde(default)]`) keeps the version.
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The schema version this crate writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The schema versions this crate can read.
pub const KNOWN_SCHEMA_VERSIONS: &[u32] = &[1];

/// Loading `results.json` failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The results file could not be read.
    #[error("cannot read results file {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The results file is not valid JSON or does not match the schema.
    #[error("{path} is not a vmlab results file")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The results file has no `schema_version` number.
    #[error("{path} has no numeric `schema_version`: it is not a vmlab results file")]
    NoVersion {
        /// The file.
        path: String,
    },
    /// The results file was written by a vmlab with another schema.
    #[error("{path} has schema_version {found}; this vmlab reads version(s) {known:?}: re-run `vmlab compare` or use the matching vmlab")]
    UnknownVersion {
        /// The file.
        path: String,
        /// The version in the file.
        found: u64,
        /// The versions this build reads.
        known: &'static [u32],
    },
}

/// Everything one `vmlab compare` run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// Always [`SCHEMA_VERSION`] when written by this crate.
    pub schema_version: u32,
    /// When the run finished, RFC 3339 in UTC (see [`rfc3339_utc`]).
    pub generated_at: String,
    /// `git rev-parse --short HEAD` of the vmlab tree, or "unknown".
    pub git_revision: String,
    /// The machine the figures come from.
    pub host: HostFacts,
    /// Versions of the tools and peers used.
    pub tools: Vec<Tool>,
    /// How the run was configured.
    pub config: RunConfig,
    /// One entry per backend asked for, including the skipped ones.
    pub backends: Vec<BackendResult>,
    /// Sizes of the individual artifacts the images step built.
    #[serde(default)]
    pub images: Vec<Artifact>,
}

/// Facts about the host that change what the figures mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    /// `model name` from /proc/cpuinfo.
    pub cpu_model: String,
    /// Online logical CPUs.
    pub cores: u32,
    /// Total memory (MemTotal) in bytes.
    pub mem_bytes: u64,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// What /dev/kvm is backed by.
    pub kvm: KvmKind,
    /// How cgroups are mounted.
    pub cgroup_mode: CgroupMode,
    /// Usable cgroup controllers.
    pub controllers: Vec<String>,
    /// Whether unprivileged user namespaces are allowed.
    pub userns: bool,
}

/// What /dev/kvm is backed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvmKind {
    /// No usable /dev/kvm.
    None,
    /// Hardware virtualisation (kvm_intel or kvm_amd).
    Hardware,
    /// Software nested KVM (kvm_pvm): every guest instruction is emulated.
    PvmSoftwareNested,
}

impl KvmKind {
    /// True when guest code is emulated rather than run by the CPU.
    pub fn is_software(self) -> bool {
        self == KvmKind::PvmSoftwareNested
    }

    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            KvmKind::None => "none",
            KvmKind::Hardware => "hardware",
            KvmKind::PvmSoftwareNested => "pvm (software nested)",
        }
    }
}

/// How cgroups are mounted on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Only cgroup v1 hierarchies.
    V1,
    /// The unified cgroup v2 hierarchy at /sys/fs/cgroup.
    V2,
    /// v1 controllers plus a v2 hierarchy at /sys/fs/cgroup/unified.
    Hybrid,
}

impl CgroupMode {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            CgroupMode::V1 => "v1",
            CgroupMode::V2 => "v2",
            CgroupMode::Hybrid => "hybrid (v1 + v2)",
        }
    }
}

/// One tool or peer and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// Command name (e.g. `crun`).
    pub name: String,
    /// First line of `--version`, when it answered.
    pub version: Option<String>,
    /// Where it was found on PATH.
    pub path: Option<String>,
}

/// How the comparison was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Measured runs per backend.
    pub runs: u32,
    /// Whether `--quick` shortened the run.
    pub quick: bool,
    /// Unmeasured runs before the measured ones.
    pub warmup: u32,
}

/// What kind of isolation a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A plain process: the reference.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KernelSamples {
    /// Kernel name as the workload reports it (`cpu`, `memory`, `pagetouch`, `crossing`, ...).
    pub kernel: String,
    /// ns per iteration, one value per run.
    pub ns_per_iter: Vec<f64>,
}

/// Memory used by one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSize {
    /// What it consists of (e.g. "kernel + initramfs", "OCI layout").
    #[serde(default)]
    pub contents: String,
    /// Sum of file sizes.
    pub uncompressed: u64,
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

impl Results {
    /// An empty result set stamped with the current schema version and time;
    /// `vmlab compare` fills `backends` and `images`.
    pub fn new(
        host: HostFacts,
        tools: Vec<Tool>,
        git_revision: String,
        config: RunConfig,
    ) -> Results {
        Results {
            schema_version: SCHEMA_VERSION,
            generated_at: now_rfc3339(),
            git_revision,
            host,
            tools,
            config,
            backends: Vec::new(),
            images: Vec::new(),
        }
    }

    /// Parses results JSON, checking the schema version first so an unknown
    /// version gets its own message. `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Results, LoadError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| LoadError::Parse {
                path: origin.to_string(),
                source,
            })?;
        let version = value
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| LoadError::NoVersion {
                path: origin.to_string(),
            })?;
        if !KNOWN_SCHEMA_VERSIONS
            .iter()
            .any(|&k| u64::from(k) == version)
        {
            return Err(LoadError::UnknownVersion {
                path: origin.to_string(),
                found: version,
                known: KNOWN_SCHEMA_VERSIONS,
            });
        }
        serde_json::from_value(value).map_err(|source| LoadError::Parse {
            path: origin.to_string(),
            source,
        })
    }

    /// Reads and parses a `results.json` file.
    pub fn load(path: &Path) -> Result<Results, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Results::from_json(&text, &path.display().to_string())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The plain-process backend, the reference for overhead ratios.
    pub fn reference(&self) -> Option<&BackendResult> {
        self.backends
            .iter()
            .find(|b| b.kind == BackendKind::Process && b.available)
    }

    /// True when any measured VM figure comes from emulated guest code.
    pub fn any_emulated(&self) -> bool {
        self.host.kvm.is_software() || self.backends.iter().any(|b| b.available && b.emulated)
    }
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`2026-01-02T03:04:05Z`);
/// past the year 9999, its last instant.
pub fn rfc3339_utc(unix_secs: u64) -> String {
    i64::try_from(unix_secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .unwrap_or(jiff::Timestamp::MAX)
        .to_string()
}

/// Now, as RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_utc(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }

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

    #[test]
    fn unknown_version_is_named() {
        let err = Results::from_json(r#"{"schema_version": 7}"#, "x.json").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("schema_version 7"), "{msg}");
        assert!(msg.contains("[1]"), "{msg}");
        let err = Results::from_json(r#"{"a": 1}"#, "x.json").unwrap_err();
        assert!(matches!(err, LoadError::NoVersion { .. }));
        let err = Results::from_json("not json", "x.json").unwrap_err();
        assert!(matches!(err, LoadError::Parse { .. }));
    }
}
