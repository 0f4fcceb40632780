//! The Linux zero page (`boot_params`) with its e820 map, and the PVH start
//! info with its memory map: built as pure values, written by linux-loader's
//! configurators.
use linux_loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};

use crate::layout::{self, EBDA_GPA, HIGH_MEM_GPA};

/// e820 type: usable RAM.
pub(crate) const E820_RAM: u32 = 1;
/// e820 type: reserved.
pub(crate) const E820_RESERVED: u32 = 2;
/// "HdrS".
pub(crate) const HDRS_MAGIC: u32 = 0x5372_6448;
/// The boot-sector signature.
pub(crate) const BOOT_FLAG: u16 = 0xaa55;
/// `type_of_loader`: undefined boot loader.
pub(crate) const LOADER_UNDEFINED: u8 = 0xff;
/// `loadflags`: the heap end pointer is valid.
pub(crate) const CAN_USE_HEAP: u8 = 0x80;
/// `loadflags`: protected-mode code is loaded at 1 MiB.
pub(crate) const LOADED_HIGH: u8 = 0x01;
/// PVH start-info magic.
pub(crate) const PVH_MAGIC: u32 = 0x336e_c578;

/// One e820 entry: start, length, type.
pub(crate) type E820 = (u64, u64, u32);

/// The memory map of a guest with `mem_bytes` of RAM.
pub(crate) fn e820_map(mem_bytes: u64) -> Vec<E820> {
    let low_end = layout::low_mem_end(mem_bytes);
    let mut map = vec![
        (0, EBDA_GPA, E820_RAM),
        (EBDA_GPA, HIGH_MEM_GPA - EBDA_GPA, E820_RESERVED),
        (HIGH_MEM_GPA, low_end - HIGH_MEM_GPA, E820_RAM),
    ];
    if mem_bytes > layout::MMIO_HOLE_GPA {
        map.push((
            layout::HIGH_RAM_GPA,
            mem_bytes - layout::MMIO_HOLE_GPA,
            E820_RAM,
        ));
    }
    map
}

/// Where the kernel finds its inputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BootInputs {
    /// Command line address.
    pub cmdline_gpa: u64,
    /// Command line length without the NUL.
    pub cmdline_len: u32,
    /// Initramfs (address, size), if any.
    pub initramfs: Option<(u64, u64)>,
    /// RSDP address.
    pub rsdp_gpa: u64,
}

/// The zero page: the kernel's setup header (or a fresh one for vmlinux),
/// completed with what a boot loader must fill in.
pub(crate) fn zero_page(
    hdr: Option<setup_header>,
    inputs: &BootInputs,
    e820: &[E820],
) -> boot_params {
    let mut p = boot_params {
        hdr: hdr.unwrap_or_else(|| setup_header {
            header: HDRS_MAGIC,
            boot_flag: BOOT_FLAG,
            kernel_alignment: 0x100_0000,
            loadflags: LOADED_HIGH,
            ..Default::default()
        }),
        ..Default::default()
    };
    p.hdr.type_of_loader = LOADER_UNDEFINED;
    p.hdr.loadflags |= CAN_USE_HEAP;
    p.hdr.heap_end_ptr = 0xfe00;
    p.hdr.cmd_line_ptr = inputs.cmdline_gpa as u32;
    p.hdr.cmdline_size = inputs.cmdline_len;
    if let Some((addr, size)) = inputs.initramfs {
        p.hdr.ramdisk_image = addr as u32;
        p.hdr.ramdisk_size = size as u32;
    }
    p.acpi_rsdp_addr = inputs.rsdp_gpa;
    for (slot, &(addr, size, type_)) in p.e820_table.iter_mut().zip(e820) {
        *slot = boot_e820_entry {
            addr,
            size,
            r#type: type_,
        };
    }
    p.e820_entries = e820.len().min(p.e820_table.len()) as u8;
    p
}

