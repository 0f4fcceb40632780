//! The run loop: `KVM_RUN` on the calling thread, each exit dispatched to the
//! port bus, protocol events timestamped, counted by kind, until the guest
//! asks to exit, faults, resets, or runs out of time.
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kvm_ioctls::{VcpuExit, VcpuFd, VmFd};
use vmlab_workload::protocol::Event;

use crate::devices::port::{Action, PortBus};
use crate::devices::serial::COM1_IRQ;

/// Errors while the guest runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The timeout passed before the guest exited.
    #[error("the guest {} within {secs:.1} s and was killed (--timeout)", if *.ready { "signalled ready but did not exit" } else { "did not signal ready" })]
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
    #[error(
        "KVM reported an internal error running the guest (often an instruction it cannot emulate)"
    )]
    Internal,
    /// An exit this VMM does not handle.
    #[error("unexpected vCPU exit: {0}")]
    UnexpectedExit(String),
    /// `KVM_RUN` itself failed.
    #[error("KVM_RUN failed")]
    Run(#[source] kvm_ioctls::Error),
    /// The timeout timer could not be armed.
    #[error(transparent)]
    Timer(#[from] crate::timer::Error),
    /// Injecting the serial interrupt failed.
    #[error("cannot inject the serial interrupt")]
    Irq(#[source] kvm_ioctls::Error),
}

/// Exit counts by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitCounts {
    /// `in` instructions.
    pub io_in: u64,
    /// `out` instructions.
    pub io_out: u64,
    /// MMIO reads outside RAM (answered with all ones).
    pub mmio_read: u64,
    /// MMIO writes outside RAM (ignored).
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

/// What one run of the guest produced.
#[derive(Clone, Debug, Default)]
pub struct Ran {
    /// The guest's exit code.
    pub exit_code: u8,
    /// When ready arrived, since start.
    pub ready: Option<Duration>,
    /// Marks (id, since start).
    pub marks: Vec<(u32, Duration)>,
    /// When the exit event arrived, since start.
    pub exit: Duration,
    /// Exit counts.
    pub exits: ExitCounts,
}

/// How to run.
pub struct RunParams {
    /// The time origin for every timestamp.
    pub start: Instant,
    /// The timeout (measured from the call).
    pub timeout: Duration,
    /// Whether an in-kernel irqchip exists (serial interrupts are injected).
    pub irqchip: bool,
}

/// Runs the vCPU until the guest's exit event or an error; `ran` keeps what
/// was seen so far either way.
pub fn run(
    vm: &VmFd,
    vcpu: &mut VcpuFd,
    bus: &mut PortBus,
    p: &RunParams,
    ran: &mut Ran,
) -> Result<(), Error> {
    let deadline = Instant::now() + p.timeout;
    let _timer = crate::timer::KickTimer::arm(p.timeout)?;
    let exits = &mut ran.exits;
    loop {
        let exit = match vcpu.run() {
            Ok(exit) => exit,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                exits.interrupted += 1;
                if Instant::now() >= deadline {
                    return Err(Error::Timeout {
                        secs: p.timeout.as_secs_f64(),
                        ready: ran.ready.is_some(),
                    });
                }
                continue;
            }
            Err(e) => return Err(Error::Run(e)),
        };
        match exit {
            VcpuExit::IoOut(port, data) => {
                exits.io_out += 1;
                match bus.write(port, data) {
                    Action::Continue => {}
                    Action::Event(Event::Ready) => {
                        if ran.ready.is_none() {
                            ran.ready = Some(p.start.elapsed());
                        }
                    }
                    Action::Event(Event::Mark(id)) => ran.marks.push((id, p.start.elapsed())),
                    Action::Event(Event::Exit(code)) => {
                        ran.exit = p.start.elapsed();
                        ran.exit_code = code;
                        if ran.ready.is_none() {
                            return Err(Error::NoReady { code });
                        }
                        return Ok(());
                    }
                    Action::Reset => return Err(Error::Reset),
                }
                if p.irqchip && bus.serial.take_irq() {
                    pulse_serial_irq(vm)?;
                }
            }
            VcpuExit::IoIn(port, data) => {
                exits.io_in += 1;
                bus.read(port, data);
                if p.irqchip && bus.serial.take_irq() {
                    pulse_serial_irq(vm)?;
                }
            }
            VcpuExit::MmioRead(_, data) => {
                exits.mmio_read += 1;
                data.fill(0xff);
            }
            VcpuExit::MmioWrite(..) => exits.mmio_write += 1,
            VcpuExit::Shutdown => {
                return Err(Error::TripleFault {
                    ready: ran.ready.is_some(),
                })
            }
            VcpuExit::SystemEvent(..) => return Err(Error::Reset),
            VcpuExit::Hlt => return Err(Error::Halted),
            VcpuExit::FailEntry(reason, _) => return Err(Error::FailEntry { reason }),
            VcpuExit::InternalError => return Err(Error::Internal),
            VcpuExit::Intr => exits.interrupted += 1,
            other => {
                exits.other += 1;
                return Err(Error::UnexpectedExit(format!("{other:?}")));
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                secs: p.timeout.as_secs_f64(),
                ready: ran.ready.is_some(),
            });
        }
    }
}

/// Raises and lowers COM1's line (an edge for the PIC/IOAPIC).
fn pulse_serial_irq(vm: &VmFd) -> Result<(), Error> {
    vm.set_irq_line(COM1_IRQ, true).map_err(Error::Irq)?;
    vm.set_irq_line(COM1_IRQ, false).map_err(Error::Irq)
}
