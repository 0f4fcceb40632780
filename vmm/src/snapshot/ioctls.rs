//! Reading the vCPU's and VM's state out of KVM and setting it back.
//!
//! Restore order (with ioctls): CPUID, special then general registers,
//! xsave (which holds the FPU; the FPU alone where xsave is not saved),
//! XCRs, MSRs (after the special registers: EFER is in both), debug
//! registers, LAPIC (then the TSC deadline once more: KVM keeps a deadline
//! only in the LAPIC's TSC-deadline mode), mp_state, events (pending
//! exceptions and interrupt shadow last); the VM's irqchip, PIT and clock
//! are set before. State a fresh vCPU already holds is not set again; the
//! bare guest's registers and events can ride in the run area instead
//! ([`apply_vcpu`]).
use kvm_bindings::{
    kvm_irqchip, kvm_msr_entry, CpuId, Msrs, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER,
    KVM_IRQCHIP_PIC_SLAVE, KVM_MAX_CPUID_ENTRIES,
};
use kvm_ioctls::{Cap, Kvm, SyncReg, VcpuFd, VmFd};

use super::state::{Vcpu, Vm};
use super::Error;

fn kvm<T>(what: &'static str, r: Result<T, kvm_ioctls::Error>) -> Result<T, Error> {
    r.map_err(|source| Error::Ioctl { what, source })
}

/// One MSR in a list of its own.
fn one(index: u32, data: u64) -> Msrs {
    Msrs::from_entries(&[kvm_msr_entry {
        index,
        data,
        ..Default::default()
    }])
    .expect("one entry fits a KVM MSR list")
}

/// The MSRs KVM lists for save and restore (`KVM_GET_MSR_INDEX_LIST`)
/// whose value reads and sets back on `vcpu`, with their values. Some
/// listed MSRs depend on CPU features this vCPU lacks; they are left out.
pub(crate) fn msrs(kvm_fd: &Kvm, vcpu: &VcpuFd) -> Result<Vec<kvm_msr_entry>, Error> {
    let list = kvm(
        "list the MSRs (KVM_GET_MSR_INDEX_LIST)",
        kvm_fd.get_msr_index_list(),
    )?;
    let mut kept = Vec::new();
    for &index in list.as_slice() {
        let mut m = one(index, 0);
        if vcpu.get_msrs(&mut m).ok() != Some(1) {
            continue;
        }
        let data = m.as_slice()[0].data;
        if vcpu.set_msrs(&one(index, data)).ok() == Some(1) {
            kept.push(m.as_slice()[0]);
        }
    }
    Ok(kept)
}

/// Whether KVM's xsave area fits `kvm_xsave` (it does not with AMX).
fn xsave_fits(vm: &VmFd) -> bool {
    let size = vm.check_extension_int(Cap::Xsave2);
    size <= 0 || size as usize <= std::mem::size_of::<kvm_bindings::kvm_xsave>()
}

/// Reads vCPU 0's state (the vCPU must be at an instruction boundary:
/// see [`crate::vm::complete_io`]).
pub(crate) fn capture_vcpu(
    kvm_fd: &Kvm,
    vm: &VmFd,
    vcpu: &VcpuFd,
    irqchip: bool,
) -> Result<Vcpu, Error> {
    let xsave = if kvm_fd.check_extension(Cap::Xsave) && xsave_fits(vm) {
        Some(kvm("read xsave (KVM_GET_XSAVE)", vcpu.get_xsave())?)
    } else {
        None
    };
    let xcrs = if kvm_fd.check_extension(Cap::Xcrs) {
        Some(kvm("read the XCRs (KVM_GET_XCRS)", vcpu.get_xcrs())?)
    } else {
        None
    };
    let debugregs = if kvm_fd.check_extension(Cap::Debugregs) {
        Some(kvm("read the debug registers", vcpu.get_debug_regs())?)
    } else {
        None
    };
    let lapic = if irqchip {
        Some(kvm("read the LAPIC (KVM_GET_LAPIC)", vcpu.get_lapic())?)
    } else {
        None
    };
    let cpuid = kvm(
        "read the vCPU's CPUID (KVM_GET_CPUID2)",
        vcpu.get_cpuid2(KVM_MAX_CPUID_ENTRIES),
    )?;
    Ok(Vcpu {
        regs: kvm("read the registers (KVM_GET_REGS)", vcpu.get_regs())?,
        sregs: kvm("read the special registers", vcpu.get_sregs())?,
        fpu: kvm("read the FPU (KVM_GET_FPU)", vcpu.get_fpu())?,
        xsave,
        xcrs,
        msrs: msrs(kvm_fd, vcpu)?,
        lapic,
        events: kvm("read the vCPU events", vcpu.get_vcpu_events())?,
        mp_state: kvm("read the mp_state", vcpu.get_mp_state())?,
        debugregs,
        cpuid: cpuid.as_slice().to_vec(),
    })
}

