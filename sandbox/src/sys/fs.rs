//! What the new mount API creates: [`FsSpec`] and the `MOUNT_ATTR_*` bits.

/// A filesystem to create with the new mount API: its type, its `fsconfig`
/// options (a key with a value, or a flag) and the `MOUNT_ATTR_*` bits of
/// its mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsSpec {
    /// `proc`, `tmpfs`, `sysfs`, `devpts`.
    pub fstype: std::ffi::CString,
    /// `(key, Some(value))` or `(flag, None)`.
    pub options: Vec<(std::ffi::CString, Option<std::ffi::CString>)>,
    /// `MOUNT_ATTR_*` bits for `fsmount`.
    pub attrs: u64,
}

/// `MOUNT_ATTR_*` bits (linux/mount.h).
pub mod attr {
    /// Read-only.
    pub const RDONLY: u64 = 0x1;
    /// No set-uid.
    pub const NOSUID: u64 = 0x2;
    /// No device nodes.
    pub const NODEV: u64 = 0x4;
    /// No execution.
    pub const NOEXEC: u64 = 0x8;
}
