//! Register state for guest entry: special registers (control registers,
//! EFER, segments, descriptor tables), general registers and the FPU.
use kvm_bindings::{kvm_fpu, kvm_regs, kvm_sregs};

use super::gdt;
use crate::layout::{GDT_GPA, LAPIC_GPA};

/// CR0: protection enable.
pub(crate) const CR0_PE: u64 = 1;
/// CR0: monitor coprocessor.
pub(crate) const CR0_MP: u64 = 1 << 1;
/// CR0: extension type.
pub(crate) const CR0_ET: u64 = 1 << 4;
/// CR0: numeric error.
pub(crate) const CR0_NE: u64 = 1 << 5;
/// CR0: write protect.
pub(crate) const CR0_WP: u64 = 1 << 16;
/// CR0: paging.
pub(crate) const CR0_PG: u64 = 1 << 31;
/// CR4: physical address extension.
pub(crate) const CR4_PAE: u64 = 1 << 5;
/// CR4: FXSAVE/FXRSTOR and SSE enabled.
pub(crate) const CR4_OSFXSR: u64 = 1 << 9;
/// CR4: unmasked SSE exceptions.
pub(crate) const CR4_OSXMMEXCPT: u64 = 1 << 10;
/// EFER: long mode enable.
pub(crate) const EFER_LME: u64 = 1 << 8;
/// EFER: long mode active.
pub(crate) const EFER_LMA: u64 = 1 << 10;
/// APIC base MSR: this is the bootstrap processor.
const APIC_BASE_BSP: u64 = 1 << 8;
/// APIC base MSR: xAPIC enabled.
const APIC_BASE_ENABLE: u64 = 1 << 11;

/// Where a guest starts, in which mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryMode {
    /// 64-bit long mode with identity paging (CR3 = page tables).
    Long {
        /// The PML4's guest-physical address.
        cr3: u64,
    },
    /// 32-bit protected mode, paging off (PVH).
    Protected32,
}

/// Special registers for `mode`, built from scratch (no `KVM_GET_SREGS` needed).
pub(crate) fn sregs(mode: EntryMode) -> kvm_sregs {
    let mut s = kvm_sregs::default();
    let (code, cr0, cr3, cr4, efer) = match mode {
        EntryMode::Long { cr3 } => (
            gdt::CODE64_SEL,
            CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG,
            cr3,
            CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT,
            EFER_LME | EFER_LMA,
        ),
        EntryMode::Protected32 => (gdt::CODE32_SEL, CR0_PE | CR0_ET, 0, 0, 0),
    };
    s.cs = gdt::segment(code);
    let data = gdt::segment(gdt::DATA_SEL);
    (s.ds, s.es, s.fs, s.gs, s.ss) = (data, data, data, data, data);
    s.tr = gdt::segment(gdt::TSS_SEL);
    s.ldt.type_ = 2; // an unusable LDT, as after reset
    s.ldt.present = 1;
    s.ldt.limit = 0xffff;
    s.ldt.unusable = 1;
    s.gdt.base = GDT_GPA;
    s.gdt.limit = (gdt::GDT.len() * 8 - 1) as u16;
    // An empty IDT: any exception before the guest installs its own is a triple fault.
    s.idt.base = 0;
    s.idt.limit = 0;
    (s.cr0, s.cr3, s.cr4, s.efer) = (cr0, cr3, cr4, efer);
    s.apic_base = LAPIC_GPA | APIC_BASE_BSP | APIC_BASE_ENABLE;
    s
}

/// General registers: entry point, stack, and the first two arguments
/// (`rdi`, `rsi`; PVH also wants the start-info pointer in `rbx`).
pub(crate) fn regs(rip: u64, rsp: u64, rdi: u64, rsi: u64, rbx: u64) -> kvm_regs {
    kvm_regs {
        rip,
        rsp,
        rbp: rsp,
        rdi,
        rsi,
        rbx,
        rflags: 0x2, // reserved bit 1; interrupts off
        ..Default::default()
    }
}

/// The FPU state after `FNINIT`, with default SSE control.
pub(crate) fn fpu() -> kvm_fpu {
    kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_mode() {
        let s = sregs(EntryMode::Long { cr3: 0x9000 });
        assert_eq!(s.cr0, 0x8001_0033);
        assert_eq!(s.cr4 & CR4_PAE, CR4_PAE);
        assert_eq!(s.efer, EFER_LME | EFER_LMA);
        assert_eq!(s.cr3, 0x9000);
        assert_eq!((s.cs.l, s.cs.selector), (1, gdt::CODE64_SEL));
        assert_eq!(s.ss.selector, gdt::DATA_SEL);
        assert_eq!(s.gdt.limit, 39);
        assert_eq!(s.apic_base, 0xfee0_0900);
    }

    #[test]
    fn pvh_is_flat_32_bit_without_paging() {
        let s = sregs(EntryMode::Protected32);
        assert_eq!(s.cr0 & CR0_PG, 0);
        assert_eq!(s.cr0 & CR0_PE, CR0_PE);
        assert_eq!(s.efer, 0);
        assert_eq!((s.cs.l, s.cs.db, s.cs.selector), (0, 1, gdt::CODE32_SEL));
    }

    #[test]
    fn general_registers() {
        let r = regs(0x10_0000, 0x8_0000, 0x7000, 1, 2);
        assert_eq!(
            (r.rip, r.rsp, r.rdi, r.rsi, r.rbx),
            (0x10_0000, 0x8_0000, 0x7000, 1, 2)
        );
        assert_eq!(r.rflags, 2);
        assert_eq!(fpu().fcw, 0x37f);
    }
}
