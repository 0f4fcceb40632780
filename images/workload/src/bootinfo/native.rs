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

/// "VMLABVT1" as a little-endian u64: the virtio device table's magic.
pub const VIRTIO_TABLE_MAGIC: u64 = u64::from_le_bytes(*b"VMLABVT1");

/// Guest-physical address of the [`VirtioTable`]: in the boot-info page,
/// after the longest argument string. A VMM without devices (or another
/// VMM's boot protocol) leaves it zero, so the magic does not match and the
/// guest sees no devices.
pub const VIRTIO_TABLE_GPA: u64 = BOOTINFO_GPA + 0x800;

/// Most devices the table lists.
pub const MAX_VIRTIO: usize = 8;

/// [`VirtioTable::flags`]: the guest should run its device self-test (read,
/// write and flush sectors on each virtio-blk device, echo frames on each
/// virtio-net device) instead of the kernels. A test hook of the VMM's KVM
/// tests; the workload's own kernels never set it.
pub const VIRTIO_FLAG_SELFTEST: u32 = 1;

/// One virtio-mmio device as the VMM announces it to the bare guest.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioEntry {
    /// Guest-physical address of its registers (identity mapped, uncached).
    pub mmio_base: u64,
    /// Bytes of register space.
    pub mmio_size: u64,
    /// Its interrupt line (the bare guest polls and need not use it).
    pub irq: u32,
    /// The virtio device id (1 net, 2 block).
    pub device_id: u32,
}

/// The virtio device table at [`VIRTIO_TABLE_GPA`] (`#[repr(C)]`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioTable {
    /// [`VIRTIO_TABLE_MAGIC`].
    pub magic: u64,
    /// Entries in use.
    pub count: u32,
    /// `VIRTIO_FLAG_*` bits.
    pub flags: u32,
    /// The devices; the first `count` are valid.
    pub entries: [VirtioEntry; MAX_VIRTIO],
}

impl VirtioTable {
    /// The devices, or none when the magic or count is wrong.
    pub fn devices(&self) -> &[VirtioEntry] {
        if self.magic == VIRTIO_TABLE_MAGIC && self.count as usize <= MAX_VIRTIO {
            &self.entries[..self.count as usize]
        } else {
            &[]
        }
    }

    /// The table as bytes, little-endian (what the VMM writes).
    pub fn to_bytes(&self) -> [u8; core::mem::size_of::<VirtioTable>()] {
        let mut out = [0u8; core::mem::size_of::<VirtioTable>()];
        out[0..8].copy_from_slice(&self.magic.to_le_bytes());
        out[8..12].copy_from_slice(&self.count.to_le_bytes());
        out[12..16].copy_from_slice(&self.flags.to_le_bytes());
        for (chunk, e) in out[16..].chunks_exact_mut(24).zip(&self.entries) {
            chunk[0..8].copy_from_slice(&e.mmio_base.to_le_bytes());
            chunk[8..16].copy_from_slice(&e.mmio_size.to_le_bytes());
            chunk[16..20].copy_from_slice(&e.irq.to_le_bytes());
            chunk[20..24].copy_from_slice(&e.device_id.to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod virtio_table_tests {
    use super::*;

    #[test]
    fn table_fits_the_boot_info_page_after_the_arguments() {
        let args_end = BOOTINFO_GPA + core::mem::size_of::<BootInfo>() as u64 + MAX_ARGS as u64;
        assert!(args_end <= VIRTIO_TABLE_GPA);
        let end = VIRTIO_TABLE_GPA + core::mem::size_of::<VirtioTable>() as u64;
        assert!(end <= BOOTINFO_GPA + 0x1000);
        assert_eq!(core::mem::size_of::<VirtioEntry>(), 24);
    }

    #[test]
    fn bytes_match_the_repr_c_layout_and_bad_tables_list_nothing() {
        let mut t = VirtioTable {
            magic: VIRTIO_TABLE_MAGIC,
            count: 1,
            flags: VIRTIO_FLAG_SELFTEST,
            ..Default::default()
        };
        t.entries[0] = VirtioEntry {
            mmio_base: 0xd000_0000,
            mmio_size: 0x1000,
            irq: 5,
            device_id: 2,
        };
        let b = t.to_bytes();
        assert_eq!(&b[16..24], &0xd000_0000u64.to_le_bytes());
        assert_eq!(&b[24..32], &0x1000u64.to_le_bytes());
        assert_eq!(&b[32..36], &5u32.to_le_bytes());
        assert_eq!(&b[36..40], &2u32.to_le_bytes());
        assert_eq!(core::mem::offset_of!(VirtioTable, entries), 16);
        assert_eq!(core::mem::offset_of!(VirtioEntry, irq), 16);
        assert_eq!(b.len(), core::mem::size_of::<VirtioTable>());
        assert_eq!(t.devices().len(), 1);
        t.count = 9;
        assert!(t.devices().is_empty());
        assert!(VirtioTable::default().devices().is_empty());
    }
}
