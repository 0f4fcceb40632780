//! Jailing the calling process: the steps of the module documentation.
use std::os::fd::RawFd;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Pid, Uid};

use super::child::ORPHANED;
use super::error::{step, Error};
use super::{seccomp, sys};

/// The uid and gid a VMM started by root runs as on the host.
pub const NOBODY: u32 = 65534;

/// Where the empty root is mounted before `pivot_root` (in the VMM's own
/// mount namespace; the host's `/tmp` is not touched).
pub const NEW_ROOT_AT: &str = "/tmp";

/// The ids the jailed VMM runs as on the host: 65534 when started by root,
/// else the caller's own.
fn host_ids() -> (Uid, Gid) {
    if Uid::effective().is_root() {
        (Uid::from_raw(NOBODY), Gid::from_raw(NOBODY))
    } else {
        (Uid::effective(), Gid::effective())
    }
}

/// Moves the calling (single-threaded) process into a cgroup by writing
/// `0` to each of its control files.
pub(crate) fn join_cgroup(files: &[std::path::PathBuf]) -> Result<(), Error> {
    for file in files {
        std::fs::write(file, "0").map_err(|source| Error::Cgroup {
            file: file.clone(),
            source,
        })?;
    }
    Ok(())
}

fn write_proc(file: &'static str, text: &str) -> Result<(), Error> {
    std::fs::write(file, text).map_err(|source| Error::IdMap { file, source })
}

fn clear_caps() -> Result<(), Error> {
    use caps::CapSet;
    // Every capability the kernel knows, up to the first it does not (one
    // prctl each: no file to read, the root is empty by now).
    for cap in 0..=63 {
        match sys::drop_bounding(cap) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(Error::Caps {
                    set: "bounding",
                    message: e.to_string(),
                })
            }
        }
    }
    for (set, name) in [
        (CapSet::Ambient, "ambient"),
        (CapSet::Inheritable, "inheritable"),
        (CapSet::Permitted, "permitted and effective"),
    ] {
        caps::clear(None, set).map_err(|e| Error::Caps {
            set: name,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

/// Jails the calling process (the forked VMM, single-threaded, after
/// setup): see the module documentation for the steps. `keep` are the fds
/// it still needs besides stdio and `report`; `parent` is the process that
/// waits for it; `hold_fd` is its hold gate's fd, which it may read;
/// `devices` are its virtio devices' fds (kept, and their I/O allowed).
pub(crate) fn enter(
    keep: &[RawFd],
    report: RawFd,
    parent: Pid,
    hold_fd: Option<RawFd>,
    devices: &seccomp::DeviceFds,
) -> Result<(), Error> {
    let mut fds = keep.to_vec();
    fds.extend(devices.all());
    fds.push(report);
    sys::close_fds_except(&fds).map_err(|e| Error::Step {
        step: "close inherited fds",
        source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
    })?;
    let program = seccomp::program(&seccomp::Context {
        report_fd: report,
        hold_fd,
        devices: devices.clone(),
    })?;

    let (uid, gid) = host_ids();
    if Uid::effective().is_root() {
        nix::unistd::setgroups(&[]).map_err(step("drop supplementary groups"))?;
        nix::unistd::setresgid(gid, gid, gid).map_err(step("drop to gid 65534"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(step("drop to uid 65534"))?;
    } else {
        nix::unistd::setresgid(gid, gid, gid).map_err(step("set its gid"))?;
        nix::unistd::setresuid(uid, uid, uid).map_err(step("set its uid"))?;
    }
    unshare(CloneFlags::CLONE_NEWUSER).map_err(step(
        "create a user namespace (are user namespaces disabled? see user.max_user_namespaces)",
    ))?;
    // Changing ids made the process non-dumpable, which makes its /proc
    // files root's; writing its own maps needs them its own.
    nix::sys::prctl::set_dumpable(true).map_err(step("become dumpable to write its id maps"))?;
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc("/proc/self/uid_map", &format!("0 {uid} 1"))?;
    write_proc("/proc/self/gid_map", &format!("0 {gid} 1"))?;
    nix::sys::prctl::set_dumpable(false).map_err(step("become non-dumpable"))?;

    unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWCGROUP,
    )
    .map_err(step(
        "create its mount, ipc, uts, network and cgroup namespaces",
    ))?;

    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(step("make its mounts private"))?;
    let sealed = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(
        Some("tmpfs"),
        NEW_ROOT_AT,
        Some("tmpfs"),
        sealed,
        Some("size=4k,nr_inodes=4,mode=0555"),
    )
    .map_err(step("mount its empty root (a tmpfs on /tmp)"))?;
    nix::unistd::chdir(NEW_ROOT_AT).map_err(step("enter its empty root"))?;
    match nix::unistd::pivot_root(".", ".") {
        Ok(()) => {
            umount2(".", MntFlags::MNT_DETACH).map_err(step("detach the host's root"))?;
        }
        // The host's root is the initramfs (rootfs), which cannot be
        // pivoted away: move the empty root over it and chroot instead
        // (leaving a chroot needs CAP_SYS_CHROOT and calls the filter kills).
        Err(nix::Error::EINVAL) => {
            mount(Some("."), "/", none, MsFlags::MS_MOVE, none)
                .map_err(step("move its empty root over the initramfs"))?;
            nix::unistd::chroot(".").map_err(step("chroot into its empty root"))?;
        }
        Err(e) => return Err(step("pivot_root into its empty root")(e)),
    }
    nix::unistd::chdir("/").map_err(step("enter its empty root"))?;
    mount(
        none,
        "/",
        none,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | sealed,
        none,
    )
    .map_err(step("make its root read-only"))?;

    clear_caps()?;
    nix::sys::prctl::set_no_new_privs().map_err(step("set no_new_privs"))?;
    // Changing ids cleared the parent-death signal: set it again, and make
    // sure the parent did not die before.
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(step("set its parent-death signal"))?;
    if nix::unistd::getppid() != parent {
        sys::exit_now(ORPHANED);
    }
    seccomp::install(&program)?;
    Ok(())
}
