//! Minimal ACPI tables: RSDP → XSDT → MADT (one LAPIC, one IOAPIC, the
//! ISA IRQ 0 → GSI 2 override). A kernel built without MP-table parsing
//! finds its APICs only here. With virtio-mmio devices, also an FADT
//! (hardware-reduced: no fixed ACPI hardware, no SCI) pointing at a DSDT
//! that describes each device as `LNRO0005` ([`super::aml`]), which is how
//! a kernel that ignores `virtio_mmio.device=` finds them.
use vm_memory::{Bytes, GuestAddress};

use crate::layout::{IOAPIC_GPA, LAPIC_GPA};
use crate::memory::GuestMemoryMmap;

const OEM_ID: &[u8; 6] = b"VMLAB ";
const OEM_TABLE_ID: &[u8; 8] = b"VMLABVMM";
const HEADER_LEN: usize = 36;

/// Byte that makes `bytes` sum to zero modulo 256.
pub(crate) fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)))
}

/// A system description table: the 36-byte header, then `body`, checksummed.
pub(crate) fn sdt(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let len = (HEADER_LEN + body.len()) as u32;
    let mut t = Vec::with_capacity(len as usize);
    t.extend_from_slice(signature);
    t.extend_from_slice(&len.to_le_bytes());
    t.push(revision);
    t.push(0); // checksum, below
    t.extend_from_slice(OEM_ID);
    t.extend_from_slice(OEM_TABLE_ID);
    t.extend_from_slice(&1u32.to_le_bytes()); // OEM revision
    t.extend_from_slice(b"VMLB"); // creator id
    t.extend_from_slice(&1u32.to_le_bytes()); // creator revision
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// The MADT for one CPU with APIC id 0.
pub(crate) fn madt() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(LAPIC_GPA as u32).to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // PCAT_COMPAT: dual 8259s present
    b.extend_from_slice(&[0, 8, 0, 0]); // processor local APIC: uid 0, id 0
    b.extend_from_slice(&1u32.to_le_bytes()); // enabled
    b.extend_from_slice(&[1, 12, 0, 0]); // I/O APIC: id 0
    b.extend_from_slice(&(IOAPIC_GPA as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // GSI base
    b.extend_from_slice(&[2, 10, 0, 0]); // override: ISA bus, IRQ 0
    b.extend_from_slice(&2u32.to_le_bytes()); // → GSI 2
    b.extend_from_slice(&0u16.to_le_bytes()); // conforming polarity/trigger
    sdt(b"APIC", 4, &b)
}

/// FADT flag: hardware-reduced ACPI (ACPI 6.5 §5.2.9, bit 20).
const HW_REDUCED_ACPI: u32 = 1 << 20;

/// A hardware-reduced FADT (revision 6, 276 bytes) pointing at the DSDT.
pub(crate) fn fadt(dsdt_gpa: u64) -> Vec<u8> {
    let mut b = vec![0u8; 276 - HEADER_LEN];
    let at = |off: usize| off - HEADER_LEN;
    b[at(40)..at(44)].copy_from_slice(&(dsdt_gpa as u32).to_le_bytes());
    // IAPC_BOOT_ARCH: VGA not present (bit 2).
    b[at(109)..at(111)].copy_from_slice(&(1u16 << 2).to_le_bytes());
    b[at(112)..at(116)].copy_from_slice(&HW_REDUCED_ACPI.to_le_bytes());
    b[at(131)] = 5; // FADT minor version: ACPI 6.5
    b[at(140)..at(148)].copy_from_slice(&dsdt_gpa.to_le_bytes());
    sdt(b"FACP", 6, &b)
}

/// The DSDT: COM1 and the virtio-mmio devices at `(base, len, gsi)`.
pub(crate) fn dsdt(virtio: &[(u64, u32, u32)]) -> Vec<u8> {
    sdt(b"DSDT", 2, &super::aml::dsdt_body(virtio))
}

/// The XSDT pointing at `tables`.
pub(crate) fn xsdt(tables: &[u64]) -> Vec<u8> {
    let body: Vec<u8> = tables.iter().flat_map(|a| a.to_le_bytes()).collect();
    sdt(b"XSDT", 1, &body)
}

/// The ACPI 2.0 RSDP pointing at the XSDT.
pub(crate) fn rsdp(xsdt_gpa: u64) -> [u8; 36] {
    let mut r = [0u8; 36];
    r[..8].copy_from_slice(b"RSD PTR ");
    r[9..15].copy_from_slice(OEM_ID);
    r[15] = 2; // revision: ACPI 2.0+
    r[20..24].copy_from_slice(&36u32.to_le_bytes());
    r[24..32].copy_from_slice(&xsdt_gpa.to_le_bytes());
    r[8] = checksum(&r[..20]);
    r[32] = checksum(&r);
    r
}

/// Writes RSDP, XSDT and MADT from `base`, and with `virtio` devices
/// (`(base, len, gsi)`) an FADT and a DSDT; returns the RSDP address.
pub(crate) fn write(
    mem: &GuestMemoryMmap,
    base: u64,
    virtio: &[(u64, u32, u32)],
) -> Result<u64, vm_memory::GuestMemoryError> {
    let rsdp_gpa = base;
    let xsdt_gpa = base + 64;
    let madt_gpa = xsdt_gpa + 64;
    let fadt_gpa = base + 0x100;
    let dsdt_gpa = base + 0x300;
    mem.write_slice(&madt(), GuestAddress(madt_gpa))?;
    let mut tables = vec![madt_gpa];
    if !virtio.is_empty() {
        mem.write_slice(&dsdt(virtio), GuestAddress(dsdt_gpa))?;
        mem.write_slice(&fadt(dsdt_gpa), GuestAddress(fadt_gpa))?;
        tables.push(fadt_gpa);
    }
    mem.write_slice(&xsdt(&tables), GuestAddress(xsdt_gpa))?;
    mem.write_slice(&rsdp(xsdt_gpa), GuestAddress(rsdp_gpa))?;
    Ok(rsdp_gpa)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums_to_zero(b: &[u8]) -> bool {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x)) == 0
    }

    #[test]
    fn tables_checksum_and_lengths() {
        let m = madt();
        assert!(sums_to_zero(&m));
        assert_eq!(
            u32::from_le_bytes(m[4..8].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(m.len(), 36 + 8 + 8 + 12 + 10);
        let x = xsdt(&[0x1234]);
        assert!(sums_to_zero(&x));
        assert_eq!(&x[36..44], &0x1234u64.to_le_bytes());
        let r = rsdp(0xe_0040);
        assert!(sums_to_zero(&r[..20]));
        assert!(sums_to_zero(&r));
        assert_eq!(&r[..8], b"RSD PTR ");
    }

    #[test]
    fn written_chain_is_walkable() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
        let rsdp_gpa = write(&mem, 0xe_0000, &[]).unwrap();
        let xsdt_gpa: u64 = mem.read_obj(GuestAddress(rsdp_gpa + 24)).unwrap();
        let entry: u64 = mem.read_obj(GuestAddress(xsdt_gpa + 36)).unwrap();
        let mut sig = [0u8; 4];
        mem.read_slice(&mut sig, GuestAddress(entry)).unwrap();
        assert_eq!(&sig, b"APIC");
        let lapic: u32 = mem.read_obj(GuestAddress(entry + 36)).unwrap();
        assert_eq!(u64::from(lapic), LAPIC_GPA);
        // No devices: the XSDT lists the MADT alone.
        let len: u32 = mem.read_obj(GuestAddress(xsdt_gpa + 4)).unwrap();
        assert_eq!(len, 36 + 8);
    }

    #[test]
    fn virtio_devices_add_a_reduced_fadt_and_its_dsdt() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
        let devices = [(0xd000_0000, 0x1000, 5), (0xd000_1000, 0x1000, 6)];
        let rsdp_gpa = write(&mem, 0xe_0000, &devices).unwrap();
        let xsdt_gpa: u64 = mem.read_obj(GuestAddress(rsdp_gpa + 24)).unwrap();
        let fadt_gpa: u64 = mem.read_obj(GuestAddress(xsdt_gpa + 44)).unwrap();
        let mut f = vec![0u8; 276];
        mem.read_slice(&mut f, GuestAddress(fadt_gpa)).unwrap();
        assert_eq!(&f[..4], b"FACP");
        assert!(sums_to_zero(&f));
        let flags = u32::from_le_bytes(f[112..116].try_into().unwrap());
        assert_eq!(flags & HW_REDUCED_ACPI, HW_REDUCED_ACPI);
        let x_dsdt = u64::from_le_bytes(f[140..148].try_into().unwrap());
        let d = dsdt(&devices);
        let mut back = vec![0u8; d.len()];
        mem.read_slice(&mut back, GuestAddress(x_dsdt)).unwrap();
        assert_eq!(back, d);
        assert!(sums_to_zero(&d) && &d[..4] == b"DSDT");
        assert!(x_dsdt >= fadt_gpa + 276, "the tables do not overlap");
        // Eight devices (the bus's most) still fit below the next page.
        assert!(0x300 + dsdt(&[(0xd000_0000, 0x1000, 5); 8]).len() < 0x1000);
    }
}
