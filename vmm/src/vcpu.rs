//! The one vCPU: created on the VM, its registers set for the guest's entry.
//!
//! The bare guest needs two ioctls (`KVM_SET_SREGS`, `KVM_SET_REGS`): no CPUID,
//! MSR or FPU setup, since it uses none of what they configure. A Linux guest
//! gets normalised CPUID, the boot MSRs, LAPIC LINT wiring and FPU state too.
use kvm_bindings::{CpuId, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};

use crate::arch::x86_64::{cpuid, lapic, msr, regs};

/// Errors setting up the vCPU.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `KVM_CREATE_VCPU` failed.
    #[error("KVM could not create the vCPU")]
    Create(#[source] kvm_ioctls::Error),
    /// A register-setting ioctl failed.
    #[error("KVM rejected the vCPU's {what}")]
    Set {
        /// Which state.
        what: &'static str,
        /// What KVM reported.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// KVM accepted fewer MSRs than given.
    #[error("KVM accepted only {set} of {total} boot MSRs")]
    Msrs {
        /// Accepted.
        set: usize,
        /// Given.
        total: usize,
    },
}

fn set<T>(what: &'static str, r: Result<T, kvm_ioctls::Error>) -> Result<T, Error> {
    r.map_err(|source| Error::Set { what, source })
}

/// Creates vCPU 0.
pub(crate) fn create(vm: &VmFd) -> Result<VcpuFd, Error> {
    vm.create_vcpu(0).map_err(Error::Create)
}

/// `KVM_GET_TSC_KHZ` (`_IO(KVMIO, 0xa3)`): on a VM fd, the frequency its
/// new vCPUs get (Linux 6.0, `KVM_CAP_VM_TSC_CONTROL`).
const KVM_GET_TSC_KHZ: libc::c_ulong = 0xaea3;

/// The TSC frequency KVM gives the guest, in kHz (0 when KVM cannot say):
/// asked of the VM where KVM answers there (no vCPU ioctl, which costs
/// about 10 us on software nested KVM), else of the vCPU.
pub(crate) fn tsc_khz(vm: &VmFd, vcpu: &VcpuFd) -> u32 {
    use std::os::fd::AsRawFd;
    // SAFETY: KVM_GET_TSC_KHZ takes no argument and only returns a value;
    // on a fd that does not know it, the call fails with an errno.
    let r = unsafe { libc::ioctl(vm.as_raw_fd(), KVM_GET_TSC_KHZ) };
    match u32::try_from(r) {
        Ok(khz) if khz > 0 => khz,
        _ => vcpu.get_tsc_khz().unwrap_or(0),
    }
}

/// Sets what every guest needs: special and general registers.
pub(crate) fn set_entry(
    vcpu: &VcpuFd,
    mode: regs::EntryMode,
    r: &kvm_bindings::kvm_regs,
) -> Result<(), Error> {
    set("special registers", vcpu.set_sregs(&regs::sregs(mode)))?;
    set("general registers", vcpu.set_regs(r))
}

/// The supported CPUID, normalised for this vCPU.
pub(crate) fn linux_cpuid(kvm: &Kvm) -> Result<CpuId, Error> {
    let mut cpuid = set(
        "CPUID (KVM_GET_SUPPORTED_CPUID)",
        kvm.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES),
    )?;
    let deadline = kvm.check_extension(Cap::TscDeadlineTimer);
    cpuid::normalize(cpuid.as_mut_slice(), 0, deadline);
    Ok(cpuid)
}

/// CPUID, boot MSRs, LAPIC LINT pins and FPU for a Linux guest (call before [`set_entry`]).
pub(crate) fn set_linux_state(kvm: &Kvm, vcpu: &VcpuFd) -> Result<(), Error> {
    set("CPUID", vcpu.set_cpuid2(&linux_cpuid(kvm)?))?;
    let msrs = msr::boot_msrs();
    let n = set("boot MSRs", vcpu.set_msrs(&msrs))?;
    if n != msrs.as_slice().len() {
        return Err(Error::Msrs {
            set: n,
            total: msrs.as_slice().len(),
        });
    }
    let mut state = set("local APIC (get)", vcpu.get_lapic())?;
    lapic::wire_lint(&mut state);
    set("local APIC", vcpu.set_lapic(&state))?;
    set("FPU state", vcpu.set_fpu(&regs::fpu()))
}
