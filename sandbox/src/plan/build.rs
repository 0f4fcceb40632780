//! Turning a [`Config`] into a [`Plan`]: every path, string, mask and BPF
//! program the child needs, built before the clone.
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::types::{
    ChildFds, DevPlan, Exec, FileMount, Mask, MaskKind, NewMount, Plan, RootPlan, Under,
    MAX_DEV_NODES,
};
use crate::capability::CapPlan;
use crate::config::{Config, ConfigError, Net, Root, SysMount};
use crate::seccomp::{self, SeccompError};
use crate::sys::{attr, FsSpec};

/// A plan could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The seccomp program did not compile.
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
}

/// Host device nodes bound into `/dev`. Not `tty`: the caller's terminal
/// stays outside (the workload also gets a session of its own).
pub const DEV_NODES: &[&str] = &["null", "zero", "full", "random", "urandom"];

/// OCI default masked paths.
pub const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// OCI default read-only paths.
pub const READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The rlimits set inside: no core dumps, at most 1024 open files (or the
/// current hard limit if lower).
pub fn rlimits() -> Vec<(u32, u64)> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid out-parameter.
    let hard = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
        rl.rlim_max
    } else {
        1024
    };
    vec![
        (libc::RLIMIT_CORE, 0),
        (libc::RLIMIT_NOFILE, hard.min(1024)),
    ]
}

fn cstr(b: impl AsRef<[u8]>) -> Result<CString, ConfigError> {
    let b = b.as_ref();
    CString::new(b).map_err(|_| ConfigError::Nul(String::from_utf8_lossy(b).into_owned()))
}

fn path(p: &Path) -> Result<CString, ConfigError> {
    cstr(p.as_os_str().as_bytes())
}

fn fs(fstype: &str, options: &[(&str, Option<&str>)], attrs: u64) -> Result<FsSpec, ConfigError> {
    Ok(FsSpec {
        fstype: cstr(fstype)?,
        options: options
            .iter()
            .map(|(k, v)| Ok((cstr(k)?, v.map(cstr).transpose()?)))
            .collect::<Result<_, ConfigError>>()?,
        attrs,
    })
}

fn new_mount(name: &str, fs: FsSpec, magic: i64) -> Result<NewMount, ConfigError> {
    Ok(NewMount {
        name: cstr(name)?,
        fs,
        magic,
    })
}

/// Filesystems a sandbox's mounts are made noexec, nosuid and nodev with.
const HARDENED: u64 = attr::NOSUID | attr::NODEV | attr::NOEXEC;
/// The size of each tmpfs.
const TMPFS_SIZE: Option<&str> = Some("65536k");

/// The mounts, device nodes and masks for a rootfs at `dir`.
fn root_plan(
    dir: &Path,
    readonly: bool,
    nodev: bool,
    sys: SysMount,
    tmp: bool,
) -> Result<RootPlan, ConfigError> {
    let (hardened, size) = (HARDENED, TMPFS_SIZE);
    let proc = new_mount("proc", fs("proc", &[], hardened)?, libc::PROC_SUPER_MAGIC)?;
    let dev = dev_plan()?;
    let sys_mount = match sys {
        SysMount::Absent => None,
        SysMount::ReadOnly => Some(new_mount(
            "sys",
            fs("sysfs", &[], attr::RDONLY | hardened)?,
            libc::SYSFS_MAGIC,
        )?),
    };
    let tmp_mount = if tmp {
        Some(new_mount(
            "tmp",
            fs(
                "tmpfs",
                &[("mode", Some("1777")), ("size", size)],
                attr::NOSUID | attr::NODEV,
            )?,
            libc::TMPFS_MAGIC,
        )?)
    } else {
        None
    };
    let masks = masks(sys)?;
    let mut attrs = attr::NOSUID;
    if nodev {
        attrs |= attr::NODEV;
    }
    if readonly {
        attrs |= attr::RDONLY;
    }
    Ok(RootPlan {
        dir: path(dir)?,
        attrs,
        proc,
        dev,
        sys: sys_mount,
        tmp: tmp_mount,
        file: None,
        masks,
        empty: fs("tmpfs", &[("size", Some("4k"))], attr::RDONLY | hardened)?,
    })
}