/// The PVH start info, its memory map and its module list (the initramfs).
pub(crate) fn pvh_start_info(
    inputs: &BootInputs,
    e820: &[E820],
    memmap_gpa: u64,
    modlist_gpa: u64,
) -> (
    hvm_start_info,
    Vec<hvm_memmap_table_entry>,
    Vec<hvm_modlist_entry>,
) {
    let memmap: Vec<_> = e820
        .iter()
        .map(|&(addr, size, type_)| hvm_memmap_table_entry {
            addr,
            size,
            type_,
            reserved: 0,
        })
        .collect();
    let modules: Vec<_> = inputs
        .initramfs
        .iter()
        .map(|&(paddr, size)| hvm_modlist_entry {
            paddr,
            size,
            ..Default::default()
        })
        .collect();
    let info = hvm_start_info {
        magic: PVH_MAGIC,
        version: 1,
        nr_modules: modules.len() as u32,
        modlist_paddr: if modules.is_empty() { 0 } else { modlist_gpa },
        cmdline_paddr: inputs.cmdline_gpa,
        rsdp_paddr: inputs.rsdp_gpa,
        memmap_paddr: memmap_gpa,
        memmap_entries: memmap.len() as u32,
        ..Default::default()
    };
    (info, memmap, modules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::GuestMemoryMmap;
    use linux_loader::configurator::{linux::LinuxBootConfigurator, BootConfigurator, BootParams};
    use vm_memory::{Bytes, GuestAddress};

    #[test]
    fn e820_covers_ram_and_reserves_the_legacy_area() {
        let map = e820_map(256 << 20);
        assert_eq!(map.len(), 3);
        assert_eq!(map[0], (0, 0x9_fc00, E820_RAM));
        assert_eq!(map[1], (0x9_fc00, 0x6_0400, E820_RESERVED));
        assert_eq!(map[2], (1 << 20, (255) << 20, E820_RAM));
        let total: u64 = map.iter().filter(|e| e.2 == E820_RAM).map(|e| e.1).sum();
        assert_eq!(total + map[1].1, 256 << 20);
        let big = e820_map(5 << 30);
        assert_eq!(big[3], (4 << 30, 2 << 30, E820_RAM));
        for w in big.windows(2) {
            assert!(w[0].0 + w[0].1 <= w[1].0, "sorted, no overlap");
        }
    }

    #[test]
    fn zero_page_fields() {
        let inputs = BootInputs {
            cmdline_gpa: 0x2_0000,
            cmdline_len: 42,
            initramfs: Some((0x0f00_0000, 0x1234)),
            rsdp_gpa: 0xe_0000,
        };
        let hdr = setup_header {
            header: HDRS_MAGIC,
            version: 0x020f,
            loadflags: LOADED_HIGH,
            ..Default::default()
        };
        let p = zero_page(Some(hdr), &inputs, &e820_map(256 << 20));
        let version = p.hdr.version;
        assert_eq!(version, 0x020f, "kernel's header kept");
        assert_eq!(p.hdr.type_of_loader, 0xff);
        assert_eq!(p.hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
        let (cmd, rd, rds) = (p.hdr.cmd_line_ptr, p.hdr.ramdisk_image, p.hdr.ramdisk_size);
        assert_eq!((cmd, rd, rds), (0x2_0000, 0x0f00_0000, 0x1234));
        let rsdp = p.acpi_rsdp_addr;
        assert_eq!(rsdp, 0xe_0000);
        assert_eq!(p.e820_entries, 3);
        let e = p.e820_table[2];
        let (a, t) = (e.addr, e.r#type);
        assert_eq!((a, t), (1 << 20, E820_RAM));

        let fresh = zero_page(None, &inputs, &[]);
        let (magic, flag) = (fresh.hdr.header, fresh.hdr.boot_flag);
        assert_eq!((magic, flag), (HDRS_MAGIC, BOOT_FLAG));
    }

    #[test]
    fn zero_page_lands_at_its_address() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
        let p = zero_page(None, &BootInputs::default(), &e820_map(64 << 20));
        LinuxBootConfigurator::write_bootparams::<GuestMemoryMmap>(
            &BootParams::new(&p, GuestAddress(0x7000)),
            &mem,
        )
        .unwrap();
        // "HdrS" at 0x202 and the e820 count at 0x1e8 of the zero page.
        let magic: u32 = mem.read_obj(GuestAddress(0x7000 + 0x202)).unwrap();
        assert_eq!(magic, HDRS_MAGIC);
        let n: u8 = mem.read_obj(GuestAddress(0x7000 + 0x1e8)).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn pvh_info() {
        let inputs = BootInputs {
            cmdline_gpa: 0x2_0000,
            cmdline_len: 3,
            initramfs: Some((0x100_0000, 10)),
            rsdp_gpa: 0xe_0000,
        };
        let (info, map, mods) = pvh_start_info(&inputs, &e820_map(64 << 20), 0x3_1000, 0x3_2000);
        assert_eq!(info.magic, PVH_MAGIC);
        assert_eq!((info.memmap_entries, info.nr_modules), (3, 1));
        assert_eq!(info.modlist_paddr, 0x3_2000);
        assert_eq!(map[2].type_, E820_RAM);
        assert_eq!((mods[0].paddr, mods[0].size), (0x100_0000, 10));
    }
}
