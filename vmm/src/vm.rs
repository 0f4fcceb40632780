//! The run loop: `KVM_RUN` on the calling thread, each exit dispatched to the
//! port bus, protocol events timestamped, counted by kind, until the guest
//! asks to exit, faults, resets, or runs out of time.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kvm_ioctls::{VcpuExit, VcpuFd, VmFd};
use vm_memory::{Bytes, GuestAddress};
use vmlab_workload::protocol::{Event, HOLD_PORT, SNAPSHOT_MARK};

use crate::devices::port::{Action, PortBus};
use crate::devices::serial::COM1_IRQ;
use crate::hold::Interrupted;
use crate::memory::GuestMemoryMmap;

/// Errors while the guest runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The timeout passed before the guest exited.
    #[error("the guest {} within {secs:.1} s and was killed", if *.ready { "signalled ready but did not exit" } else { "did not signal ready" })]
    Timeout {
        /// The timeout in seconds.
        secs: f64,
        /// Whether ready had been signalled.
        ready: bool,
    },
    /// KVM reported a shutdown: a triple fault.
    #[error("the guest triple faulted (KVM shutdown exit) {}", if *.ready { "after signalling ready" } else { "before signalling ready" })]
    TripleFault {
        /// Whether ready had been signalled.
        ready: bool,
    },
    /// The guest reset the machine (i8042 or a KVM system event) before its exit event.
    #[error("the guest reset the machine before signalling exit: a guest kernel panic or reboot (see its console)")]
    Reset,
    /// The guest halted with nothing to wake it.
    #[error("the guest halted without signalling exit")]
    Halted,
    /// The guest asked to exit without ever signalling ready.
    #[error("the guest exited with code {code} without ever signalling ready")]
    NoReady {
        /// Its exit code.
        code: u8,
    },
    /// KVM could not enter the guest.
    #[error("KVM failed to enter the guest (hardware entry failure reason {reason:#x})")]
    FailEntry {
        /// The hardware reason.
        reason: u64,
    },
    /// KVM hit an internal error (often: an instruction it cannot emulate).
    #[error("KVM reported internal error {suberror} at guest rip {rip:#x} (instruction bytes {bytes:02x?}){}", sse_hint(*.suberror, bytes))]
    Internal {
        /// KVM's suberror code (1: emulation failure).
        suberror: u32,
        /// The guest's instruction pointer.
        rip: u64,
        /// The first bytes at `rip` (when identity mapped).
        bytes: Vec<u8>,
    },
    /// An exit this VMM does not handle.
    #[error("unexpected vCPU exit: {0}")]
    UnexpectedExit(String),
    /// `KVM_RUN` itself failed.
    #[error("KVM_RUN failed")]
    Run(#[source] kvm_ioctls::Error),
    /// The timeout timer could not be armed.
    #[error(transparent)]
    Timer(#[from] crate::timer::Error),
    /// Injecting the serial or a virtio interrupt failed.
    #[error("cannot inject a device interrupt")]
    Irq(#[source] kvm_ioctls::Error),
    /// Reading the hold gate failed while the guest was held.
    #[error("cannot read the hold gate the held guest waits on")]
    Hold(#[source] std::io::Error),
    /// The guest read the hold port before signalling ready.
    #[error("the guest asked to be held before signalling ready")]
    HeldBeforeReady,
}

/// Exit counts by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// `in` instructions.
    pub io_in: u64,
    /// `out` instructions.
    pub io_out: u64,
    /// MMIO reads outside RAM (virtio registers; elsewhere all ones).
    pub mmio_read: u64,
    /// MMIO writes outside RAM (virtio registers; elsewhere ignored).
    pub mmio_write: u64,
    /// Returns for a signal (the timeout kick).
    pub interrupted: u64,
    /// Anything else.
    pub other: u64,
}

impl ExitCounts {
    /// Total exits.
    pub fn total(&self) -> u64 {
        self.io_in + self.io_out + self.mmio_read + self.mmio_write + self.interrupted + self.other
    }

    /// As name → count, for reports.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        [
            ("io_in", self.io_in),
            ("io_out", self.io_out),
            ("mmio_read", self.mmio_read),
            ("mmio_write", self.mmio_write),
            ("interrupted", self.interrupted),
            ("other", self.other),
            ("total", self.total()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// How many protocol marks are kept; later ones are counted and dropped, so
/// a guest that sends marks in a loop costs bounded host memory.
pub const MAX_MARKS: usize = 65536;

/// What one run of the guest produced.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ran {
    /// The guest's exit code.
    pub exit_code: u8,
    /// When ready arrived, since start.
    pub ready: Option<Duration>,
    /// Marks (id, since start): the first [`MAX_MARKS`].
    pub marks: Vec<(u32, Duration)>,
    /// Marks that arrived after [`MAX_MARKS`] were kept.
    pub marks_dropped: u64,
    /// When the exit event arrived, since start.
    pub exit: Duration,
    /// Exit counts.
    pub exits: ExitCounts,
    /// When the guest first read the hold port (with a gate or parked).
    pub held: Option<Duration>,
    /// When the first `KVM_RUN` returned, since start.
    pub first_exit: Option<Duration>,
}

impl Ran {
    /// Records mark `id` at `at`, or counts it once [`MAX_MARKS`] are kept.
    pub(crate) fn mark(&mut self, id: u32, at: Duration) {
        if self.marks.len() < MAX_MARKS {
            self.marks.push((id, at));
        } else {
            self.marks_dropped = self.marks_dropped.saturating_add(1);
        }
    }
}

/// How the hold port is answered (see [`crate::hold`]).
#[derive(Clone, Copy)]
pub(crate) enum Hold<'a> {
    /// At once.
    Answer,
    /// When a read of the gate returns.
    Gate(&'a crate::HoldGate),
    /// Stop the run loop ([`Stop::Held`]); the next run answers it.
    Park,
}

/// Why the run loop returned without an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The guest sent its exit event.
    Exited,
    /// The guest reads the hold port and is parked ([`Hold::Park`]).
    Held,
    /// The guest sent the snapshot mark and [`RunParams::stop_at_snapshot`]
    /// was set.
    Snapshot,
}

/// How to run.
pub(crate) struct RunParams<'a> {
    /// The time origin for every timestamp.
    pub start: Instant,
    /// The timeout (measured from the call).
    pub timeout: Duration,
    /// Whether an in-kernel irqchip exists (serial interrupts are injected).
    pub irqchip: bool,
    /// How the hold port is answered.
    pub hold: Hold<'a>,
    /// Stop at the workload's snapshot mark (the vCPU is left inside the
    /// `out` that sent it, whose I/O the snapshot completes).
    pub stop_at_snapshot: bool,
}

/// Runs the vCPU until the guest's exit event, its hold ([`Hold::Park`]),
/// its snapshot mark ([`RunParams::stop_at_snapshot`]) or an error; `ran` keeps what was seen so far either way. `_timer` (armed by the caller, before the
/// jail's seccomp filter, for `p.timeout`) interrupts a blocked `KVM_RUN`.
pub(crate) fn run(
    vm: &VmFd,
    vcpu: &mut VcpuFd,
    mem: &GuestMemoryMmap,
    bus: &mut PortBus,
    p: &RunParams,
    _timer: &crate::timer::KickTimer,
    ran: &mut Ran,
) -> Result<Stop, Error> {
    // A timeout too far away for an Instant never expires.
    let deadline = Instant::now().checked_add(p.timeout);
    let expired = || deadline.is_some_and(|d| Instant::now() >= d);
    let timeout = |ran: &Ran| Error::Timeout {
        secs: p.timeout.as_secs_f64(),
        ready: ran.ready.is_some(),
    };
    loop {
        let result = vcpu.run();
        if ran.first_exit.is_none() {
            ran.first_exit = Some(p.start.elapsed());
        }
        let exit = match result {
            Ok(exit) => exit,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                // The timeout's kick, or a tick to look for frames (`KickTimer::arm_ticking`).
                ran.exits.interrupted += 1;
                poll_devices(vm, mem, bus, p.irqchip)?;
                if expired() {
                    return Err(timeout(ran));
                }
                continue;
            }
            Err(e) => return Err(Error::Run(e)),
        };
        match exit {
            VcpuExit::IoOut(port, data) => {
                ran.exits.io_out += 1;
                match bus.write(port, data) {
                    Action::Continue => {}
                    Action::Event(Event::Ready) => {
                        if ran.ready.is_none() {
                            ran.ready = Some(p.start.elapsed());
                        }
                    }
                    Action::Event(Event::Mark(id)) => {
                        ran.mark(id, p.start.elapsed());
                        if p.stop_at_snapshot && id == SNAPSHOT_MARK {
                            return Ok(Stop::Snapshot);
                        }
                    }
                    Action::Event(Event::Exit(code)) => {
                        ran.exit = p.start.elapsed();
                        ran.exit_code = code;
                        if ran.ready.is_none() {
                            return Err(Error::NoReady { code });
                        }
                        return Ok(Stop::Exited);
                    }
                    Action::Reset => return Err(Error::Reset),
                }
                if p.irqchip && bus.serial.take_irq() {
                    pulse_serial_irq(vm)?;
                }
            }
            VcpuExit::IoIn(port, data) => {
                ran.exits.io_in += 1;
                bus.read(port, data);
                if port == HOLD_PORT && !matches!(p.hold, Hold::Answer) {
                    if ran.ready.is_none() {
                        return Err(Error::HeldBeforeReady);
                    }
                    ran.held.get_or_insert(p.start.elapsed());
                    match p.hold {
                        // The answer is in the run area: the next KVM_RUN
                        // completes the `in`.
                        Hold::Park => return Ok(Stop::Held),
                        Hold::Gate(gate) => loop {
                            match gate.wait() {
                                Ok(()) => break,
                                Err(Interrupted::Signal) => {
                                    ran.exits.interrupted += 1;
                                    if expired() {
                                        return Err(timeout(ran));
                                    }
                                }
                                Err(Interrupted::Failed(e)) => return Err(Error::Hold(e)),
                            }
                        },
                        Hold::Answer => {}
                    }
                }
                if p.irqchip && bus.serial.take_irq() {
                    pulse_serial_irq(vm)?;
                }
            }
            VcpuExit::MmioRead(addr, data) => {
                ran.exits.mmio_read += 1;
                if !bus.virtio.read(addr, data) {
                    data.fill(0xff);
                }
            }
            VcpuExit::MmioWrite(addr, data) => {
                ran.exits.mmio_write += 1;
                if let Some(Some(irq)) = bus.virtio.write(addr, data, mem) {
                    if p.irqchip {
                        pulse_irq(vm, irq)?;
                    }
                }
            }
            VcpuExit::Shutdown => {
                return Err(Error::TripleFault {
                    ready: ran.ready.is_some(),
                })
            }
            VcpuExit::SystemEvent(..) => return Err(Error::Reset),
            VcpuExit::Hlt => return Err(Error::Halted),
            VcpuExit::FailEntry(reason, _) => return Err(Error::FailEntry { reason }),
            VcpuExit::InternalError => return Err(internal_error(vcpu, mem)),
            VcpuExit::Intr => ran.exits.interrupted += 1,
            other => {
                ran.exits.other += 1;
                return Err(Error::UnexpectedExit(format!("{other:?}")));
            }
        }
        poll_devices(vm, mem, bus, p.irqchip)?;
        if expired() {
            return Err(timeout(ran));
        }
    }
}