/// Where a file bind of `host` goes: `inside` (checked by [`Config::validate`] to be
/// absolute with plain components) split into its directory and name.
fn file_mount(host: &Path, inside: &Path) -> Result<FileMount, ConfigError> {
    let rel = inside.strip_prefix("/").unwrap_or(inside);
    let dir = match rel.parent() {
        Some(d) if !d.as_os_str().is_empty() => path(d)?,
        _ => cstr(".")?,
    };
    let name = rel.file_name().map(Path::new).unwrap_or(rel);
    Ok(FileMount {
        fd: -1,
        host: path(host)?,
        id: (0, 0),
        dir,
        name: path(name)?,
        path: path(rel)?,
    })
}

/// The minimal `/dev`: a tmpfs with the host's nodes bound in, a private
/// devpts, `/dev/shm`, and the usual links.
fn dev_plan() -> Result<DevPlan, ConfigError> {
    let (hardened, size) = (HARDENED, TMPFS_SIZE);
    let mut nodes = Vec::new();
    for node in DEV_NODES.iter().take(MAX_DEV_NODES) {
        nodes.push((cstr(format!("/dev/{node}"))?, cstr(node)?));
    }
    let mut links = vec![(cstr("pts/ptmx")?, cstr("ptmx")?)];
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        links.push((cstr(target)?, cstr(name)?));
    }
    Ok(DevPlan {
        // nodev: the only device nodes that open are the host's, bound in
        // as mounts of their own.
        mount: new_mount(
            "dev",
            fs("tmpfs", &[("mode", Some("755")), ("size", size)], hardened)?,
            libc::TMPFS_MAGIC,
        )?,
        nodes,
        pts: new_mount(
            "pts",
            fs(
                "devpts",
                &[
                    ("newinstance", None),
                    ("ptmxmode", Some("0666")),
                    ("mode", Some("0620")),
                ],
                attr::NOSUID | attr::NOEXEC,
            )?,
            libc::DEVPTS_SUPER_MAGIC,
        )?,
        shm: new_mount(
            "shm",
            fs("tmpfs", &[("mode", Some("1777")), ("size", size)], hardened)?,
            libc::TMPFS_MAGIC,
        )?,
        links,
    })
}

/// The OCI masked and read-only paths this host has (without `/sys` when
/// there is none inside).
fn masks(sys: SysMount) -> Result<Vec<Mask>, ConfigError> {
    let mut masks = Vec::new();
    let under = |p: &str| -> Option<(Under, String)> {
        if let Some(rest) = p.strip_prefix("/proc/") {
            Some((Under::Proc, rest.to_string()))
        } else {
            p.strip_prefix("/sys/")
                .map(|rest| (Under::Sys, rest.to_string()))
        }
    };
    for p in MASKED {
        if sys == SysMount::Absent && p.starts_with("/sys/") {
            continue;
        }
        // The same kernel serves /proc and /sys inside: skip what the host
        // does not have; inside, a mask that cannot be applied is an error.
        if let (Ok(m), Some((under, rest))) = (Path::new(p).symlink_metadata(), under(p)) {
            masks.push(Mask {
                under,
                path: cstr(rest)?,
                kind: MaskKind::Hide { dir: m.is_dir() },
            });
        }
    }
    for p in READONLY {
        if let (Ok(_), Some((under, rest))) = (Path::new(p).symlink_metadata(), under(p)) {
            masks.push(Mask {
                under,
                path: cstr(rest)?,
                kind: MaskKind::ReadOnly,
            });
        }
    }
    Ok(masks)
}

/// The seccomp program, compiled once per process.
fn cached_seccomp() -> Result<seccompiler::BpfProgram, SeccompError> {
    static PROGRAM: std::sync::OnceLock<seccompiler::BpfProgram> = std::sync::OnceLock::new();
    if let Some(p) = PROGRAM.get() {
        return Ok(p.clone());
    }
    let p = seccomp::program()?;
    Ok(PROGRAM.get_or_init(|| p).clone())
}

