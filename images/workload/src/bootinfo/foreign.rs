//! Boot information in the protocols other VMMs speak, read into a
//! [`BootInfo`] so the bare guest runs the same way whoever booted it:
//!
//! - **PVH** (`hvm_start_info`, Xen's `start_info.h`; QEMU's `-kernel` on
//!   `microvm` and `pc`, Firecracker and Cloud Hypervisor for an ELF with a
//!   PVH note): `ebx` points at the struct; memory comes from its memory map
//!   (version 1 and later), arguments from `cmdline_paddr`.
//! - **Linux 64-bit boot protocol** (`boot_params`, the "zero page"; what
//!   Firecracker and Cloud Hypervisor use for an ELF without a PVH note):
//!   `rsi` points at it; memory comes from its e820 table, arguments from
//!   `hdr.cmd_line_ptr` (and `ext_cmd_line_ptr` above 4 GiB).
//!
//! Both are read through [`PhysMem`], so the parsers are tested against
//! hand-built structures on the host. The scratch range handed to the
//! kernels is the usable RAM region that holds the end of the guest image,
//! from the first page after the image (and after the argument string, if
//! that lies in the same region) to the region's end, below 4 GiB (the bare
//! guest maps no more).
use super::{BootInfo, BOOTINFO_MAGIC, MAX_ARGS};

/// Guest-physical memory, as the parsers read it.
pub trait PhysMem {
    /// Fills `buf` from `gpa`; false when any of it is outside guest RAM.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> bool;
}

/// `hvm_start_info.magic`.
pub const PVH_MAGIC: u32 = 0x336e_c578;
/// e820 / PVH memory-map type of usable RAM.
pub const RAM: u32 = 1;
/// Entries in `boot_params.e820_table`.
pub const E820_MAX: usize = 128;
/// The bare guest maps guest memory below this.
pub const MAPPED_LIMIT: u64 = 1 << 32;

const PAGE: u64 = 4096;

// Offsets in `boot_params` (Linux's Documentation/arch/x86/zero-page.rst).
const BP_EXT_CMD_LINE_PTR: u64 = 0x0c8;
const BP_E820_ENTRIES: u64 = 0x1e8;
const BP_BOOT_FLAG: u64 = 0x1fe;
const BP_CMD_LINE_PTR: u64 = 0x228;
const BP_E820_TABLE: u64 = 0x2d0;
const E820_ENTRY: u64 = 20;
const BOOT_FLAG: u16 = 0xaa55;

// Offsets in `hvm_start_info` and its memory-map entries.
const SI_VERSION: u64 = 4;
const SI_CMDLINE: u64 = 24;
const SI_MEMMAP: u64 = 40;
const SI_MEMMAP_ENTRIES: u64 = 48;
const MEMMAP_ENTRY: u64 = 24;
/// More entries than any VMM writes: a larger count is corrupt.
const MEMMAP_MAX: u32 = 128;

/// Why boot information was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// A structure lies outside guest RAM.
    Unreadable(&'static str),
    /// `hvm_start_info.magic` is wrong.
    BadMagic(u32),
    /// `boot_params.hdr.boot_flag` is not 0xAA55.
    BadBootFlag(u16),
    /// A version 0 `hvm_start_info`, which has no memory map.
    NoMemoryMap,
    /// More memory-map entries than any VMM writes.
    TooManyEntries(u32),
    /// No usable RAM region holds the guest image's end.
    NoRamForImage,
    /// The argument string is longer than [`MAX_ARGS`] or unterminated.
    ArgsTooLong,
}

/// One usable or reserved region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    start: u64,
    len: u64,
    kind: u32,
}

