//! The GDT the VMM writes for the guest, and the segment registers built from it.
//!
//! Selectors follow the Linux 64-bit boot protocol: `__BOOT_CS` = 0x10,
//! `__BOOT_DS` = 0x18; a 32-bit code segment at 0x08 serves PVH entry, and a
//! TSS at 0x20 keeps VM entry checks happy.
use kvm_bindings::kvm_segment;
use vm_memory::{Bytes, GuestAddress};

use crate::memory::GuestMemoryMmap;

/// 32-bit flat code (PVH entry).
pub(crate) const CODE32_SEL: u16 = 0x08;
/// 64-bit code.
pub(crate) const CODE64_SEL: u16 = 0x10;
/// Flat data.
pub(crate) const DATA_SEL: u16 = 0x18;
/// The task state segment.
pub(crate) const TSS_SEL: u16 = 0x20;

/// Builds one descriptor from access/flags bits (`flags << 12 | access`), base and 20-bit limit.
pub(crate) const fn entry(flags_access: u16, base: u32, limit: u32) -> u64 {
    let fa = flags_access as u64;
    let base = base as u64;
    let limit = limit as u64;
    ((base & 0xff00_0000) << 32)
        | ((fa & 0xf0ff) << 40)
        | ((limit & 0x000f_0000) << 32)
        | ((base & 0x00ff_ffff) << 16)
        | (limit & 0xffff)
}

/// The guest's GDT, indexed by selector / 8.
pub(crate) const GDT: [u64; 5] = [
    0,
    entry(0xc09b, 0, 0xfffff), // 32-bit code, 4 KiB granularity
    entry(0xa09b, 0, 0xfffff), // 64-bit code (L bit)
    entry(0xc093, 0, 0xfffff), // data, read/write
    entry(0x008b, 0, 0x67),    // busy 32/64-bit TSS
];

/// Decodes the descriptor for `selector` into KVM's segment form.
pub(crate) fn segment(selector: u16) -> kvm_segment {
    let e = GDT[(selector >> 3) as usize];
    let base = ((e >> 16) & 0xff_ffff) | ((e >> 32) & 0xff00_0000);
    let raw_limit = (e & 0xffff) | ((e >> 32) & 0xf_0000);
    let g = ((e >> 55) & 1) as u8;
    let limit = if g == 1 {
        (raw_limit << 12) | 0xfff
    } else {
        raw_limit
    };
    kvm_segment {
        base,
        limit: limit as u32,
        selector,
        type_: ((e >> 40) & 0xf) as u8,
        present: ((e >> 47) & 1) as u8,
        dpl: ((e >> 45) & 3) as u8,
        db: ((e >> 54) & 1) as u8,
        s: ((e >> 44) & 1) as u8,
        l: ((e >> 53) & 1) as u8,
        g,
        avl: ((e >> 52) & 1) as u8,
        unusable: 0,
        padding: 0,
    }
}

/// Writes the GDT at `gpa`.
pub(crate) fn write(mem: &GuestMemoryMmap, gpa: u64) -> Result<(), vm_memory::GuestMemoryError> {
    let mut bytes = [0u8; GDT.len() * 8];
    for (chunk, e) in bytes.chunks_exact_mut(8).zip(GDT) {
        chunk.copy_from_slice(&e.to_le_bytes());
    }
    mem.write_slice(&bytes, GuestAddress(gpa))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_encode_known_values() {
        assert_eq!(GDT[2], 0x00af_9b00_0000_ffff);
        assert_eq!(GDT[3], 0x00cf_9300_0000_ffff);
        assert_eq!(GDT[1], 0x00cf_9b00_0000_ffff);
    }

    #[test]
    fn segments_decode() {
        let cs = segment(CODE64_SEL);
        assert_eq!((cs.l, cs.db, cs.present, cs.s, cs.type_), (1, 0, 1, 1, 0xb));
        assert_eq!((cs.base, cs.limit, cs.g), (0, 0xffff_ffff, 1));
        let ds = segment(DATA_SEL);
        assert_eq!((ds.l, ds.db, ds.type_, ds.selector), (0, 1, 3, DATA_SEL));
        let cs32 = segment(CODE32_SEL);
        assert_eq!((cs32.l, cs32.db), (0, 1));
        let tr = segment(TSS_SEL);
        assert_eq!((tr.s, tr.type_, tr.limit, tr.g), (0, 0xb, 0x67, 0));
    }

    #[test]
    fn written_to_guest_memory() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
        write(&mem, 0x500).unwrap();
        let code: u64 = mem.read_obj(GuestAddress(0x500 + 0x10)).unwrap();
        assert_eq!(code, GDT[2]);
        let tss: u64 = mem.read_obj(GuestAddress(0x500 + 0x20)).unwrap();
        assert_eq!(tss, GDT[4]);
    }
}
