//! The guest-physical memory map both guests share.
//!
//! ```text
//! 0x0000_0500  GDT (5 entries)
//! 0x0000_7000  boot info + args (bare) / boot_params zero page (Linux)
//! 0x0000_9000  PML4, then PDPT, then page directories (one per GiB)
//! 0x0002_0000  kernel command line (Linux)
//! 0x0003_0000  PVH start info, memory map (Linux vmlinux)
//! 0x0008_0000  top of the bare guest's stack (grows down)
//! 0x0009_fc00  EBDA / legacy area, reserved in e820 up to 1 MiB
//! 0x000e_0000  ACPI tables (RSDP, XSDT, MADT) (Linux)
//! 0x0010_0000  the guest ELF / kernel
//! ...          free memory (bare) / initramfs at the top of low memory (Linux)
//! 0xc000_0000  start of the 32-bit MMIO hole (LAPIC, IOAPIC); RAM resumes at 4 GiB
//! ```
pub(crate) use vmlab_workload::bootinfo::BOOTINFO_GPA;

/// Guest-physical address of the GDT.
pub(crate) const GDT_GPA: u64 = 0x500;
/// Guest-physical address of the Linux zero page (`boot_params`).
pub(crate) const ZERO_PAGE_GPA: u64 = 0x7000;
/// Guest-physical address of the PML4; the PDPT and page directories follow.
pub(crate) const PML4_GPA: u64 = 0x9000;
/// Guest-physical address of the PDPT.
pub(crate) const PDPT_GPA: u64 = PML4_GPA + 0x1000;
/// Guest-physical address of the first page directory.
pub(crate) const PD_GPA: u64 = PDPT_GPA + 0x1000;
/// Most page directories (GiB of identity map) that fit below [`CMDLINE_GPA`].
pub(crate) const MAX_PDS: u64 = (CMDLINE_GPA - PD_GPA) / 0x1000;
/// Guest-physical address of the kernel command line.
pub(crate) const CMDLINE_GPA: u64 = 0x2_0000;
/// Longest kernel command line (including the NUL).
pub(crate) const CMDLINE_MAX: usize = 0x1_0000;
/// Guest-physical address of the PVH `hvm_start_info`.
pub(crate) const PVH_INFO_GPA: u64 = 0x3_0000;
/// Guest-physical address of the PVH memory map.
pub(crate) const PVH_MEMMAP_GPA: u64 = 0x3_1000;
/// Top of the bare guest's stack.
pub(crate) const STACK_TOP_GPA: u64 = 0x8_0000;
/// Start of the EBDA; the e820 map reserves from here to 1 MiB.
pub(crate) const EBDA_GPA: u64 = 0x9_fc00;
/// Guest-physical address of the ACPI tables (inside the BIOS search area,
/// which ends at [`HIGH_MEM_GPA`]).
pub(crate) const ACPI_GPA: u64 = 0xe_0000;
/// Where kernels and the bare guest are loaded (1 MiB).
pub(crate) const HIGH_MEM_GPA: u64 = 0x10_0000;
/// Start of the 32-bit MMIO hole; RAM above this resumes at 4 GiB.
pub(crate) const MMIO_HOLE_GPA: u64 = 0xc000_0000;
/// Where RAM resumes above the hole.
pub(crate) const HIGH_RAM_GPA: u64 = 0x1_0000_0000;
/// The local APIC's MMIO base.
pub(crate) const LAPIC_GPA: u64 = 0xfee0_0000;
/// The IOAPIC's MMIO base.
pub(crate) const IOAPIC_GPA: u64 = 0xfec0_0000;
/// KVM's TSS area (three pages) for `KVM_SET_TSS_ADDR`, inside the hole.
pub(crate) const KVM_TSS_GPA: u64 = 0xfffb_d000;

/// The RAM ranges (start, length) of a guest with `size` bytes of memory.
pub(crate) fn ram_ranges(size: u64) -> Vec<(u64, u64)> {
    if size <= MMIO_HOLE_GPA {
        vec![(0, size)]
    } else {
        vec![(0, MMIO_HOLE_GPA), (HIGH_RAM_GPA, size - MMIO_HOLE_GPA)]
    }
}

/// End of RAM below the MMIO hole.
pub(crate) fn low_mem_end(size: u64) -> u64 {
    size.min(MMIO_HOLE_GPA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_areas_do_not_overlap() {
        let areas = [
            (GDT_GPA, GDT_GPA + 5 * 8),
            (ZERO_PAGE_GPA, ZERO_PAGE_GPA + 0x1000),
            (PML4_GPA, PD_GPA + MAX_PDS * 0x1000),
            (CMDLINE_GPA, CMDLINE_GPA + CMDLINE_MAX as u64),
            (PVH_INFO_GPA, PVH_MEMMAP_GPA + 0x1000),
            (0x4_0000, STACK_TOP_GPA),
            (EBDA_GPA, ACPI_GPA),
            // The ACPI area ends where kernels are loaded (1 MiB).
            (ACPI_GPA, HIGH_MEM_GPA),
        ];
        for (i, a) in areas.iter().enumerate() {
            assert!(a.0 < a.1);
            for b in &areas[i + 1..] {
                assert!(a.1 <= b.0, "{a:x?} overlaps {b:x?}");
            }
        }
        assert_eq!(BOOTINFO_GPA, ZERO_PAGE_GPA);
        const { assert!(MAX_PDS >= 4, "low memory must be mappable") };
    }

    #[test]
    fn ram_splits_around_the_hole() {
        assert_eq!(ram_ranges(256 << 20), vec![(0, 256 << 20)]);
        assert_eq!(ram_ranges(MMIO_HOLE_GPA), vec![(0, MMIO_HOLE_GPA)]);
        assert_eq!(
            ram_ranges(4 << 30),
            vec![(0, MMIO_HOLE_GPA), (HIGH_RAM_GPA, 1 << 30)]
        );
        assert_eq!(low_mem_end(4 << 30), MMIO_HOLE_GPA);
        assert_eq!(low_mem_end(64 << 20), 64 << 20);
    }
}
