//! Model-specific registers set before a Linux guest's first instruction.
use kvm_bindings::{kvm_msr_entry, Msrs};

/// IA32_MISC_ENABLE.
pub(crate) const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
/// IA32_MISC_ENABLE: fast string operations.
pub(crate) const MISC_ENABLE_FAST_STRING: u64 = 1;
/// Default memory type of the MTRRs.
pub(crate) const MSR_MTRR_DEF_TYPE: u32 = 0x2ff;
/// MTRRs enabled, default type write-back.
pub(crate) const MTRR_ENABLE_WB: u64 = (1 << 11) | 6;

/// The boot MSRs: SYSENTER/SYSCALL state cleared, fast strings on, memory write-back.
pub(crate) fn boot_entries() -> Vec<(u32, u64)> {
    vec![
        (0x174, 0),       // IA32_SYSENTER_CS
        (0x175, 0),       // IA32_SYSENTER_ESP
        (0x176, 0),       // IA32_SYSENTER_EIP
        (0xc000_0081, 0), // STAR
        (0xc000_0082, 0), // LSTAR
        (0xc000_0083, 0), // CSTAR
        (0xc000_0084, 0), // SYSCALL_MASK
        (0xc000_0102, 0), // KERNEL_GS_BASE
        (0x10, 0),        // TSC
        (MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
        (MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB),
    ]
}

/// The boot MSRs as KVM's `kvm_msrs` list.
pub(crate) fn boot_msrs() -> Msrs {
    let entries: Vec<kvm_msr_entry> = boot_entries()
        .into_iter()
        .map(|(index, data)| kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect();
    Msrs::from_entries(&entries).expect("a handful of MSRs fit a kvm_msrs list")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_msrs_are_listed_once_each() {
        let msrs = boot_msrs();
        let idx: Vec<u32> = msrs.as_slice().iter().map(|e| e.index).collect();
        let mut sorted = idx.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), idx.len());
        let def = msrs
            .as_slice()
            .iter()
            .find(|e| e.index == MSR_MTRR_DEF_TYPE);
        assert_eq!(def.unwrap().data, MTRR_ENABLE_WB);
    }
}
