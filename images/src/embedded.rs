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
}
