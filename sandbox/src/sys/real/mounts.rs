//! Mounts: the old and the new mount API, and checking a mount.
use std::ffi::CStr;
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::abi::{
    MountAttr, AT_RECURSIVE, FSCONFIG_CMD_CREATE, FSCONFIG_SET_FLAG, FSCONFIG_SET_STRING,
    FSMOUNT_CLOEXEC, FSOPEN_CLOEXEC, MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_T_EMPTY_PATH,
    OPEN_TREE_CLONE,
};
use crate::sys::raw::sys;
use crate::sys::FsSpec;

/// `mount(NULL, target, NULL, flags, NULL)`: a propagation change only.
pub(super) fn set_propagation(target: &CStr, flags: MsFlags) -> Result<(), Errno> {
    // SAFETY: `target` is NUL-terminated; the source, type and data are null.
    unsafe { sys!(libc::SYS_mount, 0, target.as_ptr(), 0, flags.bits(), 0) }.map(drop)
}

pub(super) fn detach(target: &CStr) -> Result<(), Errno> {
    // SAFETY: `target` is NUL-terminated.
    unsafe { sys!(libc::SYS_umount2, target.as_ptr(), libc::MNT_DETACH) }.map(drop)
}

pub(super) fn clone_tree(dirfd: RawFd, path: &CStr, recursive: bool) -> Result<RawFd, Errno> {
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_SYMLINK_NOFOLLOW as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    if path.is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    // SAFETY: `path` is NUL-terminated; the new fd is returned to the caller.
    unsafe { sys!(libc::SYS_open_tree, dirfd, path.as_ptr(), flags) }.map(|fd| fd as RawFd)
}

pub(super) fn new_fs(fs: &FsSpec) -> Result<RawFd, Errno> {
    // SAFETY: `fstype` is NUL-terminated; the fd is closed below.
    let ctx = unsafe { sys!(libc::SYS_fsopen, fs.fstype.as_ptr(), FSOPEN_CLOEXEC) }? as RawFd;
    let configured = (|| {
        for (key, value) in &fs.options {
            let (cmd, v) = match value {
                Some(v) => (FSCONFIG_SET_STRING, v.as_ptr() as usize),
                None => (FSCONFIG_SET_FLAG, 0),
            };
            // SAFETY: `key` (and `value`, if any) are NUL-terminated.
            unsafe { sys!(libc::SYS_fsconfig, ctx, cmd, key.as_ptr(), v, 0) }?;
        }
        // SAFETY: a command without arguments on our context fd.
        unsafe { sys!(libc::SYS_fsconfig, ctx, FSCONFIG_CMD_CREATE, 0, 0, 0) }?;
        // SAFETY: creates a detached mount of the context's superblock.
        unsafe { sys!(libc::SYS_fsmount, ctx, FSMOUNT_CLOEXEC, fs.attrs) }
    })();
    // SAFETY: `ctx` was opened above and is not used afterwards.
    let _ = unsafe { sys!(libc::SYS_close, ctx) };
    configured.map(|fd| fd as RawFd)
}

pub(super) fn move_mount(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: two fds and empty, NUL-terminated paths.
    unsafe {
        sys!(
            libc::SYS_move_mount,
            from,
            c"".as_ptr(),
            to,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
        )
    }
    .map(drop)
}

pub(super) fn set_mount_attrs(fd: RawFd, attrs: u64, recursive: bool) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let mut flags = libc::AT_EMPTY_PATH as u32;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: an empty path on our fd and a valid mount_attr of the size passed.
    unsafe {
        sys!(
            libc::SYS_mount_setattr,
            fd,
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>()
        )
    }
    .map(drop)
}

pub(super) fn fs_magic(fd: RawFd) -> Result<i64, Errno> {
    // SAFETY: statfs is plain data; all zeroes is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable statfs.
    unsafe { sys!(libc::SYS_fstatfs, fd, &mut st as *mut libc::statfs) }?;
    Ok(st.f_type)
}

pub(super) fn mount_id(fd: RawFd) -> Result<u64, Errno> {
    // SAFETY: statx is plain data; all zeroes is a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: an empty path on our fd; `st` is a valid, writable statx.
    unsafe {
        sys!(
            libc::SYS_statx,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_MNT_ID,
            &mut st as *mut libc::statx
        )
    }?;
    if st.stx_mask & libc::STATX_MNT_ID == 0 {
        return Err(Errno::ENOSYS);
    }
    Ok(st.stx_mnt_id)
}

pub(super) fn file_id(fd: RawFd) -> Result<(u64, u64), Errno> {
    // SAFETY: statx is plain data; all zeroes is a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: an empty path on our fd; `st` is a valid, writable statx.
    unsafe {
        sys!(
            libc::SYS_statx,
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_INO,
            &mut st as *mut libc::statx
        )
    }?;
    let dev = (u64::from(st.stx_dev_major) << 32) | u64::from(st.stx_dev_minor);
    Ok((dev, st.stx_ino))
}

pub(super) fn pivot_root(new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
    // SAFETY: both are NUL-terminated.
    unsafe { sys!(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) }.map(drop)
}
