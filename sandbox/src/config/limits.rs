//! Resource limits, and the sizes they are given in.
use std::time::Duration;

use super::ConfigError;

/// Cgroup limits; `None` leaves a resource unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// Memory limit in bytes (swap included where the kernel can limit it).
    pub memory: Option<u64>,
    /// Maximum number of tasks.
    pub pids: Option<u64>,
    /// CPU bandwidth in cores.
    pub cpus: Option<f64>,
}

/// The longest timeout a run may have: a day.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The pids limit a sandbox gets unless told otherwise.
pub const DEFAULT_PIDS: u64 = 1024;

/// The share of host memory a sandbox may use unless told otherwise: a
/// quarter of `MemTotal`.
pub const DEFAULT_MEMORY_SHARE: u64 = 4;

impl Limits {
    /// The default limits, so that a fork bomb or a memory hog stops inside
    /// the sandbox: [`DEFAULT_PIDS`] tasks and `MemTotal /`
    /// [`DEFAULT_MEMORY_SHARE`] of memory (no CPU limit), each where this
    /// machine has the controller (an explicit limit without its controller
    /// is an error instead). Without root no cgroup can be created unless
    /// one was delegated, so a caller that is not root gets no default limit.
    pub fn default_for_caller() -> Limits {
        use crate::cgroup::{Controller, Hierarchy};
        if nix::unistd::geteuid().as_raw() != 0 {
            return Limits::default();
        }
        let Ok(hier) = Hierarchy::cached() else {
            return Limits::default();
        };
        Limits {
            memory: host_memory()
                .map(|m| m / DEFAULT_MEMORY_SHARE)
                .filter(|_| hier.has(Controller::Memory)),
            pids: Some(DEFAULT_PIDS).filter(|_| hier.has(Controller::Pids)),
            cpus: None,
        }
    }

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpus.is_some()
    }
}

/// `MemTotal` of this host in bytes.
pub fn host_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parses a size like `64M`, `1G`, `512k` or plain bytes.
pub fn parse_size(s: &str) -> Result<u64, ConfigError> {
    let bad = || ConfigError::BadSize(s.to_string());
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_lowercase() {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                'b' => 1,
                _ => return Err(bad()),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num.trim().parse().map_err(|_| bad())?;
    n.checked_mul(mult).ok_or_else(bad)
}
