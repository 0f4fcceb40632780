//! The process itself: namespaces, ids, session, hostname, network,
//! limits, signals, and `execve`.
use std::ffi::{c_char, CStr};

use nix::errno::Errno;

use super::abi::KernelSigaction;
use crate::sys::raw::sys;

pub(super) fn unshare(flags: i32) -> Result<(), Errno> {
    // SAFETY: unshare takes flags only.
    unsafe { sys!(libc::SYS_unshare, flags) }.map(drop)
}

pub(super) fn clear_groups() -> Result<(), Errno> {
    // SAFETY: an empty list: size 0, the pointer is not read. (glibc's
    // setgroups would signal the threads it believes this process has.)
    unsafe { sys!(libc::SYS_setgroups, 0, 0) }.map(drop)
}

pub(super) fn set_gid(gid: u32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    unsafe { sys!(libc::SYS_setresgid, gid, gid, gid) }.map(drop)
}

pub(super) fn set_uid(uid: u32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    unsafe { sys!(libc::SYS_setresuid, uid, uid, uid) }.map(drop)
}

pub(super) fn die_with_parent() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    unsafe { sys!(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, libc::SIGKILL) }.map(drop)
}

pub(super) fn setsid() -> Result<(), Errno> {
    // SAFETY: setsid takes no arguments.
    unsafe { sys!(libc::SYS_setsid) }.map(drop)
}

/// The path of the caller's controlling terminal, whatever it is.
const DEV_TTY: &CStr = c"/dev/tty";

/// Opens the controlling terminal (`/dev/tty`); `ENXIO`: there is none.
fn open_controlling_tty() -> Result<i32, Errno> {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: DEV_TTY is a NUL-terminated string that outlives the call.
    unsafe { sys!(libc::SYS_openat, libc::AT_FDCWD, DEV_TTY.as_ptr(), flags) }.map(|fd| fd as i32)
}

pub(super) fn detach_terminal() -> Result<(), Errno> {
    match open_controlling_tty() {
        Err(Errno::ENXIO) => return Ok(()),
        Err(e) => return Err(e),
        Ok(fd) => {
            // SAFETY: `fd` is the open terminal; TIOCNOTTY takes no argument.
            let r = unsafe { sys!(libc::SYS_ioctl, fd, libc::TIOCNOTTY) };
            // SAFETY: closes the fd opened above, used nowhere else.
            let _ = unsafe { sys!(libc::SYS_close, fd) };
            r?;
        }
    }
    // Checked, not assumed: no terminal is reachable any more.
    match open_controlling_tty() {
        Err(Errno::ENXIO) => Ok(()),
        Err(e) => Err(e),
        Ok(fd) => {
            // SAFETY: closes the fd just opened.
            let _ = unsafe { sys!(libc::SYS_close, fd) };
            Err(Errno::EPERM)
        }
    }
}

pub(super) fn own_process_group() -> Result<(), Errno> {
    // SAFETY: setpgid with integer arguments (0, 0: this process).
    unsafe { sys!(libc::SYS_setpgid, 0, 0) }.map(drop)
}

pub(super) fn sethostname(name: &CStr) -> Result<(), Errno> {
    let b = name.to_bytes();
    // SAFETY: `b` is valid for `b.len()` bytes.
    unsafe { sys!(libc::SYS_sethostname, b.as_ptr(), b.len()) }.map(drop)
}

pub(super) fn loopback_up() -> Result<(), Errno> {
    // SAFETY: a plain socket call; the fd is closed below.
    let sock = unsafe {
        sys!(
            libc::SYS_socket,
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0
        )
    }?;
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as c_char;
    }
    // SAFETY: `req` is a valid ifreq naming "lo"; SIOCGIFFLAGS fills the flags.
    let mut r = unsafe {
        sys!(
            libc::SYS_ioctl,
            sock,
            libc::SIOCGIFFLAGS,
            &mut req as *mut libc::ifreq
        )
    };
    if r.is_ok() {
        // SAFETY: the kernel filled `ifru_flags` above.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        // SAFETY: `req` is a valid ifreq; SIOCSIFFLAGS only reads it.
        r = unsafe {
            sys!(
                libc::SYS_ioctl,
                sock,
                libc::SIOCSIFFLAGS,
                &req as *const libc::ifreq
            )
        };
    }
    // SAFETY: `sock` was opened above.
    let _ = unsafe { sys!(libc::SYS_close, sock) };
    r.map(drop)
}

pub(super) fn setrlimit(resource: u32, limit: u64) -> Result<(), Errno> {
    let rl = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: `rl` is a valid rlimit; pid 0 is this process.
    unsafe {
        sys!(
            libc::SYS_prlimit64,
            0,
            resource,
            &rl as *const libc::rlimit,
            0
        )
    }
    .map(drop)
}

pub(super) fn reset_signals() -> Result<(), Errno> {
    let empty: u64 = 0;
    // SAFETY: an 8-byte signal mask, as the kernel expects.
    unsafe {
        sys!(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &empty as *const u64,
            0,
            8
        )
    }?;
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // SAFETY: a valid kernel sigaction; the old one is not asked for.
    unsafe {
        sys!(
            libc::SYS_rt_sigaction,
            libc::SIGPIPE,
            &dfl as *const KernelSigaction,
            0,
            8
        )
    }
    .map(drop)
}

pub(super) fn execve(
    path: &CStr,
    argv: &[*const c_char],
    envp: &[*const c_char],
) -> Result<(), Errno> {
    // SAFETY: both arrays are NULL-terminated arrays of pointers to
    // NUL-terminated strings that the parent built and that outlive this call.
    unsafe {
        sys!(
            libc::SYS_execve,
            path.as_ptr(),
            argv.as_ptr(),
            envp.as_ptr()
        )
    }
    .map(drop)
}

pub(super) fn now() -> u64 {
    crate::sys::monotonic_ns()
}
