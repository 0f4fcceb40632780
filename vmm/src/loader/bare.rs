//! The bare guest: ELF segments loaded at their physical addresses (via
//! linux-loader), then the [`BootInfo`] struct and argument string at
//! [`BOOTINFO_GPA`].
use std::io::Cursor;
use std::mem::size_of;

use linux_loader::loader::{Elf, KernelLoader};
use vm_memory::{Bytes, GuestAddress};
use vmlab_workload::bootinfo::{
    BootInfo, VirtioEntry, VirtioTable, BOOTINFO_MAGIC, MAX_ARGS, MAX_VIRTIO, VIRTIO_TABLE_GPA,
    VIRTIO_TABLE_MAGIC,
};

use crate::layout::{BOOTINFO_GPA, HIGH_MEM_GPA};
use crate::memory::GuestMemoryMmap;

/// Errors loading the bare guest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The ELF could not be loaded.
    #[error("the bare guest is not a loadable x86_64 ELF")]
    Elf(#[source] linux_loader::loader::Error),
    /// The ELF does not fit in guest memory.
    #[error("the bare guest ends at {end:#x}, beyond the {mem_bytes:#x} bytes of guest memory (give the guest more memory)")]
    TooBig {
        /// End of the loaded image.
        end: u64,
        /// Guest memory size.
        mem_bytes: u64,
    },
    /// The argument string is too long.
    #[error("the guest arguments are {len} bytes long; the bare guest takes at most {MAX_ARGS}")]
    ArgsTooLong {
        /// Their length.
        len: usize,
    },
    /// Writing the boot info failed.
    #[error("cannot write the boot info into guest memory")]
    Write(#[source] vm_memory::GuestMemoryError),
}

/// Where the loaded guest starts and what it was told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// Entry point.
    pub entry: u64,
    /// The boot info written for it.
    pub info: BootInfo,
}

/// The boot info as the bytes of its `#[repr(C)]` layout.
pub(crate) fn bootinfo_bytes(info: &BootInfo) -> [u8; size_of::<BootInfo>()] {
    let fields = [
        info.magic,
        info.mem_bytes,
        info.free_start,
        info.free_end,
        info.tsc_khz,
        info.args_gpa,
        info.args_len,
    ];
    let mut out = [0u8; size_of::<BootInfo>()];
    for (chunk, f) in out.chunks_exact_mut(8).zip(fields) {
        chunk.copy_from_slice(&f.to_le_bytes());
    }
    out
}

/// Fills in the boot info for a guest image ending at `image_end`.
pub(crate) fn bootinfo(
    mem_bytes: u64,
    low_end: u64,
    image_end: u64,
    tsc_khz: u32,
    args_len: usize,
) -> BootInfo {
    BootInfo {
        magic: BOOTINFO_MAGIC,
        mem_bytes,
        free_start: image_end.next_multiple_of(4096),
        free_end: low_end,
        tsc_khz: u64::from(tsc_khz),
        args_gpa: BOOTINFO_GPA + size_of::<BootInfo>() as u64,
        args_len: args_len as u64,
    }
}

/// Loads `elf` and writes the boot info with `args`.
pub(crate) fn load(
    mem: &GuestMemoryMmap,
    mem_bytes: u64,
    low_end: u64,
    elf: &[u8],
    args: &str,
    tsc_khz: u32,
) -> Result<Loaded, Error> {
    if args.len() > MAX_ARGS {
        return Err(Error::ArgsTooLong { len: args.len() });
    }
    let res = Elf::load(
        mem,
        None,
        &mut Cursor::new(elf),
        Some(GuestAddress(HIGH_MEM_GPA)),
    )
    .map_err(|e| match e {
        linux_loader::loader::Error::Elf(linux_loader::loader::elf::Error::ReadKernelImage) => {
            Error::TooBig {
                end: u64::MAX,
                mem_bytes: low_end,
            }
        }
        e => Error::Elf(e),
    })?;
    // linux-loader's end skips segments without file bytes (`.bss`): take
    // the highest `p_paddr + p_memsz` of every loadable segment instead, so
    // that the free range the guest is told about starts after its `.bss`.
    let image_end = res.kernel_end.max(memory_end(elf));
    if image_end > low_end {
        return Err(Error::TooBig {
            end: image_end,
            mem_bytes: low_end,
        });
    }
    let info = bootinfo(mem_bytes, low_end, image_end, tsc_khz, args.len());
    let mut page = [0u8; size_of::<BootInfo>() + MAX_ARGS];
    page[..size_of::<BootInfo>()].copy_from_slice(&bootinfo_bytes(&info));
    page[size_of::<BootInfo>()..][..args.len()].copy_from_slice(args.as_bytes());
    let used = size_of::<BootInfo>() + args.len();
    mem.write_slice(&page[..used], GuestAddress(BOOTINFO_GPA))
        .map_err(Error::Write)?;
    Ok(Loaded {
        entry: res.kernel_load.0,
        info,
    })
}

/// The end of the image in memory: the highest `p_paddr + p_memsz` of its
/// loadable segments (0 when the headers cannot be read; linux-loader has
/// already accepted them by then).
fn memory_end(elf: &[u8]) -> u64 {
    use object::read::elf::{FileHeader, ProgramHeader};
    let le = object::LittleEndian;
    let Ok(header) = object::elf::FileHeader64::<object::LittleEndian>::parse(elf) else {
        return 0;
    };
    let Ok(phdrs) = header.program_headers(le, elf) else {
        return 0;
    };
    phdrs
        .iter()
        .filter(|p| p.p_type(le) == object::elf::PT_LOAD)
        .map(|p| p.p_paddr(le).saturating_add(p.p_memsz(le)))
        .max()
        .unwrap_or(0)
}

