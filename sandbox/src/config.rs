//! What to run and how to isolate it: plain data, checked by [`Config::validate`].
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
    /// A timeout that is zero, or longer than [`MAX_TIMEOUT`].
    #[error("the timeout {0:?} is out of range: give more than 0 and at most a day")]
    BadTimeout(Duration),
    /// Cgroup limits asked for without a cgroup.
    #[error("resource limits need a cgroup; drop the limits or enable the cgroup")]
    LimitsWithoutCgroup,
}

/// The network a sandbox gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// The host's network namespace (no isolation).
    Host,
    /// A new, empty network namespace: no interface is up.
    None,
    /// A new network namespace with `lo` brought up.
    Loopback,
}

/// How `/sys` appears inside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SysMount {
    /// No `/sys` at all.
    Absent,
    /// A fresh sysfs, read-only (needs a network namespace when rootless).
    ReadOnly,
}

/// One line of a uid or gid map: `count` ids from `inside` map to `outside`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMap {
    /// First id inside the user namespace.
    pub inside: u32,
    /// First id on the host.
    pub outside: u32,
    /// How many ids.
    pub count: u32,
}

/// The user namespace: rootless mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserNs {
    /// The uid map (one line).
    pub uid: IdMap,
    /// The gid map (one line).
    pub gid: IdMap,
}

impl UserNs {
    /// Root inside maps to one unprivileged host id: the caller's own uid/gid
    /// when not root (true rootless), otherwise `nobody`/`nogroup` (65534),
    /// so that the sandbox runs unprivileged on the host even when launched
    /// by root.
    pub fn rootless() -> UserNs {
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
        let (uid, gid) = if uid == 0 {
            (NOBODY, NOBODY)
        } else {
            (uid, gid)
        };
        UserNs {
            uid: IdMap {
                inside: 0,
                outside: uid,
                count: 1,
            },
            gid: IdMap {
                inside: 0,
                outside: gid,
                count: 1,
            },
        }
    }
}

/// The host id a rootless sandbox launched by root runs as.
pub const NOBODY: u32 = 65534;

/// Which namespaces to create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespaces {
    /// A user namespace with id maps (rootless), or none (run as root).
    pub user: Option<UserNs>,
    /// PID namespace: the workload is PID 1.
    pub pid: bool,
    /// Mount namespace (required for a rootfs).
    pub mount: bool,
    /// UTS namespace (own hostname).
    pub uts: bool,
    /// IPC namespace.
    pub ipc: bool,
    /// Cgroup namespace.
    pub cgroup: bool,
    /// Network namespace setup.
    pub net: Net,
}

impl Namespaces {
    /// Every namespace but user and net (net: `None`, an empty namespace).
    pub fn all() -> Namespaces {
        Namespaces {
            user: None,
            pid: true,
            mount: true,
            uts: true,
            ipc: true,
            cgroup: true,
            net: Net::None,
        }
    }

    /// No namespace at all: a plain process.
    pub fn none() -> Namespaces {
        Namespaces {
            user: None,
            pid: false,
            mount: false,
            uts: false,
            ipc: false,
            cgroup: false,
            net: Net::Host,
        }
    }
}

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

/// Where the workload's root comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    /// The host's filesystem: `entry` is a host path (a plain process).
    Host,
    /// This directory becomes `/` via bind mount and `pivot_root`.
    Dir {
        /// The rootfs directory.
        path: PathBuf,
        /// Bind it read-only.
        readonly: bool,
    },
}

/// Everything the sandbox needs to start one workload.
#[derive(Clone, Debug)]
pub struct Config {
    /// The root filesystem.
    pub root: Root,
    /// The program to run, as seen from inside (`/init`).
    pub entry: PathBuf,
    /// Its arguments (without `argv[0]`).
    pub args: Vec<String>,
    /// Extra environment (`VMLAB_FD` is always added).
    pub env: Vec<(String, String)>,
    /// Namespaces.
    pub ns: Namespaces,
    /// Hostname inside the UTS namespace.
    pub hostname: String,
    /// `/sys` inside.
    pub sys: SysMount,
    /// A tmpfs on `/tmp` (64 MiB, counted against the memory limit).
    pub tmp: bool,
    /// Put the workload in its own cgroup (usage is then read back).
    pub cgroup: bool,
    /// Cgroup limits.
    pub limits: Limits,
    /// Enforce the device allow-list ([`crate::cgroup::devices`]) in the
    /// cgroup; applies whenever there is a cgroup, limits or not. Needs root
    /// (the kernel lets only root set a device policy).
    pub devices: bool,
    /// Mount the rootfs (and every mount below it) `nodev`, so that device
    /// nodes a rootfs ships do not open. Off only in tests that show the
    /// device policy holding as a layer of its own.
    pub rootfs_nodev: bool,
    /// Install the seccomp allow-list ([`crate::seccomp`]).
    pub seccomp: bool,
    /// Reduce capabilities to [`crate::capability::KEPT`].
    pub drop_caps: bool,
    /// Set `no_new_privs`.
    pub no_new_privs: bool,
    /// Apply [`crate::plan::rlimits`].
    pub rlimits: bool,
    /// A session of its own (`setsid`): no controlling terminal, so no
    /// way to type into the caller's (`TIOCSTI`). Otherwise the workload
    /// gets a process group of its own, which is killed when it exits.
    pub new_session: bool,
    /// Kill the workload after this long.
    pub timeout: Duration,
}