/// Lets the virtio devices do unprompted work (frames from a TAP) and
/// interrupts the guest for each that used buffers (with an irqchip).
fn poll_devices(
    vm: &VmFd,
    mem: &GuestMemoryMmap,
    bus: &mut PortBus,
    irqchip: bool,
) -> Result<(), Error> {
    if bus.virtio.is_empty() {
        return Ok(());
    }
    let mut raised = Ok(());
    bus.virtio.poll(mem, |irq| {
        if irqchip && raised.is_ok() {
            raised = pulse_irq(vm, irq);
        }
    });
    raised
}

/// Details of a `KVM_EXIT_INTERNAL_ERROR` exit.
fn internal_error(vcpu: &mut VcpuFd, mem: &GuestMemoryMmap) -> Error {
    // SAFETY: the last exit was KVM_EXIT_INTERNAL_ERROR, so `internal` is the
    // active member of the exit union.
    let suberror = unsafe { vcpu.get_kvm_run().__bindgen_anon_1.internal.suberror };
    let rip = vcpu.get_regs().map_or(0, |r| r.rip);
    let mut bytes = vec![0u8; 8];
    if mem.read_slice(&mut bytes, GuestAddress(rip)).is_err() {
        bytes.clear();
    }
    Error::Internal {
        suberror,
        rip,
        bytes,
    }
}

