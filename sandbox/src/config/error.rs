//! Why a configuration is refused.
use std::path::PathBuf;
use std::time::Duration;

/// A configuration the sandbox refuses before doing anything.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The root filesystem directory does not exist; build it with `vmlab images build`.
    #[error("the root filesystem {0} does not exist; build it with `vmlab images build`")]
    MissingRootfs(PathBuf),
    /// The root filesystem is not a directory.
    #[error("the root filesystem {0} is not a directory")]
    RootfsNotDir(PathBuf),
    /// The entry program is missing inside the root filesystem.
    #[error("the entry program {0} does not exist; the rootfs needs the workload as its init")]
    MissingEntry(PathBuf),
    /// The entry program exists but cannot be executed.
    #[error("the entry program {0} is not an executable regular file (check its mode: chmod 755)")]
    EntryNotExecutable(PathBuf),
    /// A memory limit below what any process needs.
    #[error("the memory limit {0} bytes is too small; give at least 4M")]
    MemoryTooSmall(u64),
    /// A pids limit of zero.
    #[error("the pids limit must be at least 1")]
    PidsZero,
    /// A CPU limit that is not a positive number of cores.
    #[error("the CPU limit {0} is not a positive number of cores (e.g. 0.5 or 2)")]
    BadCpus(f64),
    /// A limit string that does not parse.
    #[error("the memory limit {0:?} is not a size like 64M, 1G or 1048576")]
    BadSize(String),
    /// An argument or environment entry with a NUL byte.
    #[error("the argument or environment entry {0:?} contains a NUL byte")]
    Nul(String),
    /// A timeout that is zero, or longer than [`MAX_TIMEOUT`](super::MAX_TIMEOUT).
    #[error("the timeout {0:?} is out of range: give more than 0 and at most a day")]
    BadTimeout(Duration),
    /// Cgroup limits asked for without a cgroup.
    #[error("resource limits need a cgroup; drop the limits or enable the cgroup")]
    LimitsWithoutCgroup,
    /// A file bind for a sandbox without a root filesystem of its own.
    #[error("binding the host file {0} needs a root filesystem to bind it into; a plain process opens host files directly")]
    BindWithoutRootfs(PathBuf),
    /// A bind target that is not an absolute path of plain components.
    #[error("the inside path {0} of a file bind must be absolute, without `.` or `..` (e.g. /tmp/vmlab-disk)")]
    BadBindTarget(PathBuf),
}
