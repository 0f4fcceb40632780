//! What a backend ran with and what happened beyond its samples: failed and
//! timed-out runs, the protections in force, and measured isolation
//! evidence. Every field is optional so older results files still load.
use serde::{Deserialize, Serialize};

/// One run that produced no sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunFailure {
    /// What the run was for (`boot`, `overhead`, `memory`, ...).
    #[serde(default)]
    pub purpose: String,
    /// The round it belonged to, when recorded.
    #[serde(default)]
    pub round: Option<u32>,
    /// True when it was stopped at the time limit rather than failing.
    #[serde(default)]
    pub timed_out: bool,
    /// For a timeout: the limit, ns. The run took at least this long, so
    /// boot statistics count it as a censored sample (at or above the limit).
    #[serde(default)]
    pub limit_ns: Option<u64>,
    /// Why it failed (exit status, the error, the last output line).
    #[serde(default)]
    pub reason: String,
}

/// The protections one backend ran with. `None` means "not recorded",
/// never "off".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Protections {
    /// Whether a seccomp filter was installed.
    #[serde(default)]
    pub seccomp: Option<bool>,
    /// How many system calls the seccomp allow-list admits.
    #[serde(default)]
    pub seccomp_allowed: Option<u32>,
    /// Whether the workload ran in a user namespace (root inside unprivileged outside).
    #[serde(default)]
    pub user_namespace: Option<bool>,
    /// The other namespaces it ran in (`pid`, `mount`, `net`, ...).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// The capabilities it kept (e.g. "none", "OCI default set").
    #[serde(default)]
    pub capabilities: Option<String>,
    /// Cgroup limits in force (e.g. "pids 1024, memory 4 GiB"), or "none".
    #[serde(default)]
    pub cgroup_limits: Option<String>,
    /// For a VM: the VMM's own jail (e.g. "namespaces, empty root, uid
    /// 65534, 15-call seccomp"), or "off".
    #[serde(default)]
    pub jail: Option<String>,
}

/// Measured isolation evidence of one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct IsolationEvidence {
    /// The attack battery run as the workload inside the backend.
    #[serde(default)]
    pub attacks: Option<AttackTally>,
    /// Distinct host system calls made on the workload's behalf.
    #[serde(default)]
    pub host_syscalls: Option<SyscallSurface>,
    /// Why a figure is missing (no tracer installed, the battery cannot run
    /// in this backend, ...).
    #[serde(default)]
    pub missing_reason: Option<String>,
}

/// Attacks tried and blocked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AttackTally {
    /// How many attacks ran.
    pub tried: u32,
    /// How many of them the backend stopped.
    pub blocked: u32,
    /// The names of the attacks that succeeded.
    #[serde(default)]
    pub succeeded: Vec<String>,
}

impl AttackTally {
    /// Share of the attacks tried that were blocked (NaN when none ran).
    pub fn blocked_share(&self) -> f64 {
        if self.tried == 0 {
            f64::NAN
        } else {
            f64::from(self.blocked.min(self.tried)) / f64::from(self.tried)
        }
    }
}

/// The host-kernel surface: distinct host system calls seen during one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SyscallSurface {
    /// Distinct system call numbers.
    pub distinct: u32,
    /// Whose calls were counted ("the workload's", "the VMM's").
    #[serde(default)]
    pub counted: String,
    /// The tracer (e.g. `strace -f -c`, `perf trace -s`).
    #[serde(default)]
    pub tracer: String,
}
