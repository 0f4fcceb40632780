//! What a snapshot holds besides memory, and its encoding: little-endian
//! fields, KVM's structures as their bytes (zerocopy checks their layout:
//! no padding, every bit pattern valid), each length-prefixed.
use kvm_bindings::{
    kvm_clock_data, kvm_cpuid_entry2, kvm_debugregs, kvm_fpu, kvm_irqchip, kvm_lapic_state,
    kvm_mp_state, kvm_msr_entry, kvm_pit_state2, kvm_regs, kvm_sregs, kvm_vcpu_events, kvm_xcrs,
    kvm_xsave,
};
use vm_superio::serial::SerialState;
use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::devices::port::Unhandled;
use crate::jail::wire::bytes::{Malformed, R, W};

/// The machine a snapshot was taken of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// Guest RAM in MiB.
    pub mem_mib: u64,
    /// The TSC frequency KVM gave the guest (kHz).
    pub tsc_khz: u32,
    /// Whether the VM has the in-kernel irqchip and PIT.
    pub irqchip: bool,
    /// How the guest was entered (the report's `entry`).
    pub entry: String,
    /// From the start of the boot to the snapshot mark, ns.
    pub to_mark_ns: u64,
}

/// One vCPU's registers, as KVM hands them out.
pub(crate) struct Vcpu {
    pub regs: kvm_regs,
    pub sregs: kvm_sregs,
    pub fpu: kvm_fpu,
    /// Absent where KVM's xsave area is larger than `kvm_xsave` (AMX).
    pub xsave: Option<kvm_xsave>,
    pub xcrs: Option<kvm_xcrs>,
    /// The MSRs that read and set back, with their values.
    pub msrs: Vec<kvm_msr_entry>,
    /// With the in-kernel irqchip only.
    pub lapic: Option<kvm_lapic_state>,
    pub events: kvm_vcpu_events,
    pub mp_state: kvm_mp_state,
    pub debugregs: Option<kvm_debugregs>,
    /// The CPUID the VMM set (none for the bare guest).
    pub cpuid: Vec<kvm_cpuid_entry2>,
}

/// VM-wide state.
pub(crate) struct Vm {
    pub clock: kvm_clock_data,
    /// PIC master, PIC slave, IOAPIC (with the in-kernel irqchip).
    pub irqchips: Vec<kvm_irqchip>,
    pub pit: Option<kvm_pit_state2>,
}

/// The VMM's own devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Devices {
    pub serial: SerialState,
    pub rtc_index: u8,
    pub unhandled: Unhandled,
}

/// Everything but memory.
pub(crate) struct State {
    pub config: Config,
    /// The CPU feature leaves of the host that took it (`cpuid`): a restore
    /// on other features is refused.
    pub host_cpuid: Vec<kvm_cpuid_entry2>,
    pub vcpu: Vcpu,
    pub vm: Vm,
    pub devices: Devices,
}

fn pod<T: IntoBytes + Immutable>(w: &mut W, v: &T) {
    w.bytes(v.as_bytes());
}

fn opt<T: IntoBytes + Immutable>(w: &mut W, v: &Option<T>) {
    match v {
        Some(v) => {
            w.u8(1);
            pod(w, v);
        }
        None => w.u8(0),
    }
}

fn list<T: IntoBytes + Immutable>(w: &mut W, v: &[T]) {
    w.u64(v.len() as u64);
    v.iter().for_each(|e| pod(w, e));
}

fn get<T: FromBytes>(r: &mut R<'_>) -> Result<T, Malformed> {
    T::read_from_bytes(&r.bytes()?).map_err(|_| Malformed)
}

fn get_opt<T: FromBytes>(r: &mut R<'_>) -> Result<Option<T>, Malformed> {
    match r.u8()? {
        0 => Ok(None),
        1 => get(r).map(Some),
        _ => Err(Malformed),
    }
}

fn get_list<T: FromBytes>(r: &mut R<'_>, max: u64) -> Result<Vec<T>, Malformed> {
    let n = r.u64()?;
    if n > max {
        return Err(Malformed);
    }
    (0..n).map(|_| get(r)).collect()
}

/// Most entries of a CPUID or MSR list (KVM's own limits are lower).
const MAX_ENTRIES: u64 = 4096;