impl Region {
    fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

fn read_u8(mem: &impl PhysMem, gpa: u64, what: &'static str) -> Result<u8, Error> {
    let mut b = [0u8; 1];
    mem.read(gpa, &mut b)
        .then_some(b[0])
        .ok_or(Error::Unreadable(what))
}

fn read_u16(mem: &impl PhysMem, gpa: u64, what: &'static str) -> Result<u16, Error> {
    let mut b = [0u8; 2];
    mem.read(gpa, &mut b)
        .then(|| u16::from_le_bytes(b))
        .ok_or(Error::Unreadable(what))
}

fn read_u32(mem: &impl PhysMem, gpa: u64, what: &'static str) -> Result<u32, Error> {
    let mut b = [0u8; 4];
    mem.read(gpa, &mut b)
        .then(|| u32::from_le_bytes(b))
        .ok_or(Error::Unreadable(what))
}

fn read_u64(mem: &impl PhysMem, gpa: u64, what: &'static str) -> Result<u64, Error> {
    let mut b = [0u8; 8];
    mem.read(gpa, &mut b)
        .then(|| u64::from_le_bytes(b))
        .ok_or(Error::Unreadable(what))
}

/// The argument string at `gpa` (NUL-terminated): its length, or 0 for a
/// null pointer.
fn args_len(mem: &impl PhysMem, gpa: u64) -> Result<u64, Error> {
    if gpa == 0 {
        return Ok(0);
    }
    let mut byte = [0u8; 1];
    for i in 0..=MAX_ARGS as u64 {
        if !mem.read(gpa + i, &mut byte) {
            return Err(Error::Unreadable("the command line"));
        }
        if byte[0] == 0 {
            return Ok(i);
        }
    }
    Err(Error::ArgsTooLong)
}

/// A [`BootInfo`] from a memory map, the image's end and the arguments.
fn normalise(
    mut regions: impl Iterator<Item = Region> + Clone,
    image_end: u64,
    args: (u64, u64),
    tsc_khz: u64,
) -> Result<BootInfo, Error> {
    let mem_bytes = regions
        .clone()
        .filter(|r| r.kind == RAM)
        .map(|r| r.end().min(MAPPED_LIMIT))
        .max()
        .unwrap_or(0);
    let home = regions
        .find(|r| r.kind == RAM && r.start <= image_end && image_end < r.end())
        .ok_or(Error::NoRamForImage)?;
    let (args_gpa, args_len) = args;
    let mut free_start = image_end;
    if args_len > 0 && args_gpa >= home.start && args_gpa < home.end() {
        free_start = free_start.max(args_gpa + args_len);
    }
    let free_start = free_start.next_multiple_of(PAGE);
    let free_end = home.end().min(MAPPED_LIMIT) & !(PAGE - 1);
    Ok(BootInfo {
        magic: BOOTINFO_MAGIC,
        mem_bytes,
        free_start: free_start.min(free_end),
        free_end,
        tsc_khz,
        args_gpa,
        args_len,
    })
}

/// Reads a PVH `hvm_start_info` at `gpa`. `image_end` is one past the
/// guest image's last byte (its `.bss` included); `tsc_khz` as the guest
/// measured or was told (0 when unknown).
pub fn from_pvh(
    mem: &impl PhysMem,
    gpa: u64,
    image_end: u64,
    tsc_khz: u64,
) -> Result<BootInfo, Error> {
    let magic = read_u32(mem, gpa, "hvm_start_info")?;
    if magic != PVH_MAGIC {
        return Err(Error::BadMagic(magic));
    }
    if read_u32(mem, gpa + SI_VERSION, "hvm_start_info")? < 1 {
        return Err(Error::NoMemoryMap);
    }
    let map = read_u64(mem, gpa + SI_MEMMAP, "hvm_start_info")?;
    let entries = read_u32(mem, gpa + SI_MEMMAP_ENTRIES, "hvm_start_info")?;
    if entries > MEMMAP_MAX {
        return Err(Error::TooManyEntries(entries));
    }
    let mut regions = [Region {
        start: 0,
        len: 0,
        kind: 0,
    }; MEMMAP_MAX as usize];
    for (i, region) in regions.iter_mut().enumerate().take(entries as usize) {
        let at = map + i as u64 * MEMMAP_ENTRY;
        *region = Region {
            start: read_u64(mem, at, "the PVH memory map")?,
            len: read_u64(mem, at + 8, "the PVH memory map")?,
            kind: read_u32(mem, at + 16, "the PVH memory map")?,
        };
    }
    let cmdline = read_u64(mem, gpa + SI_CMDLINE, "hvm_start_info")?;
    let len = args_len(mem, cmdline)?;
    let used = regions[..entries as usize].iter().copied();
    normalise(used, image_end, (cmdline, len), tsc_khz)
}

/// Reads a Linux `boot_params` (zero page) at `gpa`; `image_end` and
/// `tsc_khz` as for [`from_pvh`].
pub fn from_boot_params(
    mem: &impl PhysMem,
    gpa: u64,
    image_end: u64,
    tsc_khz: u64,
) -> Result<BootInfo, Error> {
    let flag = read_u16(mem, gpa + BP_BOOT_FLAG, "boot_params")?;
    if flag != BOOT_FLAG {
        return Err(Error::BadBootFlag(flag));
    }
    let entries = u32::from(read_u8(mem, gpa + BP_E820_ENTRIES, "boot_params")?);
    if entries as usize > E820_MAX {
        return Err(Error::TooManyEntries(entries));
    }
    let mut regions = [Region {
        start: 0,
        len: 0,
        kind: 0,
    }; E820_MAX];
    for (i, region) in regions.iter_mut().enumerate().take(entries as usize) {
        let at = gpa + BP_E820_TABLE + i as u64 * E820_ENTRY;
        *region = Region {
            start: read_u64(mem, at, "the e820 table")?,
            len: read_u64(mem, at + 8, "the e820 table")?,
            kind: read_u32(mem, at + 16, "the e820 table")?,
        };
    }
    let low = read_u32(mem, gpa + BP_CMD_LINE_PTR, "boot_params")?;
    let high = read_u32(mem, gpa + BP_EXT_CMD_LINE_PTR, "boot_params")?;
    let cmdline = u64::from(high) << 32 | u64::from(low);
    let len = args_len(mem, cmdline)?;
    let used = regions[..entries as usize].iter().copied();
    normalise(used, image_end, (cmdline, len), tsc_khz)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Guest RAM from 0, as a byte array.
    struct Ram([u8; 0x4000]);

    impl PhysMem for Ram {
        fn read(&self, gpa: u64, buf: &mut [u8]) -> bool {
            let Ok(at) = usize::try_from(gpa) else {
                return false;
            };
            match self.0.get(at..at.saturating_add(buf.len())) {
                Some(src) if src.len() == buf.len() => {
                    buf.copy_from_slice(src);
                    true
                }
                _ => false,
            }
        }
    }

    impl Ram {
        fn new() -> Ram {
            Ram([0; 0x4000])
        }
        fn put(&mut self, at: u64, bytes: &[u8]) {
            self.0[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
        }
    }

    const MIB: u64 = 1 << 20;
    /// A 256 MiB guest: low RAM, the legacy hole, RAM from 1 MiB.
    const MAP: [(u64, u64, u32); 3] = [
        (0, 0x9fc00, RAM),
        (0x9fc00, 0x400, 2),
        (MIB, 255 * MIB, RAM),
    ];
    /// The image ends at 1 MiB + 40 KiB + 5.
    const IMAGE_END: u64 = MIB + 40 * 1024 + 5;

    fn pvh(ram: &mut Ram, version: u32, entries: u32, cmdline: &[u8]) {
        ram.put(0x1000, &PVH_MAGIC.to_le_bytes());
        ram.put(0x1004, &version.to_le_bytes());
        ram.put(0x1018, &0x3000u64.to_le_bytes());
        ram.put(0x1028, &0x2000u64.to_le_bytes());
        ram.put(0x1030, &entries.to_le_bytes());
        for (i, (start, len, kind)) in MAP.iter().enumerate() {
            let at = 0x2000 + i as u64 * 24;
            ram.put(at, &start.to_le_bytes());
            ram.put(at + 8, &len.to_le_bytes());
            ram.put(at + 16, &kind.to_le_bytes());
        }
        ram.put(0x3000, cmdline);
    }

    #[test]
    fn pvh_start_info_gives_memory_and_arguments() {
        let mut ram = Ram::new();
        pvh(&mut ram, 1, 3, b"cpu --exit 3\0");
        let info = from_pvh(&ram, 0x1000, IMAGE_END, 2_000_000).unwrap();
        assert!(info.is_valid(), "{info:?}");
        assert_eq!(info.mem_bytes, 256 * MIB);
        assert_eq!((info.args_gpa, info.args_len), (0x3000, 12));
        assert_eq!(info.free_start, MIB + 44 * 1024, "the page after the image");
        assert_eq!(info.free_end, 256 * MIB);
        assert_eq!(info.tsc_khz, 2_000_000);
    }

    #[test]
    fn pvh_refuses_what_it_cannot_use() {
        let mut ram = Ram::new();
        pvh(&mut ram, 0, 3, b"\0");
        assert_eq!(
            from_pvh(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::NoMemoryMap)
        );
        pvh(&mut ram, 1, 500, b"\0");
        assert_eq!(
            from_pvh(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::TooManyEntries(500))
        );
        pvh(&mut ram, 1, 3, &[b'a'; MAX_ARGS + 1]);
        assert_eq!(
            from_pvh(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::ArgsTooLong)
        );
        pvh(&mut ram, 1, 3, b"\0");
        assert_eq!(
            from_pvh(&ram, 0x1000, 300 * MIB, 0),
            Err(Error::NoRamForImage)
        );
        assert!(matches!(
            from_pvh(&ram, 0x1001, IMAGE_END, 0),
            Err(Error::BadMagic(_))
        ));
        assert_eq!(
            from_pvh(&ram, 0x5000, IMAGE_END, 0),
            Err(Error::Unreadable("hvm_start_info"))
        );
        // The memory map itself out of RAM.
        ram.put(0x1028, &0x9000u64.to_le_bytes());
        assert_eq!(
            from_pvh(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::Unreadable("the PVH memory map"))
        );
    }

    fn zero_page(ram: &mut Ram, entries: u8, cmdline: &[u8]) {
        ram.put(0x1000 + 0x1fe, &0xaa55u16.to_le_bytes());
        ram.put(0x1000 + 0x1e8, &[entries]);
        ram.put(0x1000 + 0x228, &0x3800u32.to_le_bytes());
        for (i, (start, len, kind)) in MAP.iter().enumerate() {
            let at = 0x1000 + 0x2d0 + i as u64 * 20;
            ram.put(at, &start.to_le_bytes());
            ram.put(at + 8, &len.to_le_bytes());
            ram.put(at + 16, &kind.to_le_bytes());
        }
        ram.put(0x3800, cmdline);
    }

    #[test]
    fn boot_params_give_e820_memory_and_the_command_line() {
        let mut ram = Ram::new();
        zero_page(&mut ram, 3, b"memory\0");
        let info = from_boot_params(&ram, 0x1000, IMAGE_END, 0).unwrap();
        assert!(info.is_valid(), "{info:?}");
        assert_eq!(info.mem_bytes, 256 * MIB);
        assert_eq!((info.args_gpa, info.args_len), (0x3800, 6));
        assert_eq!(
            (info.free_start, info.free_end),
            (MIB + 44 * 1024, 256 * MIB)
        );
    }

    #[test]
    fn boot_params_refuse_what_they_cannot_use() {
        let mut ram = Ram::new();
        zero_page(&mut ram, 200, b"\0");
        assert_eq!(
            from_boot_params(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::TooManyEntries(200))
        );
        zero_page(&mut ram, 0, b"\0");
        assert_eq!(
            from_boot_params(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::NoRamForImage)
        );
        ram.put(0x1000 + 0x1fe, &[0, 0]);
        assert_eq!(
            from_boot_params(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::BadBootFlag(0))
        );
        // A command line pointer outside RAM.
        zero_page(&mut ram, 3, b"\0");
        ram.put(0x1000 + 0xc8, &1u32.to_le_bytes());
        assert_eq!(
            from_boot_params(&ram, 0x1000, IMAGE_END, 0),
            Err(Error::Unreadable("the command line"))
        );
    }

    #[test]
    fn arguments_in_the_image_region_push_the_scratch_start_past_them() {
        let mut ram = Ram::new();
        pvh(&mut ram, 1, 3, b"\0");
        let args = (IMAGE_END + 10_000, 100);
        let regions = MAP
            .iter()
            .map(|&(start, len, kind)| Region { start, len, kind });
        let info = normalise(regions, IMAGE_END, args, 0).unwrap();
        assert_eq!(info.free_start, (IMAGE_END + 10_100).next_multiple_of(PAGE));
    }

    #[test]
    fn memory_above_4_gib_is_not_handed_out() {
        let regions = [Region {
            start: MIB,
            len: 8 << 30,
            kind: RAM,
        }];
        let info = normalise(regions.iter().copied(), IMAGE_END, (0, 0), 0).unwrap();
        assert_eq!(
            (info.mem_bytes, info.free_end),
            (MAPPED_LIMIT, MAPPED_LIMIT)
        );
    }
}
