//! One workload's configuration, and its checks.
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Limits, Namespaces, SysMount, UserNs, MAX_TIMEOUT};

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

/// One host file bound read-write at a path inside (a disk for the I/O
/// kernels). The launcher opens the host file itself without following a
/// link and refuses anything but a regular file; the inside path is
/// resolved beneath the rootfs without following links, and created there
/// (on `/tmp`'s tmpfs, or a writable rootfs) when missing. The bind is
/// `nosuid,nodev,noexec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileBind {
    /// The host file.
    pub host: PathBuf,
    /// Where it appears inside: an absolute path of plain components.
    pub inside: PathBuf,
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
    /// No controlling terminal (given up with `TIOCNOTTY`, or a session of
    /// its own where that cannot be done), so no way to type into the
    /// caller's (`TIOCSTI`), and a process group of its own. (`setsid`
    /// alone costs milliseconds on a host with scheduler autogroups: each
    /// session gets a task group.) Otherwise the workload
    /// gets a process group of its own, which is killed when it exits.
    pub new_session: bool,
    /// Kill the workload after this long.
    pub timeout: Duration,
    /// Give the workload the caller's own stdin and stdout instead of
    /// `/dev/null` and a captured pipe. A held workload (`--hold`) waits
    /// on its stdin and prints its ready line straight to whoever reads the
    /// caller's stdout, so a driver holding many instances sees each one
    /// ready as it happens and releases it by closing the pipe. Off by
    /// default: nothing of the caller reaches the workload.
    pub pass_stdio: bool,
    /// A host file bound in read-write ([`FileBind`]); needs a rootfs.
    pub bind_file: Option<FileBind>,
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
            pass_stdio: false,
            bind_file: None,
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
            pass_stdio: false,
            bind_file: None,
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
        if let Some(b) = &self.bind_file {
            check_bind(&self.root, b)?;
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

/// The inside path of `b`: absolute, plain components only (no `.`, `..`
/// or `/` alone), and a rootfs to put it in.
fn check_bind(root: &Root, b: &FileBind) -> Result<(), ConfigError> {
    use std::path::Component;
    if *root == Root::Host {
        return Err(ConfigError::BindWithoutRootfs(b.host.clone()));
    }
    let mut parts = b.inside.components();
    let plain = parts.next() == Some(Component::RootDir)
        && parts.clone().next().is_some()
        && parts.all(|c| matches!(c, Component::Normal(_)));
    let nul = b.inside.as_os_str().as_encoded_bytes().contains(&0);
    if !plain || nul {
        return Err(ConfigError::BadBindTarget(b.inside.clone()));
    }
    Ok(())
}
