//! The bare guest's [`Platform`]: TSC clock scaled by the VMM's `tsc_khz`,
//! boundary crossing as an `in` from the vmlab port, protocol events as an
//! `out` to it, and memory from the boot info's free range (scratch at the
//! top, never-touched regions handed out upwards from the bottom).
use vmlab_workload::bootinfo::BootInfo;
use vmlab_workload::io::{BlockDevice, NetDevice};
use vmlab_workload::kernels::blk::{self, Sectors};
use vmlab_workload::kernels::net;
use vmlab_workload::protocol::{Event, HOLD_PORT, PORT};
use vmlab_workload::{Clock, Failure, Kernel, Measurement, Platform, Spec};

use crate::virtio::Devices;

/// Writes one byte to an I/O port.
pub fn outb(port: u16, value: u8) {
    // SAFETY: port I/O has no memory effects here; the VMM handles the exit.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack))
    };
}

/// Writes `bytes` to one I/O port with a single `rep outsb`.
pub fn outsb(port: u16, bytes: &[u8]) {
    // SAFETY: rep outsb reads `bytes.len()` bytes from `bytes` (valid for
    // reads) and writes them to the port; DF is clear per the ABI.
    unsafe {
        core::arch::asm!("rep outsb", in("dx") port, inout("rsi") bytes.as_ptr() => _,
            inout("rcx") bytes.len() => _, options(nostack, readonly, preserves_flags));
    }
}

/// Reads one byte from an I/O port.
pub fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: as for `outb`.
    unsafe { core::arch::asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack)) };
    v
}

/// Writes one protocol word to the vmlab port.
pub fn port_out(word: u32) {
    // SAFETY: as for `outb`.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") PORT, in("eax") word, options(nomem, nostack))
    };
}

/// The TSC as a clock: `ns = tsc * mult >> 32`.
#[derive(Clone, Copy)]
pub struct Tsc {
    mult: u64,
}

impl Tsc {
    /// A clock for a TSC of `khz` (1 GHz assumed when unknown).
    pub fn new(khz: u64) -> Tsc {
        let khz = if khz == 0 { 1_000_000 } else { khz };
        Tsc {
            mult: (1_000_000u64 << 32) / khz,
        }
    }
}

impl Clock for Tsc {
    fn now_ns(&self) -> u64 {
        // SAFETY: rdtsc is always available in long mode (CR4.TSD is clear).
        let tsc = unsafe { core::arch::x86_64::_rdtsc() };
        ((u128::from(tsc) * u128::from(self.mult)) >> 32) as u64
    }
}

const PAGE: u64 = 4096;

/// The bare guest platform.
pub struct Bare {
    /// The boot info's TSC rate (0: unknown).
    tsc_khz: u64,
    /// The clock, made on first use (calibrated then when the rate is
    /// unknown under a stock VMM).
    clock: core::cell::Cell<Option<Tsc>>,
    /// Next never-touched byte for `fresh`.
    next: u64,
    /// Bottom of the scratch area (it extends to `end`).
    scratch_low: u64,
    end: u64,
    /// The virtio devices the VMM announced (started).
    devices: Devices,
    /// The I/O kernels' buffer ([`IO_BUF`] bytes, page aligned), taken
    /// from the free range on first use.
    io_buf: Option<u64>,
}

/// Bytes of the I/O kernels' buffer: the largest request (`blk-seq`'s).
const IO_BUF: usize = blk::SEQ_BLOCK;

impl Bare {
    /// A platform over the boot info's free memory, with `devices`.
    pub fn new(info: &BootInfo, devices: Devices) -> Bare {
        let end = info.free_end & !(PAGE - 1);
        Bare {
            devices,
            tsc_khz: info.tsc_khz,
            clock: core::cell::Cell::new(None),
            next: info.free_start.next_multiple_of(PAGE),
            scratch_low: end,
            end,
            io_buf: None,
        }
    }

    /// The I/O buffer (taken once, below the scratch area, never handed
    /// out by `fresh`), or `None` when memory is short.
    fn io_buf(&mut self) -> Option<&'static mut [u8]> {
        let at = match self.io_buf {
            Some(at) => at,
            None => {
                let at = self.next;
                let end = at.checked_add(IO_BUF as u64)?;
                if end > self.scratch_low {
                    return None;
                }
                self.next = end;
                self.io_buf = Some(at);
                at
            }
        };
        // SAFETY: [at, at + IO_BUF) is identity-mapped guest RAM that the
        // bump pointer has passed, so neither `fresh` nor `scratch` hands it
        // out; only the I/O kernels use it, one at a time.
        Some(unsafe { core::slice::from_raw_parts_mut(at as *mut u8, IO_BUF) })
    }
}

impl Platform for Bare {
    type Clock = Tsc;