/// A 64-bit TSS descriptor's type: available, and busy.
const TSS_AVAILABLE: u8 = 9;
const TSS_BUSY: u8 = 11;

/// The task register as an SVM guest's VMCB holds it: KVM on AMD SVM
/// reports the TSS as busy on every read (SVM does not keep the busy bit,
/// so KVM adds it), and setting that back makes an emulated SVM CPU (QEMU
/// TCG, `vmlab rig`'s L1) fault every port access a user process makes
/// with `ioperm`: it allows the TSS's I/O bitmap only with the available
/// type its own `ltr` keeps. SVM itself does not check the type, and on
/// VT-x (where VM entry needs the busy type) nothing changes.
pub(crate) fn tr_as_svm_holds_it(sregs: &mut kvm_bindings::kvm_sregs) {
    if sregs.tr.type_ == TSS_BUSY {
        sregs.tr.type_ = TSS_AVAILABLE;
    }
}

/// `KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS`: what
/// `KVM_CAP_SYNC_REGS` must offer for [`apply_vcpu`] to pass the registers
/// and events in the run area.
const SYNC_ALL: i32 = 0b111;

/// Whether `kvm` sets general and special registers and events from the
/// vCPU's run area on entry (`KVM_CAP_SYNC_REGS`).
pub(crate) fn can_sync_regs(kvm_fd: &Kvm) -> bool {
    kvm_fd.check_extension_int(Cap::SyncRegs) & SYNC_ALL == SYNC_ALL
}

/// DR6 and DR7 as KVM resets them (DR0-DR3 are zero).
const DR6_RESET: u64 = 0xffff_0ff0;
const DR7_RESET: u64 = 0x400;

/// Whether `d` is a fresh vCPU's debug state (nothing to set).
fn reset_debugregs(d: &kvm_bindings::kvm_debugregs) -> bool {
    d.db == [0; 4] && d.dr6 == DR6_RESET && d.dr7 == DR7_RESET
}

/// Whether `x` is a fresh vCPU's XCRs: XCR0 with x87 state only.
fn reset_xcrs(x: &kvm_bindings::kvm_xcrs) -> bool {
    x.nr_xcrs == 1 && x.xcrs[0].xcr == 0 && x.xcrs[0].value == 1
}

/// Sets `s` on a fresh vCPU, leaving out what a fresh vCPU already holds:
/// the FPU where xsave (which holds it) is set, debug registers and XCRs
/// at their reset values, a runnable mp_state. With `sync` (and no
/// in-kernel LAPIC: the bare guest), the general and special registers and
/// the events go in the run area and KVM sets them, in that order, on the
/// first `KVM_RUN` (three ioctls fewer; each vCPU ioctl costs about 10 us
/// on software nested KVM); otherwise each has its ioctl, in the order of
/// the module docs.
pub(crate) fn apply_vcpu(vcpu: &mut VcpuFd, s: &Vcpu, sync: bool) -> Result<(), Error> {
    let sync = sync && s.lapic.is_none();
    if !s.cpuid.is_empty() {
        let cpuid = CpuId::from_entries(&s.cpuid).map_err(|_| Error::Ioctl {
            what: "build the CPUID list",
            source: kvm_ioctls::Error::new(libc::E2BIG),
        })?;
        kvm("set the CPUID (KVM_SET_CPUID2)", vcpu.set_cpuid2(&cpuid))?;
    }
    if !sync {
        kvm("set the special registers", vcpu.set_sregs(&s.sregs))?;
        kvm("set the registers (KVM_SET_REGS)", vcpu.set_regs(&s.regs))?;
    }
    match &s.xsave {
        // SAFETY: `x` is a whole `kvm_xsave`, and one was only saved where
        // KVM's xsave area fits it (`xsave_fits`), so KVM reads no further.
        Some(x) => kvm("set xsave (KVM_SET_XSAVE)", unsafe { vcpu.set_xsave(x) })?,
        None => kvm("set the FPU (KVM_SET_FPU)", vcpu.set_fpu(&s.fpu))?,
    }
    if let Some(x) = s.xcrs.as_ref().filter(|x| !reset_xcrs(x)) {
        kvm("set the XCRs (KVM_SET_XCRS)", vcpu.set_xcrs(x))?;
    }
    if !s.msrs.is_empty() {
        let msrs = Msrs::from_entries(&s.msrs).map_err(|_| Error::Msrs {
            set: 0,
            total: s.msrs.len(),
        })?;
        let n = kvm("set the MSRs (KVM_SET_MSRS)", vcpu.set_msrs(&msrs))?;
        if n != s.msrs.len() {
            return Err(Error::Msrs {
                set: n,
                total: s.msrs.len(),
            });
        }
    }
    if let Some(d) = s.debugregs.as_ref().filter(|d| !reset_debugregs(d)) {
        kvm("set the debug registers", vcpu.set_debug_regs(d))?;
    }
    if let Some(l) = &s.lapic {
        kvm("set the LAPIC (KVM_SET_LAPIC)", vcpu.set_lapic(l))?;
        set_tsc_deadline(vcpu, &s.msrs)?;
    }
    if s.mp_state.mp_state != kvm_bindings::KVM_MP_STATE_RUNNABLE || s.lapic.is_some() {
        kvm("set the mp_state", vcpu.set_mp_state(s.mp_state))?;
    }
    if !sync {
        return kvm("set the vCPU events", vcpu.set_vcpu_events(&s.events));
    }
    let run = vcpu.sync_regs_mut();
    run.regs = s.regs;
    run.sregs = s.sregs;
    run.events = s.events;
    for r in [
        SyncReg::Register,
        SyncReg::SystemRegister,
        SyncReg::VcpuEvents,
    ] {
        vcpu.set_sync_dirty_reg(r);
    }
    Ok(())
}