/// Whether `bytes` start with an SSE/MMX opcode (0x0f escape, after an
/// optional operand-size, REP or REX prefix).
pub(crate) fn is_sse_opcode(bytes: &[u8]) -> bool {
    let mut b = bytes;
    while let [p, rest @ ..] = b {
        if matches!(p, 0x66 | 0xf2 | 0xf3 | 0x40..=0x4f) {
            b = rest;
        } else {
            break;
        }
    }
    matches!(b, [0x0f, op, ..] if matches!(op, 0x10..=0x17 | 0x28..=0x2f | 0x50..=0x7f | 0xc2..=0xc6 | 0xd0..=0xff))
}

/// A hint for emulation failures on SSE instructions (software KVM emulates
/// every instruction and its emulator lacks most of SSE).
fn sse_hint(suberror: u32, bytes: &[u8]) -> &'static str {
    if suberror == 1 && is_sse_opcode(bytes) {
        ": an SSE instruction KVM cannot emulate; on software KVM build the bare guest with -C target-feature=-sse,-sse2"
    } else {
        ""
    }
}

/// Raises and lowers COM1's line (an edge for the PIC/IOAPIC).
fn pulse_serial_irq(vm: &VmFd) -> Result<(), Error> {
    pulse_irq(vm, COM1_IRQ)
}

