//! The native boot-info struct: the one vmlab's VMM writes.

/// "VMLABBI1" as a little-endian u64.
pub const BOOTINFO_MAGIC: u64 = u64::from_le_bytes(*b"VMLABBI1");

/// Guest-physical address of the boot-info struct.
pub const BOOTINFO_GPA: u64 = 0x7000;

/// Longest argument string the guest accepts.
pub const MAX_ARGS: usize = 1024;

/// Boot information for the bare guest (`#[repr(C)]`, shared by VMM and guest).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BootInfo {
    /// [`BOOTINFO_MAGIC`].
    pub magic: u64,
    /// Guest RAM size in bytes.
    pub mem_bytes: u64,
    /// First byte of scratch memory the kernels may use.
    pub free_start: u64,
    /// One past the last byte of scratch memory.
    pub free_end: u64,
    /// TSC frequency in kHz, as KVM reports it (0 if unknown).
    pub tsc_khz: u64,
    /// Guest-physical address of the argument string (UTF-8, space separated).
    pub args_gpa: u64,
    /// Length of the argument string in bytes.
    pub args_len: u64,
}

impl BootInfo {
    /// Whether the magic is right and the fields are consistent.
    pub fn is_valid(&self) -> bool {
        self.magic == BOOTINFO_MAGIC
            && self.free_start <= self.free_end
            && self.free_end <= self.mem_bytes
            && self.args_len as usize <= MAX_ARGS
    }
}