/// IA32_TSC_DEADLINE: the LAPIC timer's deadline in TSC-deadline mode.
pub(crate) const MSR_IA32_TSC_DEADLINE: u32 = 0x6e0;

/// Sets the saved TSC deadline again once the LAPIC is back: KVM drops a
/// deadline written while the LAPIC timer is not in TSC-deadline mode, as
/// a fresh vCPU's is not when the MSRs go in, and a Linux guest whose
/// armed timer is lost never gets its next tick.
fn set_tsc_deadline(vcpu: &VcpuFd, msrs: &[kvm_msr_entry]) -> Result<(), Error> {
    let Some(d) = msrs.iter().find(|m| m.index == MSR_IA32_TSC_DEADLINE) else {
        return Ok(());
    };
    if d.data == 0 {
        return Ok(());
    }
    let n = kvm(
        "set the TSC deadline (KVM_SET_MSRS)",
        vcpu.set_msrs(&one(d.index, d.data)),
    )?;
    if n != 1 {
        return Err(Error::Msrs { set: n, total: 1 });
    }
    Ok(())
}

const CHIPS: [u32; 3] = [
    KVM_IRQCHIP_PIC_MASTER,
    KVM_IRQCHIP_PIC_SLAVE,
    KVM_IRQCHIP_IOAPIC,
];

/// Reads the VM's clock and, with the in-kernel irqchip, the PICs, IOAPIC and PIT.
pub(crate) fn capture_vm(vm: &VmFd, irqchip: bool) -> Result<Vm, Error> {
    let mut irqchips = Vec::new();
    let mut pit = None;
    if irqchip {
        for chip_id in CHIPS {
            let mut c = kvm_irqchip {
                chip_id,
                ..Default::default()
            };
            kvm("read the irqchip (KVM_GET_IRQCHIP)", vm.get_irqchip(&mut c))?;
            irqchips.push(c);
        }
        pit = Some(kvm("read the PIT (KVM_GET_PIT2)", vm.get_pit2())?);
    }
    Ok(Vm {
        clock: kvm("read the VM clock (KVM_GET_CLOCK)", vm.get_clock())?,
        irqchips,
        pit,
    })
}

/// Sets `s` on a fresh VM (irqchip and PIT created as the snapshot's were).
pub(crate) fn apply_vm(vm: &VmFd, s: &Vm) -> Result<(), Error> {
    for c in &s.irqchips {
        kvm("set the irqchip (KVM_SET_IRQCHIP)", vm.set_irqchip(c))?;
    }
    if let Some(p) = &s.pit {
        kvm("set the PIT (KVM_SET_PIT2)", vm.set_pit2(p))?;
    }
    // The clock as it was at the snapshot: no flags, so KVM does not add
    // the wall-clock time since (KVM_CLOCK_REALTIME) and the guest's clock
    // continues from where it stopped.
    let clock = kvm_bindings::kvm_clock_data {
        clock: s.clock.clock,
        ..Default::default()
    };
    kvm("set the VM clock (KVM_SET_CLOCK)", vm.set_clock(&clock))
}