/// Raises and lowers interrupt line `irq` (an edge for the PIC/IOAPIC).
fn pulse_irq(vm: &VmFd, irq: u32) -> Result<(), Error> {
    vm.set_irq_line(irq, true).map_err(Error::Irq)?;
    vm.set_irq_line(irq, false).map_err(Error::Irq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_opcodes_are_recognised() {
        assert!(is_sse_opcode(&[0x0f, 0x57, 0xc0])); // xorps
        assert!(is_sse_opcode(&[0x66, 0x0f, 0x6e, 0xc0])); // movd
        assert!(is_sse_opcode(&[0x66, 0x0f, 0xc4, 0x04])); // pinsrw
        assert!(!is_sse_opcode(&[0x0f, 0x0b])); // ud2
        assert!(!is_sse_opcode(&[0xf4])); // hlt
        assert!(!is_sse_opcode(&[]));
    }

    #[test]
    fn marks_are_bounded_and_counted() {
        let mut ran = Ran::default();
        let extra = 1000;
        for i in 0..MAX_MARKS as u32 + extra {
            ran.mark(i, Duration::from_nanos(u64::from(i)));
        }
        assert_eq!(ran.marks.len(), MAX_MARKS);
        assert_eq!(ran.marks_dropped, u64::from(extra));
        assert_eq!(ran.marks.last().unwrap().0, MAX_MARKS as u32 - 1);
    }

    #[test]
    fn exit_counts_total() {
        let c = ExitCounts {
            io_in: 1,
            io_out: 2,
            mmio_read: 3,
            ..Default::default()
        };
        assert_eq!(c.total(), 6);
        assert_eq!(c.to_map()["total"], 6);
    }
}