impl Config {
    /// A sandbox with everything on: a user namespace (root inside is an
    /// unprivileged id outside, see [`UserNs::rootless`]), pid, mount, uts,
    /// ipc, cgroup and an empty net namespace, a read-only `nosuid,nodev`
    /// rootfs with `/sys` read-only and a tmpfs on `/tmp`, a session of its
    /// own, a cgroup with the default limits ([`Limits::default_for_caller`]),
    /// seccomp, reduced capabilities, `no_new_privs`, rlimits. Real root on
    /// the host (no user namespace) only when `ns.user` is set to `None`.
    pub fn sandbox(rootfs: impl Into<PathBuf>) -> Config {
        Config {
            root: Root::Dir {
                path: rootfs.into(),
                readonly: true,
            },
            entry: PathBuf::from("/init"),
            args: Vec::new(),
            env: Vec::new(),
            ns: Namespaces {
                user: Some(UserNs::rootless()),
                ..Namespaces::all()
            },
            hostname: "vmlab".into(),
            sys: SysMount::ReadOnly,
            tmp: true,
            cgroup: true,
            limits: Limits::default_for_caller(),
            devices: true,
            rootfs_nodev: true,
            seccomp: true,
            drop_caps: true,
            no_new_privs: true,
            rlimits: true,
            new_session: true,
            timeout: Duration::from_secs(30),
        }
    }

    /// A plain process: no namespace, no cgroup, no restriction.
    pub fn process(binary: impl Into<PathBuf>) -> Config {
        Config {
            root: Root::Host,
            entry: binary.into(),
            args: Vec::new(),
            env: Vec::new(),
            ns: Namespaces::none(),
            hostname: String::new(),
            sys: SysMount::Absent,
            tmp: false,
            cgroup: false,
            limits: Limits::default(),
            devices: false,
            rootfs_nodev: false,
            seccomp: false,
            drop_caps: false,
            no_new_privs: false,
            rlimits: false,
            new_session: false,
            timeout: Duration::from_secs(30),
        }
    }

    /// The entry as a host path.
    pub fn entry_on_host(&self) -> PathBuf {
        match &self.root {
            Root::Host => self.entry.clone(),
            Root::Dir { path, .. } => {
                path.join(self.entry.strip_prefix("/").unwrap_or(&self.entry))
            }
        }
    }

    /// Checks the rootfs, the entry and the limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use std::os::unix::fs::PermissionsExt;
        if let Root::Dir { path, .. } = &self.root {
            match std::fs::metadata(path) {
                Err(_) => return Err(ConfigError::MissingRootfs(path.clone())),
                Ok(m) if !m.is_dir() => return Err(ConfigError::RootfsNotDir(path.clone())),
                Ok(_) => {}
            }
        }
        let entry = self.entry_on_host();
        match std::fs::metadata(&entry) {
            Err(_) => return Err(ConfigError::MissingEntry(entry)),
            Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => {
                return Err(ConfigError::EntryNotExecutable(entry))
            }
            Ok(_) => {}
        }
        if let Some(m) = self.limits.memory {
            if m < 4 << 20 {
                return Err(ConfigError::MemoryTooSmall(m));
            }
        }
        if self.limits.pids == Some(0) {
            return Err(ConfigError::PidsZero);
        }
        if let Some(c) = self.limits.cpus {
            if !(c.is_finite() && c > 0.0) {
                return Err(ConfigError::BadCpus(c));
            }
        }
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(ConfigError::BadTimeout(self.timeout));
        }
        if self.limits.any() && !self.cgroup {
            return Err(ConfigError::LimitsWithoutCgroup);
        }
        for s in self
            .args
            .iter()
            .chain(self.env.iter().flat_map(|(k, v)| [k, v]))
        {
            if s.contains('\0') {
                return Err(ConfigError::Nul(s.clone()));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("1g").unwrap(), 1 << 30);
        assert_eq!(parse_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "M", "12X", "-1M", "1.5G", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_limits_are_refused() {
        let dir = std::env::temp_dir();
        let mut c = Config::process("/bin/sh");
        c.cgroup = true;
        c.limits.memory = Some(1024);
        assert!(matches!(c.validate(), Err(ConfigError::MemoryTooSmall(_))));
        c.limits.memory = None;
        c.limits.pids = Some(0);
        assert!(matches!(c.validate(), Err(ConfigError::PidsZero)));
        c.limits.pids = None;
        c.limits.cpus = Some(-1.0);
        assert!(matches!(c.validate(), Err(ConfigError::BadCpus(_))));
        c.limits.cpus = Some(1.0);
        c.timeout = Duration::from_secs(18_446_744_074);
        assert!(matches!(c.validate(), Err(ConfigError::BadTimeout(_))));
        c.timeout = Duration::ZERO;
        assert!(matches!(c.validate(), Err(ConfigError::BadTimeout(_))));
        c.timeout = MAX_TIMEOUT;
        c.cgroup = false;
        assert!(matches!(
            c.validate(),
            Err(ConfigError::LimitsWithoutCgroup)
        ));
        let c = Config::sandbox(dir.join("vmlab-no-such-rootfs"));
        assert!(matches!(c.validate(), Err(ConfigError::MissingRootfs(_))));
    }

    #[test]
    fn entry_must_be_executable() {
        let dir = std::env::temp_dir().join(format!("vmlab-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = Config::sandbox(&dir);
        assert!(matches!(c.validate(), Err(ConfigError::MissingEntry(_))));
        std::fs::write(dir.join("init"), b"x").unwrap();
        assert!(matches!(
            c.validate(),
            Err(ConfigError::EntryNotExecutable(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
