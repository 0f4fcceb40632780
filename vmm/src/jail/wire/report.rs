//! A whole report: a boot's outcome, a guest failure, or another error as
//! its message chain.
use super::bytes::{Malformed, R, W};
use super::failure::{failure, failure_of, kind_code, kind_of};
use crate::devices::port::Unhandled;
use crate::devices::virtio::{DeviceReport, VirtioCounters, MAX_DEVICES};
use crate::jail::Error as JailError;
use crate::vm;
use crate::{Error, VmOutcome};

/// The most bytes a report may have (console tail, marks and the rest fit
/// with room to spare); a longer one is malformed.
pub(crate) const MAX_REPORT: usize = 16 << 20;

/// Phase names a report may carry.
const PHASES: [&str; 15] = [
    "read_files",
    "open",
    "kvm_open",
    "fork",
    "cgroup",
    "vm_create",
    "memory",
    "vcpu_create",
    "load",
    "vcpu_setup",
    "map",
    "load_state",
    "jail",
    "first_exit",
    "guest_to_ready",
];

/// Entry labels a report may carry.
const ENTRIES: [&str; 3] = [
    crate::builder::BARE_ENTRY,
    "Linux 64-bit boot protocol",
    "Linux PVH (32-bit)",
];

/// Device kinds a report may carry.
const DEVICE_KINDS: [&str; 2] = ["virtio-blk", "virtio-net"];

/// A device's counters in wire order.
fn counters(c: &VirtioCounters) -> [u64; 10] {
    [
        c.notifies,
        c.completed,
        c.bytes_from_guest,
        c.bytes_to_guest,
        c.bad_chains,
        c.bad_requests,
        c.io_errors,
        c.dropped,
        c.bad_registers,
        c.interrupts,
    ]
}

/// The entry label `s` as the static string a report carries.
pub(crate) fn known_entry(s: &str) -> Option<&'static str> {
    known(&ENTRIES, s)
}

fn known(list: &[&'static str], s: &str) -> Option<&'static str> {
    list.iter().copied().find(|&k| k == s)
}

/// An error and its sources as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Encodes a boot's result.
pub(crate) fn encode(result: &Result<VmOutcome, Error>) -> Vec<u8> {
    let mut w = W::default();
    match result {
        Ok(o) => {
            w.u8(0);
            w.u8(o.exit_code);
            w.u8(kind_code(o.kvm_kind));
            w.u64(o.to_ready_ns);
            w.u64(o.exit_event_ns);
            w.u64(o.to_exit_ns);
            w.u64(o.phases.len() as u64);
            for (name, ns) in &o.phases {
                w.str(name);
                w.u64(*ns);
            }
            w.u64(o.marks.len() as u64);
            for (id, ns) in &o.marks {
                w.u32(*id);
                w.u64(*ns);
            }
            w.u64(o.marks_dropped);
            w.exits(&o.exits);
            w.u64(o.unhandled.reads);
            w.u64(o.unhandled.writes);
            w.u64(o.unhandled.bad_words);
            w.bytes(&o.console);
            w.u64(o.console_dropped_bytes);
            w.u32(o.tsc_khz);
            w.u64(o.mem_mib);
            w.str(o.entry);
            w.u8(u8::from(o.jailed));
            match &o.probe {
                None => w.u8(0),
                Some(p) => {
                    w.u8(1);
                    w.str(p);
                }
            }
            w.u64(o.virtio.len() as u64);
            for d in &o.virtio {
                w.str(d.kind);
                w.u64(d.mmio_base);
                w.u32(d.irq);
                for c in counters(&d.counters) {
                    w.u64(c);
                }
            }
        }
        Err(Error::Guest {
            failure: f,
            console,
            console_dropped_bytes,
            exits,
        }) => {
            w.u8(1);
            failure(&mut w, f);
            w.bytes(console);
            w.u64(*console_dropped_bytes);
            w.exits(exits);
        }
        Err(Error::Jail(j)) if j.is_setup() => {
            w.u8(3);
            w.str(&chain(j));
        }
        Err(other) => {
            w.u8(2);
            w.str(&chain(other));
        }
    }
    w.0
}

/// Decodes what [`encode`] wrote.
pub(crate) fn decode(bytes: &[u8]) -> Result<Result<VmOutcome, Error>, Malformed> {
    let mut r = R(bytes);
    let out = match r.u8()? {
        0 => {
            let exit_code = r.u8()?;
            let kvm_kind = kind_of(r.u8()?)?;
            let to_ready_ns = r.u64()?;
            let exit_event_ns = r.u64()?;
            let to_exit_ns = r.u64()?;
            let n = r.len()?;
            let mut phases = Vec::with_capacity(n.min(PHASES.len()));
            for _ in 0..n {
                let name = known(&PHASES, &r.str()?).ok_or(Malformed)?;
                phases.push((name, r.u64()?));
            }
            let n = r.len()?;
            let mut marks = Vec::with_capacity(n.min(vm::MAX_MARKS));
            for _ in 0..n {
                marks.push((r.u32()?, r.u64()?));
            }
            let marks_dropped = r.u64()?;
            let exits = r.exits()?;
            let unhandled = Unhandled {
                reads: r.u64()?,
                writes: r.u64()?,
                bad_words: r.u64()?,
            };
            let console = r.bytes()?;
            let console_dropped_bytes = r.u64()?;
            let tsc_khz = r.u32()?;
            let mem_mib = r.u64()?;
            let entry = known(&ENTRIES, &r.str()?).ok_or(Malformed)?;
            let jailed = r.bool()?;
            let probe = match r.u8()? {
                0 => None,
                1 => Some(r.str()?),
                _ => return Err(Malformed),
            };
            let n = r.len()?;
            let mut virtio = Vec::with_capacity(n.min(MAX_DEVICES));
            for _ in 0..n {
                let kind = known(&DEVICE_KINDS, &r.str()?).ok_or(Malformed)?;
                let (mmio_base, irq) = (r.u64()?, r.u32()?);
                let mut c = [0u64; 10];
                for v in &mut c {
                    *v = r.u64()?;
                }
                virtio.push(DeviceReport {
                    kind,
                    mmio_base,
                    irq,
                    counters: VirtioCounters {
                        notifies: c[0],
                        completed: c[1],
                        bytes_from_guest: c[2],
                        bytes_to_guest: c[3],
                        bad_chains: c[4],
                        bad_requests: c[5],
                        io_errors: c[6],
                        dropped: c[7],
                        bad_registers: c[8],
                        interrupts: c[9],
                    },
                });
            }
            Ok(VmOutcome {
                exit_code,
                kvm_kind,
                to_ready_ns,
                exit_event_ns,
                to_exit_ns,
                phases,
                marks,
                marks_dropped,
                exits,
                unhandled,
                console,
                console_dropped_bytes,
                tsc_khz,
                mem_mib,
                entry,
                jailed,
                probe,
                virtio,
            })
        }
        1 => Err(Error::Guest {
            failure: failure_of(&mut r)?,
            console: r.bytes()?,
            console_dropped_bytes: r.u64()?,
            exits: r.exits()?,
        }),
        2 => Err(Error::Jail(JailError::InVmm(r.str()?))),
        3 => Err(Error::Jail(JailError::Setup(r.str()?))),
        _ => return Err(Malformed),
    };
    if !r.0.is_empty() {
        return Err(Malformed);
    }
    Ok(out)
}