/// CPUID leaves (function, index) that describe the host CPU's features:
/// vendor and highest leaf, family/model and feature flags, structured
/// extended features, the xsave components and sizes, extended features,
/// address sizes.
const FEATURE_LEAVES: [(u32, u32); 7] = [
    (0, 0),
    (1, 0),
    (7, 0),
    (0xd, 0),
    (0xd, 1),
    (0x8000_0001, 0),
    (0x8000_0008, 0),
];

/// This host CPU's feature leaves, read with the `cpuid` instruction (a
/// few leaves, not `KVM_GET_SUPPORTED_CPUID`'s whole list: that ioctl costs
/// about 0.4 ms on software nested KVM). The bare guest gets no CPUID
/// from the VMM, so the instructions and xsave state it may use are the
/// host CPU's; a Linux guest's CPUID is restored with the vCPU.
///
/// Read once per process and kept: the host's features do not change
/// while it runs, and each `cpuid` traps to the hypervisor under nested
/// KVM (about 60 us for the seven leaves here). A process's first restore
/// pays that; later ones compare against the kept leaves.
pub(crate) fn host_cpuid() -> &'static [kvm_bindings::kvm_cpuid_entry2] {
    static LEAVES: std::sync::OnceLock<Vec<kvm_bindings::kvm_cpuid_entry2>> =
        std::sync::OnceLock::new();
    LEAVES.get_or_init(read_host_cpuid)
}

fn read_host_cpuid() -> Vec<kvm_bindings::kvm_cpuid_entry2> {
    FEATURE_LEAVES
        .iter()
        .map(|&(function, index)| {
            let r = std::arch::x86_64::__cpuid_count(function, index);
            kvm_bindings::kvm_cpuid_entry2 {
                function,
                index,
                eax: r.eax,
                ebx: r.ebx,
                ecx: r.ecx,
                edx: r.edx,
                ..Default::default()
            }
        })
        .collect()
}

/// The first CPUID leaf where `a` and `b` differ, as "leaf L.I", or `None`
/// when they are the same features. Leaf 1's EBX bits 24..31 (the initial
/// APIC id) and leaf 0xb/0x1f EDX (x2APIC id) name the CPU asking, not a
/// feature, and are ignored.
pub(crate) fn cpuid_difference(
    a: &[kvm_bindings::kvm_cpuid_entry2],
    b: &[kvm_bindings::kvm_cpuid_entry2],
) -> Option<String> {
    let key = |e: &kvm_bindings::kvm_cpuid_entry2| {
        let mut e = *e;
        match e.function {
            1 => e.ebx &= 0x00ff_ffff,
            0xb | 0x1f => e.edx = 0,
            _ => {}
        }
        (e.function, e.index, e.flags, e.eax, e.ebx, e.ecx, e.edx)
    };
    if a.len() != b.len() {
        return Some(format!(
            "{} CPUID leaves, this host has {}",
            a.len(),
            b.len()
        ));
    }
    a.iter()
        .zip(b)
        .find(|(x, y)| key(x) != key(y))
        .map(|(x, _)| format!("CPUID leaf {:#x}.{}", x.function, x.index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvm_bindings::kvm_cpuid_entry2;

    fn leaf(function: u32, ebx: u32, ecx: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 {
            function,
            ebx,
            ecx,
            ..Default::default()
        }
    }

    #[test]
    fn only_a_busy_task_register_becomes_available() {
        let mut s = kvm_bindings::kvm_sregs::default();
        s.tr.type_ = TSS_BUSY;
        s.tr.base = 0xfffe_0000_0000_3000;
        tr_as_svm_holds_it(&mut s);
        assert_eq!(s.tr.type_, TSS_AVAILABLE);
        assert_eq!(s.tr.base, 0xfffe_0000_0000_3000);
        s.tr.type_ = 3;
        tr_as_svm_holds_it(&mut s);
        assert_eq!(s.tr.type_, 3, "a 16-bit TSS is left alone");
    }

    #[test]
    fn cpuid_differences_name_the_leaf_and_ignore_apic_ids() {
        let a = vec![leaf(0, 0, 0), leaf(1, 0x0100_0800, 0x8000_0001)];
        assert_eq!(cpuid_difference(&a, &a), None);
        let mut other_apic = a.clone();
        other_apic[1].ebx = 0x0300_0800;
        assert_eq!(cpuid_difference(&a, &other_apic), None);
        let mut no_feature = a.clone();
        no_feature[1].ecx = 0x8000_0000;
        assert_eq!(
            cpuid_difference(&a, &no_feature).as_deref(),
            Some("CPUID leaf 0x1.0")
        );
        assert!(cpuid_difference(&a, &a[..1])
            .unwrap()
            .contains("2 CPUID leaves"));
    }
}