fn fpu(w: &mut W, f: &kvm_fpu) {
    f.fpr.iter().for_each(|r| w.0.extend_from_slice(r));
    w.u32(u32::from(f.fcw) | u32::from(f.fsw) << 16);
    w.u8(f.ftwx);
    w.u32(u32::from(f.last_opcode));
    w.u64(f.last_ip);
    w.u64(f.last_dp);
    f.xmm.iter().for_each(|r| w.0.extend_from_slice(r));
    w.u32(f.mxcsr);
}

fn get_fpu(r: &mut R<'_>) -> Result<kvm_fpu, Malformed> {
    let mut f = kvm_fpu::default();
    for reg in f.fpr.iter_mut() {
        reg.copy_from_slice(r.take(16)?);
    }
    let cw_sw = r.u32()?;
    f.fcw = cw_sw as u16;
    f.fsw = (cw_sw >> 16) as u16;
    f.ftwx = r.u8()?;
    f.last_opcode = u16::try_from(r.u32()?).map_err(|_| Malformed)?;
    f.last_ip = r.u64()?;
    f.last_dp = r.u64()?;
    for reg in f.xmm.iter_mut() {
        reg.copy_from_slice(r.take(16)?);
    }
    f.mxcsr = r.u32()?;
    Ok(f)
}

