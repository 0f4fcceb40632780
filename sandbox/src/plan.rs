//! Turning a [`Config`] into a [`Plan`]: every path, string, mask and BPF
//! program the child needs, built before the clone.
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::mount::MsFlags;

use crate::capability::CapPlan;
use crate::config::{Config, ConfigError, Net, Root, SysMount};
use crate::seccomp::{self, SeccompError};
use crate::step::{ChildFds, Exec, Op, Plan, RootPlan};

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

/// Host device nodes bound into `/dev`.
pub const DEV_NODES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

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

fn mount(
    src: &str,
    target: CString,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<Op, ConfigError> {
    Ok(Op::Mount {
        src: Some(cstr(src)?),
        target,
        fstype: fstype.map(cstr).transpose()?,
        flags,
        data: data.map(cstr).transpose()?,
    })
}

/// The `/proc`, `/dev`, `/sys` and mask operations for a rootfs at `dir`.
fn root_plan(
    dir: &Path,
    readonly: bool,
    sys: SysMount,
    tmp: bool,
) -> Result<RootPlan, ConfigError> {
    let under = |rel: &str| path(&dir.join(rel));
    let nosuid_nodev_noexec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let proc = vec![
        Op::Mkdir(under("proc")?, 0o555),
        mount(
            "proc",
            under("proc")?,
            Some("proc"),
            nosuid_nodev_noexec,
            None,
        )?,
    ];
    let mut dev = vec![
        Op::Mkdir(under("dev")?, 0o755),
        mount(
            "tmpfs",
            under("dev")?,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("mode=755,size=65536k"),
        )?,
    ];
    for node in DEV_NODES {
        let target = under(&format!("dev/{node}"))?;
        dev.push(Op::Touch(target.clone()));
        dev.push(mount(
            &format!("/dev/{node}"),
            target,
            None,
            MsFlags::MS_BIND,
            None,
        )?);
    }
    dev.extend([
        Op::Mkdir(under("dev/pts")?, 0o755),
        mount(
            "devpts",
            under("dev/pts")?,
            Some("devpts"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        )?,
        Op::Symlink(cstr("pts/ptmx")?, under("dev/ptmx")?),
        Op::Mkdir(under("dev/shm")?, 0o1777),
        mount(
            "shm",
            under("dev/shm")?,
            Some("tmpfs"),
            nosuid_nodev_noexec,
            Some("mode=1777,size=65536k"),
        )?,
    ]);
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        dev.push(Op::Symlink(cstr(target)?, under(&format!("dev/{name}"))?));
    }
    let sys_ops = match sys {
        SysMount::Absent => Vec::new(),
        SysMount::ReadOnly => vec![
            Op::Mkdir(under("sys")?, 0o555),
            mount(
                "sysfs",
                under("sys")?,
                Some("sysfs"),
                MsFlags::MS_RDONLY | nosuid_nodev_noexec,
                None,
            )?,
        ],
    };
    let tmp_ops = if tmp {
        vec![
            Op::Mkdir(under("tmp")?, 0o1777),
            mount(
                "tmpfs",
                under("tmp")?,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=1777,size=65536k"),
            )?,
        ]
    } else {
        Vec::new()
    };
    let mut masks = Vec::new();
    for p in MASKED {
        if sys == SysMount::Absent && p.starts_with("/sys/") {
            continue;
        }
        // The same kernel serves /proc and /sys inside: skip what the host
        // does not have.
        if let Ok(m) = Path::new(p).symlink_metadata() {
            masks.push(Op::Mask(cstr(p)?, m.is_dir()));
        }
    }
    for p in READONLY {
        if Path::new(p).symlink_metadata().is_ok() {
            masks.push(Op::ReadOnly(cstr(p)?));
        }
    }
    let readonly = if readonly {
        Some(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(dir))
    } else {
        None
    };
    Ok(RootPlan {
        dir: path(dir)?,
        proc,
        dev,
        sys: sys_ops,
        tmp: tmp_ops,
        masks,
        readonly,
    })
}

/// The flags of the mount holding `dir` that a user namespace may not clear
/// on a bind remount.
fn locked_flags(dir: &Path) -> MsFlags {
    let Ok(st) = nix::sys::statvfs::statvfs(dir) else {
        return MsFlags::empty();
    };
    use nix::sys::statvfs::FsFlags;
    let f = st.flags();
    let mut m = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            m |= ms;
        }
    }
    m
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
    let root = match &config.root {
        Root::Host => None,
        Root::Dir { path, readonly } => Some(root_plan(path, *readonly, config.sys, config.tmp)?),
    };
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
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
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
        rlimits: if config.rlimits {
            rlimits()
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
        fds,
        exec: Exec::new(path(&entry)?, argv, env),
    })
}
