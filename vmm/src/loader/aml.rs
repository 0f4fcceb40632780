//! Just enough AML (ACPI Machine Language, ACPI 6.5 §20) to describe
//! virtio-mmio devices to Linux in a DSDT: scopes, devices, named
//! strings, integers and buffers, and the two resource descriptors a
//! virtio-mmio device needs (its register window and its interrupt).
//! Linux's `virtio_mmio` driver binds to ACPI devices with `_HID`
//! `LNRO0005`, which is how a kernel without
//! `CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES` (Debian's) finds them.
//!
//! The DSDT also describes COM1 (`PNP0501`, its ports and ISA interrupt
//! 4): with a hardware-reduced FADT Linux drops the legacy PIC and maps
//! no ISA interrupt by itself, so the legacy serial port's interrupt
//! would reach no handler and the guest's writes to its console tty
//! (the workload's results) would never be sent. Described here, Linux's
//! `8250_pnp` driver takes the port and maps its interrupt.

/// `PkgLength` for `len` bytes of content: the encoding counts itself.
pub(crate) fn pkg_length(len: usize) -> Vec<u8> {
    // One byte holds up to 63 in all; n more bytes add 4 + 8n bits.
    if len < 63 {
        return vec![(len + 1) as u8];
    }
    for extra in 1..=3usize {
        let total = len + 1 + extra;
        if total < 1 << (4 + 8 * extra) {
            let mut b = vec![((extra as u8) << 6) | (total & 0xf) as u8];
            b.extend((0..extra).map(|i| (total >> (4 + 8 * i)) as u8));
            return b;
        }
    }
    panic!("AML package of {len} bytes exceeds 2^28");
}

/// A four-character name segment (`_HID`, `VR00`).
fn name_seg(name: &str) -> [u8; 4] {
    let b = name.as_bytes();
    assert!(b.len() == 4, "AML name segments are 4 characters: {name}");
    [b[0], b[1], b[2], b[3]]
}

/// An integer constant, in the shortest encoding.
pub(crate) fn integer(v: u64) -> Vec<u8> {
    match v {
        0 => vec![0x00],
        1 => vec![0x01],
        2..=0xff => vec![0x0a, v as u8],
        0x100..=0xffff => [&[0x0b][..], &(v as u16).to_le_bytes()].concat(),
        0x1_0000..=0xffff_ffff => [&[0x0c][..], &(v as u32).to_le_bytes()].concat(),
        _ => [&[0x0e][..], &v.to_le_bytes()].concat(),
    }
}

/// A string constant.
pub(crate) fn string(s: &str) -> Vec<u8> {
    [&[0x0d][..], s.as_bytes(), &[0]].concat()
}

/// `Name (NAME, value)`.
pub(crate) fn name(n: &str, value: &[u8]) -> Vec<u8> {
    [&[0x08][..], &name_seg(n), value].concat()
}

/// `Buffer () { bytes }`.
pub(crate) fn buffer(bytes: &[u8]) -> Vec<u8> {
    let body = [integer(bytes.len() as u64).as_slice(), bytes].concat();
    [&[0x11][..], &pkg_length(body.len()), &body].concat()
}

/// `Device (NAME) { body }`.
pub(crate) fn device(n: &str, body: &[u8]) -> Vec<u8> {
    let content = [&name_seg(n)[..], body].concat();
    [&[0x5b, 0x82][..], &pkg_length(content.len()), &content].concat()
}

/// `Scope (\_SB) { body }`: the system bus, where devices live.
pub(crate) fn system_bus(body: &[u8]) -> Vec<u8> {
    let content = [&b"\\_SB_"[..], body].concat();
    [&[0x10][..], &pkg_length(content.len()), &content].concat()
}

/// `Memory32Fixed (ReadWrite, base, len)`.
pub(crate) fn memory32_fixed(base: u32, len: u32) -> Vec<u8> {
    [
        &[0x86, 9, 0, 1][..],
        &base.to_le_bytes(),
        &len.to_le_bytes(),
    ]
    .concat()
}

/// `Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }`.
pub(crate) fn edge_interrupt(gsi: u32) -> Vec<u8> {
    // Flags: bit 0 consumer, bit 1 edge; active high, exclusive.
    [&[0x89, 6, 0, 0b11, 1][..], &gsi.to_le_bytes()].concat()
}

/// `IO (Decode16, port, port, 0, len)`: a fixed 16-bit decoded port range.
pub(crate) fn io_port(port: u16, len: u8) -> Vec<u8> {
    let p = port.to_le_bytes();
    vec![0x47, 0x01, p[0], p[1], p[0], p[1], 0x00, len]
}

/// `IRQNoFlags () { irq }`: an ISA interrupt (edge, active high).
pub(crate) fn isa_irq(irq: u8) -> Vec<u8> {
    assert!(irq < 16, "ISA interrupts are 0 to 15: {irq}");
    let mask = (1u16 << irq).to_le_bytes();
    vec![0x22, mask[0], mask[1]]
}

/// `ResourceTemplate () { descriptors }`: a buffer ending in the end tag.
pub(crate) fn resource_template(descriptors: &[u8]) -> Vec<u8> {
    // End tag with a zero checksum ("the checksum is correct").
    buffer(&[descriptors, &[0x79, 0]].concat())
}

/// COM1 (`\_SB.COM1`, `_HID` `PNP0501`): ports 0x3f8 to 0x3ff, ISA
/// interrupt 4.
pub(crate) fn com1() -> Vec<u8> {
    let resources = [io_port(0x3f8, 8), isa_irq(4)].concat();
    let body = [
        name("_HID", &string("PNP0501")),
        name("_UID", &integer(0)),
        name("_CRS", &resource_template(&resources)),
    ]
    .concat();
    device("COM1", &body)
}