/// The capability plan, computed once per process.
fn cached_caps() -> CapPlan {
    static CAPS: std::sync::OnceLock<CapPlan> = std::sync::OnceLock::new();
    CAPS.get_or_init(CapPlan::new).clone()
}

/// Namespace flags for `clone3`.
pub fn clone_flags(config: &Config, cgroup_ns_at_clone: bool) -> u64 {
    let ns = &config.ns;
    let mut f = 0u64;
    for (on, flag) in [
        (ns.user.is_some(), libc::CLONE_NEWUSER),
        (ns.pid, libc::CLONE_NEWPID),
        (ns.mount, libc::CLONE_NEWNS),
        (ns.uts, libc::CLONE_NEWUTS),
        (ns.ipc, libc::CLONE_NEWIPC),
        (ns.net != Net::Host, libc::CLONE_NEWNET),
        (ns.cgroup && cgroup_ns_at_clone, libc::CLONE_NEWCGROUP),
    ] {
        if on {
            f |= flag as u64;
        }
    }
    f
}

/// The root plan of `config`, its file bind included.
fn root_of(config: &Config) -> Result<Option<RootPlan>, ConfigError> {
    let Root::Dir { path, readonly } = &config.root else {
        return Ok(None);
    };
    let mut root = root_plan(path, *readonly, config.rootfs_nodev, config.sys, config.tmp)?;
    if let Some(b) = &config.bind_file {
        root.file = Some(file_mount(&b.host, &b.inside)?);
    }
    Ok(Some(root))
}

/// Builds the child's plan. `cgroup_ns_at_clone`: the cgroup namespace is
/// created by `clone3` itself (the child is born in its cgroup).
/// `cgroup_tasks`: the v1 `tasks` files the child moves itself into.
pub fn build(
    config: &Config,
    fds: ChildFds,
    cgroup_ns_at_clone: bool,
    cgroup_tasks: Vec<CString>,
) -> Result<Plan, PlanError> {
    config.validate()?;
    let root = root_of(config)?;
    let entry = match &config.root {
        Root::Host => config.entry.clone(),
        Root::Dir { .. } => Path::new("/").join(&config.entry),
    };
    let mut argv = vec![path(&entry)?];
    for a in &config.args {
        argv.push(cstr(a)?);
    }
    let mut env = vec![
        cstr(format!(
            "{}={}",
            vmlab_workload::protocol::FD_ENV,
            ChildFds::PROTO
        ))?,
        cstr("PATH=/bin:/sbin:/usr/bin")?,
        cstr("HOME=/")?,
    ];
    for (k, v) in &config.env {
        env.push(cstr(format!("{k}={v}"))?);
    }
    let euid = nix::unistd::geteuid().as_raw();
    Ok(Plan {
        sync: config.ns.user.is_some(),
        cgroup_tasks,
        user: config.ns.user,
        // setgroups needs CAP_SETGID over the parent namespace: root only.
        setgroups: euid == 0,
        unshare_cgroup: config.ns.cgroup && !cgroup_ns_at_clone,
        root,
        hostname: if config.ns.uts {
            Some(cstr(&config.hostname)?)
        } else {
            None
        },
        loopback: config.ns.net == Net::Loopback,
        new_session: config.new_session,
        own_group: !config.new_session,
        rlimits: if config.rlimits {
            let mut r = rlimits();
            // A caller without root has no cgroup to bound tasks unless one
            // was delegated: bound its user's processes instead.
            if euid != 0 && (config.limits.pids.is_none() || !config.cgroup) {
                r.push((libc::RLIMIT_NPROC, crate::config::DEFAULT_PIDS));
            }
            r
        } else {
            Vec::new()
        },
        caps: config.drop_caps.then(cached_caps),
        no_new_privs: config.no_new_privs,
        seccomp: if config.seccomp {
            Some(cached_seccomp()?)
        } else {
            None
        },
        park: false,
        fds,
        exec: Exec::new(path(&entry)?, argv, env),
    })
}
