//! Identity page tables: PML4 → PDPT → page directories of 2 MiB pages.
//!
//! Each table page is built in a host buffer and copied with one write, so
//! mapping the bare guest's memory costs a few microseconds.
use vm_memory::{Bytes, GuestAddress};

use crate::layout::{MAX_PDS, PDPT_GPA, PD_GPA, PML4_GPA};
use crate::memory::GuestMemoryMmap;

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const HUGE: u64 = 1 << 7;
const PAGE_2M: u64 = 2 << 20;
const GIB: u64 = 1 << 30;

/// Errors building page tables.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// More memory than the fixed page-table area can map.
    #[error("cannot identity map {gib} GiB: the page-table area maps at most {MAX_PDS} GiB")]
    TooLarge {
        /// GiB requested.
        gib: u64,
    },
    /// Writing a table into guest memory failed.
    #[error("cannot write page tables into guest memory")]
    Write(#[source] vm_memory::GuestMemoryError),
}

/// The 2 MiB page-directory entries identity mapping `[0, end)` (rounded up to 2 MiB).
pub(crate) fn pd_entries(end: u64) -> impl Iterator<Item = u64> {
    (0..end.div_ceil(PAGE_2M)).map(|i| (i * PAGE_2M) | PRESENT | WRITABLE | HUGE)
}

fn page(entries: impl Iterator<Item = u64>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    for (chunk, e) in buf.chunks_exact_mut(8).zip(entries) {
        chunk.copy_from_slice(&e.to_le_bytes());
    }
    buf
}

/// Writes tables identity mapping `[0, end)`; returns the CR3 value.
pub(crate) fn write_identity(mem: &GuestMemoryMmap, end: u64) -> Result<u64, Error> {
    let gib = end.div_ceil(GIB).max(1);
    if gib > MAX_PDS {
        return Err(Error::TooLarge { gib });
    }
    let w = |bytes: &[u8], gpa: u64| mem.write_slice(bytes, GuestAddress(gpa));
    w(&page([PDPT_GPA | PRESENT | WRITABLE].into_iter()), PML4_GPA).map_err(Error::Write)?;
    let pdpt = (0..gib).map(|i| (PD_GPA + i * 4096) | PRESENT | WRITABLE);
    w(&page(pdpt), PDPT_GPA).map_err(Error::Write)?;
    let mut entries = pd_entries(end).peekable();
    for i in 0..gib {
        w(&page(entries.by_ref().take(512)), PD_GPA + i * 4096).map_err(Error::Write)?;
    }
    Ok(PML4_GPA)
}

/// Page-level cache disable: device registers must not be cached.
const PCD: u64 = 1 << 4;

/// Adds an uncached identity mapping of the 2 MiB page holding `gpa`, which
/// lies in the MMIO hole's GiB (3..4 GiB): the bare guest's view of its
/// device registers. RAM below the hole ends by 3 GiB, so that GiB's page
/// directory (the fourth) holds nothing else.
pub(crate) fn map_mmio(mem: &GuestMemoryMmap, gpa: u64) -> Result<(), Error> {
    let gib = gpa / GIB;
    if gib != 3 || MAX_PDS < 4 {
        return Err(Error::TooLarge { gib: gib + 1 });
    }
    let pd = PD_GPA + gib * 4096;
    let index = (gpa % GIB) / PAGE_2M;
    let entry = (gpa - gpa % PAGE_2M) | PRESENT | WRITABLE | HUGE | PCD;
    let w = |v: u64, at: u64| mem.write_obj(v, GuestAddress(at)).map_err(Error::Write);
    w(pd | PRESENT | WRITABLE, PDPT_GPA + gib * 8)?;
    w(entry, pd + index * 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem() -> GuestMemoryMmap {
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap()
    }

    /// Walks the tables like the MMU does for a 2 MiB mapping.
    fn translate(mem: &GuestMemoryMmap, cr3: u64, va: u64) -> Option<u64> {
        let read = |gpa: u64| mem.read_obj::<u64>(GuestAddress(gpa)).unwrap();
        let pml4e = read(cr3 + ((va >> 39) & 511) * 8);
        if pml4e & PRESENT == 0 {
            return None;
        }
        let pdpte = read((pml4e & !0xfff) + ((va >> 30) & 511) * 8);
        if pdpte & PRESENT == 0 {
            return None;
        }
        let pde = read((pdpte & !0xfff) + ((va >> 21) & 511) * 8);
        if pde & PRESENT == 0 || pde & HUGE == 0 {
            return None;
        }
        Some((pde & !0x1f_ffff) | (va & 0x1f_ffff))
    }

    #[test]
    fn identity_maps_the_range() {
        let mem = mem();
        let cr3 = write_identity(&mem, 256 << 20).unwrap();
        assert_eq!(cr3, PML4_GPA);
        for va in [
            0,
            0x7000,
            0x10_0000,
            0x1234_5678 & ((256 << 20) - 1),
            (256 << 20) - 1,
        ] {
            assert_eq!(translate(&mem, cr3, va), Some(va));
        }
        assert_eq!(translate(&mem, cr3, 256 << 20), None);
        assert_eq!(translate(&mem, cr3, 1 << 39), None);
    }

    #[test]
    fn maps_several_gib() {
        let mem = mem();
        let cr3 = write_identity(&mem, 3 << 30).unwrap();
        assert_eq!(
            translate(&mem, cr3, (3 << 30) - 4096),
            Some((3 << 30) - 4096)
        );
        assert_eq!(translate(&mem, cr3, (2 << 30) + 5), Some((2 << 30) + 5));
        assert_eq!(translate(&mem, cr3, 3 << 30), None);
    }

    #[test]
    fn maps_the_device_window_uncached_beside_ram() {
        let mem = mem();
        let cr3 = write_identity(&mem, 16 << 20).unwrap();
        map_mmio(&mem, 0xd000_1000).unwrap();
        assert_eq!(translate(&mem, cr3, 0xd000_1040), Some(0xd000_1040));
        assert_eq!(translate(&mem, cr3, 0x10_0000), Some(0x10_0000));
        assert_eq!(translate(&mem, cr3, 0xd020_0000), None);
        assert!(map_mmio(&mem, 0x1000).is_err());
    }

    #[test]
    fn rounds_up_to_2mib_and_rejects_too_much() {
        assert_eq!(pd_entries(1).count(), 1);
        assert_eq!(pd_entries(PAGE_2M + 1).count(), 2);
        assert!(matches!(
            write_identity(&mem(), (MAX_PDS + 1) << 30),
            Err(Error::TooLarge { .. })
        ));
    }
}
