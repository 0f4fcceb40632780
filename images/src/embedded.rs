//! The binaries built by `build.rs` (nested release build), embedded.
//!
//! Both are static: the workload runs as PID 1 in an empty rootfs, the guest
//! is a freestanding ELF the VMM loads at 1 MiB.

/// The static Linux workload binary (`vmlab-workload`, release, stripped).
pub const WORKLOAD: &[u8] = include_bytes!(env!("VMLAB_EMBEDDED_WORKLOAD"));

/// The bare KVM guest ELF (`vmlab-guest`, release, stripped).
pub const GUEST: &[u8] = include_bytes!(env!("VMLAB_EMBEDDED_GUEST"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_are_elf_executables() {
        for bin in [WORKLOAD, GUEST] {
            assert_eq!(&bin[..4], b"\x7fELF");
            // e_type: ET_EXEC (static, non-PIE) or ET_DYN (static-pie).
            let e_type = u16::from_le_bytes([bin[16], bin[17]]);
            assert!(e_type == 2 || e_type == 3, "e_type {e_type}");
        }
    }

    #[test]
    fn the_guest_stays_small_and_carries_its_pvh_entry() {
        // About 105 KiB since the I/O kernels: smoltcp's TCP/IP stack and
        // the virtio drivers are most of it; still two orders of magnitude
        // below a Linux kernel and initramfs.
        assert!(GUEST.len() < 128 * 1024, "{} bytes", GUEST.len());
        // XEN_ELFNOTE_PHYS32_ENTRY (18) in a "Xen" note: what stock VMMs
        // look for to boot an ELF through PVH.
        let note = [4u32.to_le_bytes(), 8u32.to_le_bytes(), 18u32.to_le_bytes()].concat();
        let found = GUEST
            .windows(note.len() + 4)
            .any(|w| w[..note.len()] == note[..] && &w[note.len()..] == b"Xen\0");
        assert!(found, "no PVH entry note in the guest");
    }
}
