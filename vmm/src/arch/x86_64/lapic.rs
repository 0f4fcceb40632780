//! Local APIC LINT pins: LINT0 as ExtINT (the PIC's output), LINT1 as NMI,
//! the wiring a PC firmware leaves for the kernel.
use kvm_bindings::kvm_lapic_state;

/// Offset of LVT LINT0 in the APIC register page.
pub(crate) const APIC_LVT0: usize = 0x350;
/// Offset of LVT LINT1.
pub(crate) const APIC_LVT1: usize = 0x360;
/// Delivery mode ExtINT.
pub(crate) const MODE_EXTINT: u32 = 0x7;
/// Delivery mode NMI.
pub(crate) const MODE_NMI: u32 = 0x4;

fn get(state: &kvm_lapic_state, off: usize) -> u32 {
    let b = &state.regs[off..off + 4];
    u32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
}

fn set(state: &mut kvm_lapic_state, off: usize, value: u32) {
    for (i, byte) in value.to_le_bytes().into_iter().enumerate() {
        state.regs[off + i] = byte as _;
    }
}

/// Sets delivery mode `mode` (bits 10:8) in an LVT entry, keeping the rest.
pub(crate) fn with_delivery_mode(reg: u32, mode: u32) -> u32 {
    (reg & !0x700) | (mode << 8)
}

/// Wires LINT0 to ExtINT and LINT1 to NMI in `state`.
pub(crate) fn wire_lint(state: &mut kvm_lapic_state) {
    let lvt0 = get(state, APIC_LVT0);
    set(state, APIC_LVT0, with_delivery_mode(lvt0, MODE_EXTINT));
    let lvt1 = get(state, APIC_LVT1);
    set(state, APIC_LVT1, with_delivery_mode(lvt1, MODE_NMI));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lint_pins_are_wired() {
        let mut s = kvm_lapic_state::default();
        set(&mut s, APIC_LVT0, 0x0001_0000); // masked, fixed
        wire_lint(&mut s);
        assert_eq!(get(&s, APIC_LVT0), 0x0001_0700);
        assert_eq!(get(&s, APIC_LVT1), 0x0000_0400);
        assert_eq!(get(&s, 0x340), 0);
    }
}
