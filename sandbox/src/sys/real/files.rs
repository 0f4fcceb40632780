//! Files and fds: writing, waiting on a pipe, opening beneath a root
//! without following links, creating nodes, duplicating fds.
use std::ffi::CStr;
use std::os::fd::RawFd;

use nix::errno::Errno;

use super::abi::{exist_ok, OpenHow, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};
use crate::sys::raw::sys;

pub(super) fn write_file(path: &CStr, data: &[u8]) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated; the fd is ours and closed below.
    let fd = unsafe {
        sys!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC
        )
    }? as RawFd;
    let r = write_all(fd, data);
    // SAFETY: `fd` was opened above and is not used afterwards.
    let _ = unsafe { sys!(libc::SYS_close, fd) };
    r
}

pub(super) fn wait_byte(fd: RawFd) -> Result<(), Errno> {
    let mut b = 0u8;
    loop {
        // SAFETY: reads at most one byte into `b`, a valid local.
        match unsafe { sys!(libc::SYS_read, fd, &mut b as *mut u8, 1) } {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(Errno::EPIPE),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

pub(super) fn send_byte(fd: RawFd) -> Result<(), Errno> {
    write_all(fd, &[1])
}

pub(super) fn open_dir(path: &CStr) -> Result<RawFd, Errno> {
    // SAFETY: `path` is NUL-terminated; the new fd is returned to the caller.
    unsafe {
        sys!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC
        )
    }
    .map(|fd| fd as RawFd)
}

pub(super) fn open_beneath(dirfd: RawFd, path: &CStr, dir: bool) -> Result<RawFd, Errno> {
    let mut flags = libc::O_PATH | libc::O_CLOEXEC;
    if dir {
        flags |= libc::O_DIRECTORY;
    }
    let how = OpenHow {
        flags: flags as u64,
        mode: 0,
        resolve: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `path` is NUL-terminated and `how` a valid open_how of
    // the size passed; the new fd is returned to the caller.
    unsafe {
        sys!(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>()
        )
    }
    .map(|fd| fd as RawFd)
}

pub(super) fn open_nofollow(path: &CStr) -> Result<RawFd, Errno> {
    // SAFETY: `path` is NUL-terminated; the new fd is returned to the caller.
    unsafe {
        sys!(
            libc::SYS_openat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC
        )
    }
    .map(|fd| fd as RawFd)
}

pub(super) fn mkdir_at(dirfd: RawFd, name: &CStr, mode: u32) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated.
    exist_ok(unsafe { sys!(libc::SYS_mkdirat, dirfd, name.as_ptr(), mode) })
}

pub(super) fn create_at(dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
    // SAFETY: `name` is NUL-terminated; the fd is closed right away.
    let fd = unsafe {
        sys!(
            libc::SYS_openat,
            dirfd,
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o644
        )
    }?;
    // SAFETY: `fd` was just opened.
    let _ = unsafe { sys!(libc::SYS_close, fd) };
    Ok(())
}

pub(super) fn symlink_at(target: &CStr, dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
    // SAFETY: both are NUL-terminated.
    unsafe { sys!(libc::SYS_symlinkat, target.as_ptr(), dirfd, name.as_ptr()) }.map(drop)
}

pub(super) fn fchdir(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: fchdir takes an fd only.
    unsafe { sys!(libc::SYS_fchdir, fd) }.map(drop)
}

pub(super) fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd` and does not use it afterwards.
    let _ = unsafe { sys!(libc::SYS_close, fd) };
}

pub(super) fn chdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: `path` is NUL-terminated.
    unsafe { sys!(libc::SYS_chdir, path.as_ptr()) }.map(drop)
}

pub(super) fn dup2(old: RawFd, new: RawFd) -> Result<(), Errno> {
    // SAFETY: dup3 on fds the parent prepared (never equal: see ChildFds::MIN).
    unsafe { sys!(libc::SYS_dup3, old, new, 0) }.map(drop)
}

pub(super) fn cloexec_from(first: RawFd) -> Result<(), Errno> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags.
    unsafe {
        sys!(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC
        )
    }
    .map(drop)
}

/// `close_range` over every gap between the kept fds, from `first` up.
pub(super) fn close_from_except(first: RawFd, mut keep: [RawFd; 2]) -> Result<(), Errno> {
    keep.sort_unstable();
    let mut lo = first as libc::c_uint;
    for k in keep {
        let k = k as libc::c_uint;
        if k > lo {
            close_range(lo, k - 1)?;
        }
        lo = lo.max(k + 1);
    }
    close_range(lo, libc::c_uint::MAX)
}

fn close_range(first: libc::c_uint, last: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: closes fds of this process's own fd table (the clone does not
    // share it with the parent); nothing in the child uses them after.
    unsafe { sys!(libc::SYS_close_range, first, last, 0) }.map(drop)
}

pub(super) fn write_all(fd: RawFd, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for its length.
        match unsafe { sys!(libc::SYS_write, fd, bytes.as_ptr(), bytes.len()) } {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