/// The DSDT body (AML): COM1 ([`com1`]) and the virtio-mmio devices at
/// `(base, len, gsi)`.
pub(crate) fn dsdt_body(devices: &[(u64, u32, u32)]) -> Vec<u8> {
    let mut body = com1();
    body.extend(virtio_mmio_device_list(devices));
    system_bus(&body)
}

/// The DSDT body (AML) for virtio-mmio devices at `(base, len, gsi)`:
/// `\_SB.VRnn`, `_HID` `LNRO0005`, `_UID` nn.
#[cfg(test)]
pub(crate) fn virtio_mmio_devices(devices: &[(u64, u32, u32)]) -> Vec<u8> {
    system_bus(&virtio_mmio_device_list(devices))
}

/// The virtio-mmio devices at `(base, len, gsi)`, outside any scope.
fn virtio_mmio_device_list(devices: &[(u64, u32, u32)]) -> Vec<u8> {
    let body: Vec<u8> = devices
        .iter()
        .enumerate()
        .flat_map(|(i, &(base, len, gsi))| {
            let resources = [memory32_fixed(base as u32, len), edge_interrupt(gsi)].concat();
            let body = [
                name("_HID", &string("LNRO0005")),
                name("_UID", &integer(i as u64)),
                name("_CRS", &resource_template(&resources)),
            ]
            .concat();
            device(&format!("VR{i:02X}"), &body)
        })
        .collect();
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lengths_count_themselves() {
        assert_eq!(pkg_length(0), [1]);
        assert_eq!(pkg_length(62), [63]);
        // 63 + 2 = 65 = 0x41: low nibble 1, then 0x41 >> 4 = 4.
        assert_eq!(pkg_length(63), [0x41, 0x04]);
        assert_eq!(pkg_length(4093), [0x4f, 0xff]);
        // 4094 + 3 = 4097 = 0x1001.
        assert_eq!(pkg_length(4094), [0x81, 0x00, 0x01]);
    }

    #[test]
    fn constants_take_the_shortest_form() {
        assert_eq!(integer(0), [0]);
        assert_eq!(integer(1), [1]);
        assert_eq!(integer(5), [0x0a, 5]);
        assert_eq!(integer(0x1234), [0x0b, 0x34, 0x12]);
        assert_eq!(integer(0xd000_0000), [0x0c, 0, 0, 0, 0xd0]);
        assert_eq!(string("AB"), [0x0d, b'A', b'B', 0]);
    }

    #[test]
    fn com1_encodes_as_iasl_would() {
        let crs = [
            0x47, 1, 0xf8, 3, 0xf8, 3, 0, 8, // IO (Decode16, 0x3F8, 0x3F8, 0, 8)
            0x22, 0x10, 0, // IRQNoFlags () {4}
            0x79, 0, // end tag
        ];
        let mut dev = vec![0x5b, 0x82, 0, b'C', b'O', b'M', b'1'];
        dev.extend([0x08, b'_', b'H', b'I', b'D', 0x0d]);
        dev.extend(b"PNP0501\0");
        dev.extend([0x08, b'_', b'U', b'I', b'D', 0x00]);
        dev.extend([0x08, b'_', b'C', b'R', b'S', 0x11, 16, 0x0a, 13]);
        dev.extend(crs);
        dev[2] = (dev.len() - 2) as u8;
        assert_eq!(com1(), dev);
        let dsdt = dsdt_body(&[(0xd000_0000, 0x1000, 5)]);
        assert!(dsdt.windows(7).any(|w| w == b"PNP0501"));
        assert!(dsdt.windows(8).any(|w| w == b"LNRO0005"));
        assert_eq!(&dsdt[..1], [0x10], "one scope, \\_SB");
    }

    #[test]
    fn one_virtio_device_encodes_as_iasl_would() {
        let aml = virtio_mmio_devices(&[(0xd000_0000, 0x1000, 5)]);
        let crs = [
            0x86, 9, 0, 1, 0, 0, 0, 0xd0, 0, 0x10, 0, 0, // Memory32Fixed
            0x89, 6, 0, 3, 1, 5, 0, 0, 0, // Interrupt { 5 }
            0x79, 0, // end tag
        ];
        // The scope holds 5 + 60 bytes: PkgLength 67 = 0x43 in two bytes.
        let mut want = vec![0x10, 0x43, 0x04, b'\\', b'_', b'S', b'B', b'_'];
        let mut dev = vec![0x5b, 0x82, 0, b'V', b'R', b'0', b'0'];
        dev.extend([0x08, b'_', b'H', b'I', b'D', 0x0d]);
        dev.extend(b"LNRO0005\0");
        dev.extend([0x08, b'_', b'U', b'I', b'D', 0x00]);
        dev.extend([0x08, b'_', b'C', b'R', b'S', 0x11, 26, 0x0a, 23]);
        dev.extend(crs);
        dev[2] = (dev.len() - 2) as u8; // PkgLength of the device, one byte
        assert_eq!(dev.len(), 60);
        want.extend(&dev);
        assert_eq!(aml, want);
        // Two devices: names and ids count up.
        let two = virtio_mmio_devices(&[(0xd000_0000, 0x1000, 5), (0xd000_1000, 0x1000, 6)]);
        assert!(two.windows(4).any(|w| w == b"VR01"));
        assert_eq!(two.windows(8).filter(|w| w == b"LNRO0005").count(), 2);
    }
}
