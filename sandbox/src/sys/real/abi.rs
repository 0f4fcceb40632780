//! The kernel structures and constants the calls pass (linux/capability.h,
//! linux/openat2.h, linux/mount.h, linux/fcntl.h), and a small helper.
use nix::errno::Errno;

pub(super) fn exist_ok(r: Result<usize, Errno>) -> Result<(), Errno> {
    match r {
        Ok(_) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
pub(super) struct CapHeader {
    pub(super) version: u32,
    pub(super) pid: i32,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct CapData {
    pub(super) effective: u32,
    pub(super) permitted: u32,
    pub(super) inheritable: u32,
}

/// The kernel's `struct sigaction` (not libc's).
#[repr(C)]
pub(super) struct KernelSigaction {
    pub(super) handler: usize,
    pub(super) flags: u64,
    pub(super) restorer: usize,
    pub(super) mask: u64,
}

pub(super) const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct open_how` (openat2).
#[repr(C)]
pub(super) struct OpenHow {
    pub(super) flags: u64,
    pub(super) mode: u64,
    pub(super) resolve: u64,
}

/// `struct mount_attr` (mount_setattr).
#[repr(C)]
pub(super) struct MountAttr {
    pub(super) attr_set: u64,
    pub(super) attr_clr: u64,
    pub(super) propagation: u64,
    pub(super) userns_fd: u64,
}

// linux/openat2.h, linux/mount.h, linux/fcntl.h.
pub(super) const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub(super) const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub(super) const RESOLVE_BENEATH: u64 = 0x08;
pub(super) const OPEN_TREE_CLONE: u32 = 1;
pub(super) const AT_RECURSIVE: u32 = 0x8000;
pub(super) const FSOPEN_CLOEXEC: u32 = 1;
pub(super) const FSMOUNT_CLOEXEC: u32 = 1;
pub(super) const FSCONFIG_SET_FLAG: u32 = 0;
pub(super) const FSCONFIG_SET_STRING: u32 = 1;
pub(super) const FSCONFIG_CMD_CREATE: u32 = 6;
pub(super) const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
pub(super) const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