/// Writes the virtio device table (`VIRTIO_TABLE_GPA`) listing `entries`
/// (at most `MAX_VIRTIO`, which the bus enforces) with `flags`.
pub(crate) fn write_virtio_table(
    mem: &GuestMemoryMmap,
    entries: &[VirtioEntry],
    flags: u32,
) -> Result<(), Error> {
    let mut table = VirtioTable {
        magic: VIRTIO_TABLE_MAGIC,
        count: entries.len().min(MAX_VIRTIO) as u32,
        flags,
        ..Default::default()
    };
    for (slot, e) in table.entries.iter_mut().zip(entries) {
        *slot = *e;
    }
    mem.write_slice(&table.to_bytes(), GuestAddress(VIRTIO_TABLE_GPA))
        .map_err(Error::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 with one PT_LOAD segment of `code` at `paddr`.
    pub(crate) fn tiny_elf(paddr: u64, code: &[u8], memsz: u64) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // 64-bit
        f[5] = 1; // little endian
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        f[18..20].copy_from_slice(&0x3eu16.to_le_bytes()); // x86_64
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..32].copy_from_slice(&paddr.to_le_bytes()); // entry
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        f[52..54].copy_from_slice(&64u16.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        let ph = &mut f[64..];
        ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&5u32.to_le_bytes());
        ph[8..16].copy_from_slice(&120u64.to_le_bytes()); // offset
        ph[16..24].copy_from_slice(&paddr.to_le_bytes());
        ph[24..32].copy_from_slice(&paddr.to_le_bytes());
        ph[32..40].copy_from_slice(&(code.len() as u64).to_le_bytes());
        ph[40..48].copy_from_slice(&memsz.to_le_bytes());
        f.extend_from_slice(code);
        f
    }

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 4 << 20)]).unwrap()
    }

    #[test]
    fn bootinfo_layout_matches_the_struct() {
        let info = bootinfo(4 << 20, 4 << 20, 0x10_0123, 2_000_000, 5);
        let bytes = bootinfo_bytes(&info);
        // SAFETY: BootInfo is repr(C) of u64 fields, so every byte pattern of
        // its size is a valid value; the array has exactly that size.
        let back: BootInfo = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        assert_eq!(back, info);
        assert!(info.is_valid());
        assert_eq!(info.free_start, 0x10_1000);
        assert_eq!(info.args_gpa, BOOTINFO_GPA + 56);
    }

    #[test]
    fn loads_segments_and_boot_info() {
        let mem = mem();
        let elf = tiny_elf(0x10_0000, &[0xf4, 0x90], 0x2000);
        let l = load(&mem, 4 << 20, 4 << 20, &elf, "cpu --exit 3", 1000).unwrap();
        assert_eq!(l.entry, 0x10_0000);
        assert_eq!(l.info.free_start, 0x10_2000);
        let code: [u8; 2] = mem.read_obj(GuestAddress(0x10_0000)).unwrap();
        assert_eq!(code, [0xf4, 0x90]);
        let magic: u64 = mem.read_obj(GuestAddress(BOOTINFO_GPA)).unwrap();
        assert_eq!(magic, BOOTINFO_MAGIC);
        let mut args = [0u8; 12];
        mem.read_slice(&mut args, GuestAddress(l.info.args_gpa))
            .unwrap();
        assert_eq!(&args, b"cpu --exit 3");
    }

    #[test]
    fn free_memory_starts_after_a_bss_segment_without_file_bytes() {
        let mem = mem();
        // tiny_elf's code, then a second PT_LOAD: no file bytes, 0x3000 of
        // memory at 0x10_2000 (a `.bss`, which linux-loader's end skips).
        let mut elf = tiny_elf(0x10_0000, &[0xf4], 1);
        let code = elf.split_off(120);
        elf[56..58].copy_from_slice(&2u16.to_le_bytes());
        elf[64 + 8..64 + 16].copy_from_slice(&176u64.to_le_bytes());
        let mut bss = [0u8; 56];
        bss[0..4].copy_from_slice(&1u32.to_le_bytes());
        bss[4..8].copy_from_slice(&6u32.to_le_bytes());
        bss[8..16].copy_from_slice(&176u64.to_le_bytes());
        bss[16..24].copy_from_slice(&0x10_2000u64.to_le_bytes());
        bss[24..32].copy_from_slice(&0x10_2000u64.to_le_bytes());
        bss[40..48].copy_from_slice(&0x3000u64.to_le_bytes());
        elf.extend_from_slice(&bss);
        elf.extend_from_slice(&code);
        let l = load(&mem, 4 << 20, 4 << 20, &elf, "", 1000).unwrap();
        assert_eq!(l.info.free_start, 0x10_5000);
    }

    #[test]
    fn rejects_bad_input() {
        let mem = mem();
        assert!(matches!(
            load(
                &mem,
                4 << 20,
                4 << 20,
                b"not an elf at all, really not",
                "",
                0
            ),
            Err(Error::Elf(_))
        ));
        let low = tiny_elf(0x1000, &[0x90], 1);
        assert!(matches!(
            load(&mem, 4 << 20, 4 << 20, &low, "", 0),
            Err(Error::Elf(_))
        ));
        let big = tiny_elf(0x10_0000, &[0x90], 8 << 20);
        assert!(matches!(
            load(&mem, 4 << 20, 4 << 20, &big, "", 0),
            Err(Error::TooBig { .. })
        ));
        let elf = tiny_elf(0x10_0000, &[0x90], 1);
        let long = "x".repeat(MAX_ARGS + 1);
        assert!(matches!(
            load(&mem, 4 << 20, 4 << 20, &elf, &long, 0),
            Err(Error::ArgsTooLong { .. })
        ));
    }
}