    fn clock(&self) -> Tsc {
        if let Some(clock) = self.clock.get() {
            return clock;
        }
        let khz = match self.tsc_khz {
            0 if crate::stock::foreign_boot() => crate::stock::pit_tsc_khz().unwrap_or(0),
            khz => khz,
        };
        let clock = Tsc::new(khz);
        self.clock.set(Some(clock));
        clock
    }

    fn cross(&mut self) {
        let _: u32;
        // SAFETY: an `in` from the vmlab port exits to the VMM and returns 0.
        unsafe {
            core::arch::asm!("in eax, dx", in("dx") PORT, out("eax") _, options(nomem, nostack))
        };
    }

    fn event(&mut self, event: Event) {
        // A stock VMM (PVH) does not watch the vmlab port, and QEMU's
        // debug-exit device may sit on the same port number: there the
        // console's ready and exit lines are the protocol, and the PVH path
        // sends the exit code itself.
        if !crate::stock::stock_vmm() {
            port_out(event.encode());
        }
    }

    fn hold(&mut self) {
        // A stock VMM answers the unknown port at once: no hold there.
        if !crate::stock::stock_vmm() {
            let _: u32;
            // SAFETY: an `in` from the hold port exits to the VMM, which
            // answers when the guest may go on; it touches no memory.
            unsafe {
                core::arch::asm!("in eax, dx", in("dx") HOLD_PORT, out("eax") _, options(nomem, nostack))
            };
        }
    }

    fn scratch(&mut self, words: usize) -> Option<&mut [u64]> {
        let bytes = (words as u64).checked_mul(8)?.next_multiple_of(PAGE);
        let low = self.end.checked_sub(bytes)?;
        if low < self.next {
            return None;
        }
        self.scratch_low = self.scratch_low.min(low);
        // SAFETY: [low, end) is identity-mapped guest RAM reserved for scratch
        // (nothing else hands it out) and the borrow of self ties its lifetime.
        Some(unsafe { core::slice::from_raw_parts_mut(low as *mut u64, words) })
    }

    fn fresh(&mut self, bytes: usize) -> Option<&mut [u8]> {
        let start = self.next;
        let end = start.checked_add((bytes as u64).next_multiple_of(PAGE))?;
        if end > self.scratch_low {
            return None;
        }
        self.next = end;
        // SAFETY: [start, end) is identity-mapped guest RAM never handed out
        // before (the bump pointer only grows) and untouched since boot.
        Some(unsafe { core::slice::from_raw_parts_mut(start as *mut u8, bytes) })
    }

    fn release(&mut self) {
        // Touched memory cannot become untouched again: nothing to give back.
    }

    fn native(
        &mut self,
        kernel: Kernel,
        spec: &Spec,
        report: &mut dyn FnMut(&Measurement),
    ) -> Result<(), Failure> {
        if !kernel.is_io() {
            return Err(Failure::unsupported(kernel));
        }
        let clock = self.clock();
        let buf = self.io_buf().ok_or_else(|| {
            Failure::new(format_args!(
                "{kernel}: no memory for a {IO_BUF}-byte buffer"
            ))
        })?;
        if matches!(kernel, Kernel::NetRr | Kernel::NetStream) {
            let Some(dev) = self.devices.net.as_mut() else {
                return Err(Failure::new(format_args!(
                    "{kernel}: the VMM gave this guest no virtio-net device"
                )));
            };
            let run = match kernel {
                Kernel::NetRr => net::rr::<Tsc>,
                _ => net::stream::<Tsc>,
            };
            return run(dev, spec.addr, spec.peer, &clock, spec.time_ns, buf, report);
        }
        let Some(dev) = self.devices.blk.as_mut() else {
            return Err(Failure::new(format_args!(
                "{kernel}: the VMM gave this guest no virtio-blk disk"
            )));
        };
        let mut disk = Sectors(dev);
        match kernel {
            Kernel::BlkRand => blk::rand(&mut disk, buf, &clock, spec.time_ns, report),
            _ => blk::seq(&mut disk, buf, &clock, spec.time_ns, report),
        }
    }

    fn net(&mut self) -> Option<&mut dyn NetDevice> {
        self.devices.net.as_mut().map(|n| n as &mut dyn NetDevice)
    }

    fn block(&mut self) -> Option<&mut dyn BlockDevice> {
        self.devices.blk.as_mut().map(|b| b as &mut dyn BlockDevice)
    }
}

impl Bare {
    /// Sends ready and runs the virtio self-test (a VMM test hook).
    pub fn virtio_selftest(&mut self, out: &mut impl core::fmt::Write) -> u8 {
        self.event(Event::Ready);
        let clock = self.clock();
        crate::virtio::selftest::run(&mut self.devices, &clock, out)
    }
}