impl State {
    /// The state's bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut w = W::default();
        let c = &self.config;
        w.u64(c.mem_mib);
        w.u32(c.tsc_khz);
        w.u8(u8::from(c.irqchip));
        w.str(&c.entry);
        w.u64(c.to_mark_ns);
        list(&mut w, &self.host_cpuid);
        let v = &self.vcpu;
        pod(&mut w, &v.regs);
        pod(&mut w, &v.sregs);
        fpu(&mut w, &v.fpu);
        opt(&mut w, &v.xsave);
        opt(&mut w, &v.xcrs);
        list(&mut w, &v.msrs);
        opt(&mut w, &v.lapic);
        pod(&mut w, &v.events);
        pod(&mut w, &v.mp_state);
        opt(&mut w, &v.debugregs);
        list(&mut w, &v.cpuid);
        pod(&mut w, &self.vm.clock);
        list(&mut w, &self.vm.irqchips);
        opt(&mut w, &self.vm.pit);
        let d = &self.devices;
        let s = &d.serial;
        for b in [
            s.baud_divisor_low,
            s.baud_divisor_high,
            s.interrupt_enable,
            s.interrupt_identification,
            s.line_control,
            s.line_status,
            s.modem_control,
            s.modem_status,
            s.scratch,
        ] {
            w.u8(b);
        }
        w.bytes(&s.in_buffer);
        w.u8(d.rtc_index);
        w.u64(d.unhandled.reads);
        w.u64(d.unhandled.writes);
        w.u64(d.unhandled.bad_words);
        w.0
    }

    /// Decodes [`encode`](Self::encode)'s bytes; trailing bytes are malformed.
    pub(crate) fn decode(b: &[u8]) -> Result<State, Malformed> {
        let mut r = R(b);
        let config = Config {
            mem_mib: r.u64()?,
            tsc_khz: r.u32()?,
            irqchip: r.bool()?,
            entry: r.str()?,
            to_mark_ns: r.u64()?,
        };
        let host_cpuid = get_list(&mut r, MAX_ENTRIES)?;
        let vcpu = Vcpu {
            regs: get(&mut r)?,
            sregs: get(&mut r)?,
            fpu: get_fpu(&mut r)?,
            xsave: get_opt(&mut r)?,
            xcrs: get_opt(&mut r)?,
            msrs: get_list(&mut r, MAX_ENTRIES)?,
            lapic: get_opt(&mut r)?,
            events: get(&mut r)?,
            mp_state: get(&mut r)?,
            debugregs: get_opt(&mut r)?,
            cpuid: get_list(&mut r, MAX_ENTRIES)?,
        };
        let vm = Vm {
            clock: get(&mut r)?,
            irqchips: get_list(&mut r, 3)?,
            pit: get_opt(&mut r)?,
        };
        let mut regs = [0u8; 9];
        for b in regs.iter_mut() {
            *b = r.u8()?;
        }
        let [baud_divisor_low, baud_divisor_high, interrupt_enable, interrupt_identification, line_control, line_status, modem_control, modem_status, scratch] =
            regs;
        let serial = SerialState {
            baud_divisor_low,
            baud_divisor_high,
            interrupt_enable,
            interrupt_identification,
            line_control,
            line_status,
            modem_control,
            modem_status,
            scratch,
            in_buffer: r.bytes()?,
        };
        let devices = Devices {
            serial,
            rtc_index: r.u8()?,
            unhandled: Unhandled {
                reads: r.u64()?,
                writes: r.u64()?,
                bad_words: r.u64()?,
            },
        };
        if !r.0.is_empty() {
            return Err(Malformed);
        }
        Ok(State {
            config,
            host_cpuid,
            vcpu,
            vm,
            devices,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A state with recognisable values in every part.
    pub(crate) fn sample() -> State {
        let mut regs = kvm_regs {
            rip: 0x10_0000,
            rax: 7,
            ..Default::default()
        };
        regs.rflags = 2;
        let mut fpu = kvm_fpu {
            fcw: 0x37f,
            mxcsr: 0x1f80,
            ..Default::default()
        };
        fpu.xmm[3][5] = 9;
        let cpuid = kvm_cpuid_entry2 {
            function: 1,
            eax: 0x806c1,
            ..Default::default()
        };
        State {
            config: Config {
                mem_mib: 256,
                tsc_khz: 2_000_000,
                irqchip: false,
                entry: "bare ELF, 64-bit".into(),
                to_mark_ns: 123_456,
            },
            host_cpuid: vec![cpuid],
            vcpu: Vcpu {
                regs,
                sregs: kvm_sregs {
                    cr0: 0x8000_0011,
                    ..Default::default()
                },
                fpu,
                xsave: Some(kvm_xsave::default()),
                xcrs: None,
                msrs: vec![kvm_msr_entry {
                    index: 0x10,
                    data: 99,
                    ..Default::default()
                }],
                lapic: None,
                events: kvm_vcpu_events::default(),
                mp_state: kvm_mp_state { mp_state: 0 },
                debugregs: Some(kvm_debugregs::default()),
                cpuid: Vec::new(),
            },
            vm: Vm {
                clock: kvm_clock_data {
                    clock: 42,
                    ..Default::default()
                },
                irqchips: Vec::new(),
                pit: None,
            },
            devices: Devices {
                serial: SerialState {
                    baud_divisor_low: 1,
                    baud_divisor_high: 0,
                    interrupt_enable: 0,
                    interrupt_identification: 1,
                    line_control: 3,
                    line_status: 0x60,
                    modem_control: 8,
                    modem_status: 0xb0,
                    scratch: 5,
                    in_buffer: vec![1, 2],
                },
                rtc_index: 0x0a,
                unhandled: Unhandled {
                    reads: 1,
                    writes: 2,
                    bad_words: 3,
                },
            },
        }
    }

    #[test]
    fn state_round_trips() {
        let s = sample();
        let b = s.encode();
        let d = State::decode(&b).unwrap();
        assert_eq!(d.encode(), b);
        assert_eq!(d.config, s.config);
        assert_eq!(d.devices, s.devices);
        assert_eq!(d.vcpu.regs.rip, 0x10_0000);
        assert_eq!(d.vcpu.fpu.xmm[3][5], 9);
        assert_eq!(d.vcpu.fpu.fcw, 0x37f);
        assert_eq!(d.vcpu.msrs[0].data, 99);
        assert_eq!(d.host_cpuid[0].eax, 0x806c1);
        assert_eq!(d.vm.clock.clock, 42);
        assert!(d.vcpu.xsave.is_some() && d.vcpu.xcrs.is_none());
    }

    #[test]
    fn short_long_and_absurd_states_are_malformed() {
        let b = sample().encode();
        for cut in [0, 1, 8, b.len() / 2, b.len() - 1] {
            assert!(State::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = b.clone();
        long.push(0);
        assert!(State::decode(&long).is_err());
        // A CPUID list claiming 2^40 entries is refused, not allocated.
        let mut absurd = b.clone();
        let at = 8 + 4 + 1 + 8 + "bare ELF, 64-bit".len() + 8;
        absurd[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(State::decode(&absurd).is_err());
    }
}
