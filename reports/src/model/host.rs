//! Facts about the host the figures come from.
use serde::{Deserialize, Serialize};

/// Facts about the host that change what the figures mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
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
    /// What else a rerun needs to reproduce the figures (all optional).
    #[serde(default)]
    pub repro: Reproducibility,
}

/// Facts that decide whether another run can reproduce these figures.
/// Each is `None` when the producer could not read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Reproducibility {
    /// A summary of the CPU flags that matter here (e.g. `vmx`, `avx2`, `hypervisor`).
    #[serde(default)]
    pub cpu_flags: Option<String>,
    /// The cpufreq scaling governor (e.g. `performance`).
    #[serde(default)]
    pub governor: Option<String>,
    /// Whether frequency boost (turbo) is on.
    #[serde(default)]
    pub boost: Option<bool>,
    /// Whether simultaneous multithreading is on.
    #[serde(default)]
    pub smt: Option<bool>,
    /// Transparent huge pages mode (`always`, `madvise`, `never`).
    #[serde(default)]
    pub thp: Option<String>,
    /// CPU vulnerability mitigations, summarised.
    #[serde(default)]
    pub mitigations: Option<String>,
    /// 1-minute load average when the run started.
    #[serde(default)]
    pub load_at_start: Option<f64>,
    /// The host kernel's command line.
    #[serde(default)]
    pub kernel_cmdline: Option<String>,
    /// `rustc --version` of the build.
    #[serde(default)]
    pub rustc: Option<String>,
    /// Cargo build profile of the vmlab binary (`release`, `dev`).
    #[serde(default)]
    pub build_profile: Option<String>,
    /// SHA-256 of the vmlab binary, hex.
    #[serde(default)]
    pub binary_sha256: Option<String>,
    /// Release of the Linux guest kernel the Linux VMs booted.
    #[serde(default)]
    pub guest_kernel_release: Option<String>,
    /// The Linux guests' kernel command line.
    #[serde(default)]
    pub guest_kernel_cmdline: Option<String>,
}

/// What /dev/kvm is backed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KvmKind {
    /// No usable /dev/kvm.
    #[default]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Only cgroup v1 hierarchies.
    V1,
    /// The unified cgroup v2 hierarchy at /sys/fs/cgroup.
    #[default]
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
