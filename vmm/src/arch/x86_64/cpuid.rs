//! CPUID for a Linux guest: `KVM_GET_SUPPORTED_CPUID`, normalised for one vCPU.
//!
//! What changes: the APIC id and topology say "one CPU, id = vCPU id"; the
//! hypervisor bit is set (without it Linux finds no kvm-clock and its TSC
//! calibration fails); the TSC-deadline bit is set when the in-kernel LAPIC
//! emulates it (KVM does not report it as supported, yet it speeds boot).
use kvm_bindings::kvm_cpuid_entry2;

/// Leaf 1 ECX: TSC-deadline timer.
pub(crate) const ECX_TSC_DEADLINE: u32 = 1 << 24;
/// Leaf 1 ECX: running under a hypervisor.
pub(crate) const ECX_HYPERVISOR: u32 = 1 << 31;

/// Normalises supported CPUID entries for vCPU `apic_id` of a one-vCPU VM.
pub(crate) fn normalize(entries: &mut [kvm_cpuid_entry2], apic_id: u8, tsc_deadline: bool) {
    for e in entries.iter_mut() {
        match e.function {
            0x1 => {
                // EBX[31:24] initial APIC id, [23:16] logical processors.
                e.ebx = (e.ebx & 0x0000_ffff) | (u32::from(apic_id) << 24) | (1 << 16);
                e.ecx |= ECX_HYPERVISOR;
                if tsc_deadline {
                    e.ecx |= ECX_TSC_DEADLINE;
                }
            }
            0x4 => {
                // EAX[31:26] cores per package - 1, [25:14] threads sharing this cache - 1.
                e.eax &= 0x0000_3fff;
            }
            0xb | 0x1f => {
                // Extended topology: one thread per core, one core per package.
                e.edx = u32::from(apic_id);
                e.eax = 0;
                e.ebx = if e.index < 2 { 1 } else { 0 };
                let level_type = match e.index {
                    0 => 1, // SMT
                    1 => 2, // core
                    _ => 0, // invalid: end of list
                };
                e.ecx = (level_type << 8) | (e.index & 0xff);
            }
            0x8000_0008 => {
                // ECX[7:0]: number of cores - 1 (AMD).
                e.ecx &= !0xff;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(function: u32, index: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 {
            function,
            index,
            eax: 0xffff_ffff,
            ebx: 0xffff_ffff,
            ecx: 0x0000_0001,
            edx: 0xffff_ffff,
            ..Default::default()
        }
    }

    #[test]
    fn one_cpu_with_hypervisor_and_deadline_bits() {
        let mut e = [
            leaf(1, 0),
            leaf(4, 0),
            leaf(0xb, 0),
            leaf(0xb, 1),
            leaf(0xb, 2),
        ];
        normalize(&mut e, 0, true);
        assert_eq!(e[0].ebx >> 24, 0);
        assert_eq!((e[0].ebx >> 16) & 0xff, 1);
        assert_eq!(e[0].ebx & 0xffff, 0xffff, "CLFLUSH size and brand kept");
        assert_ne!(e[0].ecx & ECX_HYPERVISOR, 0);
        assert_ne!(e[0].ecx & ECX_TSC_DEADLINE, 0);
        assert_eq!(e[0].ecx & 1, 1, "other features kept");
        assert_eq!(e[1].eax >> 14, 0);
        assert_eq!((e[2].edx, e[2].ebx, e[2].ecx), (0, 1, 0x100));
        assert_eq!((e[3].ebx, e[3].ecx), (1, 0x201));
        assert_eq!((e[4].ebx, e[4].ecx), (0, 2));
    }

    #[test]
    fn deadline_bit_only_when_asked() {
        let mut e = [leaf(1, 0)];
        e[0].ecx = 0;
        normalize(&mut e, 3, false);
        assert_eq!(e[0].ecx, ECX_HYPERVISOR);
        assert_eq!(e[0].ebx >> 24, 3);
    }
}
