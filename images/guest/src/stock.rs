//! What the guest does when a stock VMM booted it (QEMU, Firecracker,
//! Cloud Hypervisor, or vmlab's own Linux loader): through PVH
//! ([`crate::pvh`]) or the Linux 64-bit boot protocol ([`linux64`]). The
//! memory map and the command line come from the VMM's structure; the
//! workload's arguments are the words after `--` when the command line has
//! one (the Linux convention); the protocol goes where such a VMM sees it:
//! ready and exit as JSON lines on COM1, and the exit code to QEMU's
//! `isa-debug-exit` port ([`DEBUG_EXIT_PORT`]), then an ACPI power-off and
//! an i8042 reset, then halt. A command line with `VMLAB_PORT=1` before the
//! `--` (what vmlab's VMM gives a Linux guest) means the VMM watches the
//! vmlab port: events then go there, as under vm-bare.
use core::sync::atomic::{AtomicBool, Ordering};

use vmlab_workload::bootinfo::foreign::{self, PhysMem, MAPPED_LIMIT};
use vmlab_workload::bootinfo::BootInfo;
use vmlab_workload::protocol::{Event, PORT_ENV};
use vmlab_workload::report;

use crate::console::Console;
use crate::platform::{inb, outb, port_out};

/// QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4`):
/// writing `v` ends QEMU with status `v << 1 | 1`.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Set when a stock VMM that does not watch the vmlab port booted the
/// guest: the console's lines are then the protocol.
static STOCK_VMM: AtomicBool = AtomicBool::new(false);

/// Whether a stock VMM booted the guest and does not watch the vmlab port.
pub fn stock_vmm() -> bool {
    STOCK_VMM.load(Ordering::Relaxed)
}

/// Set when the guest was booted through PVH or the Linux protocol (the
/// TSC rate is then measured, not told).
static FOREIGN_BOOT: AtomicBool = AtomicBool::new(false);

/// Whether the guest was booted through PVH or the Linux protocol.
pub fn foreign_boot() -> bool {
    FOREIGN_BOOT.load(Ordering::Relaxed)
}

/// One past the image's last byte (`.bss` included).
pub fn image_end() -> u64 {
    core::ptr::addr_of!(__image_end) as u64
}

/// Runs the workload on the boot info a stock VMM's structure gave
/// (`how` names the structure for an error), then exits as such a VMM
/// sees it.
pub fn start(info: Result<BootInfo, foreign::Error>, how: &'static str) -> ! {
    FOREIGN_BOOT.store(true, Ordering::Relaxed);
    let info = match info {
        Ok(info) => info,
        Err(e) => {
            STOCK_VMM.store(true, Ordering::Relaxed);
            let mut console = Console::new();
            let _ = report::error(&mut console, None, &Refused(how, e));
            let _ = report::exit(&mut console, vmlab_workload::runner::EXIT_USAGE);
            exit(vmlab_workload::runner::EXIT_USAGE)
        }
    };
    let (info, port) = workload_args(info);
    STOCK_VMM.store(!port, Ordering::Relaxed);
    let code = crate::main(&info);
    if port {
        port_out(Event::Exit(code).encode());
        crate::halt()
    }
    exit(code)
}

/// `info` with its arguments cut to the words after a `--` word (when there
/// is one), and whether `VMLAB_PORT=1` came before it.
fn workload_args(mut info: BootInfo) -> (BootInfo, bool) {
    let mut raw = [0u8; vmlab_workload::bootinfo::MAX_ARGS];
    let len = (info.args_len as usize).min(raw.len());
    if !Identity.read(info.args_gpa, &mut raw[..len]) {
        return (info, false);
    }
    let line = &raw[..len];
    let mut port = false;
    let mut at = 0;
    for word in line.split(|b| *b == b' ') {
        let next = at + word.len() + 1;
        if word == b"--" {
            info.args_gpa += next.min(len) as u64;
            info.args_len = len.saturating_sub(next) as u64;
            return (info, port);
        }
        port |= word.strip_prefix(PORT_ENV.as_bytes()) == Some(b"=1");
        at = next;
    }
    (info, port)
}

extern "C" {
    /// One past the image's last byte (`.bss` included), from `link.ld`.
    static __image_end: u8;
}

/// Guest memory through the identity map (the low 4 GiB).
pub struct Identity;

impl PhysMem for Identity {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> bool {
        let Some(end) = gpa.checked_add(buf.len() as u64) else {
            return false;
        };
        if gpa == 0 || end > MAPPED_LIMIT {
            return false;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: the entry identity-mapped [0, 4 GiB) (PVH's trampoline, or
            // `linux64::identity_map`), so every
            // address in [gpa, end) is mapped; reading a hole gives what the
            // VMM's bus returns, never a fault. Nothing else writes there.
            *b = unsafe { core::ptr::read_volatile((gpa + i as u64) as *const u8) };
        }
        true
    }
}

/// The TSC frequency from the hypervisor's timing leaf (0x40000010, as KVM
/// and VMware define it), or 0: the platform then measures it against the
/// PIT on the clock's first use, after ready, so that the calibration is not
/// counted in the boot time ([`pit_tsc_khz`]).
pub fn tsc_khz() -> u64 {
    let max = core::arch::x86_64::__cpuid(0x4000_0000).eax;
    if (0x4000_0010..0x4000_0100).contains(&max) {
        let khz = u64::from(core::arch::x86_64::__cpuid(0x4000_0010).eax);
        if khz != 0 {
            return khz;
        }
    }
    0
}

/// The PIT's input clock, Hz.
const PIT_HZ: u64 = 1_193_182;
/// How long the PIT calibration counts, ms.
const CALIBRATE_MS: u64 = 50;

/// PIT channel 0's data port and the PIT's command port.
const PIT_CH0: u16 = 0x40;
const PIT_CMD: u16 = 0x43;

/// Channel 0's status byte, through the read-back command (status only):
/// bit 7 is the OUT pin; bits 5-0 are the access and counting mode.
fn pit_status() -> u8 {
    outb(PIT_CMD, 0xe2);
    inb(PIT_CH0)
}

/// The status bits 5-0 of channel 0 as [`pit_try`] programs it (low then
/// high byte, mode 0, binary). An absent device reads all ones.
const PIT_MODE0: u8 = 0x30;

/// TSC ticks per millisecond, counted over [`CALIBRATE_MS`] of PIT channel 0
/// in mode 0 (OUT goes high at terminal count; read with the read-back
/// command, so no speaker gate is needed: `microvm` has none). Interrupts
/// stay off, so the IRQ it raises is never taken.
///
/// On a loaded host the vCPU can be descheduled between any two steps. So
/// each try brackets both ends with TSC reads, a try that was descheduled
/// past its end is repeated, and the try with the narrowest brackets wins
/// (the first under 1 % of the interval ends the search). `None` without a
/// PIT (a status byte that is not the mode just programmed).
pub fn pit_tsc_khz() -> Option<u64> {
    let mut best: Option<(u64, u64)> = None; // (uncertainty, ticks)
    for _ in 0..CALIBRATE_TRIES {
        let Some((ticks, uncertainty)) = pit_try()? else {
            continue;
        };
        if best.is_none_or(|(u, _)| uncertainty < u) {
            best = Some((uncertainty, ticks));
        }
        if uncertainty * 100 <= ticks {
            break;
        }
    }
    let (_, ticks) = best?;
    let khz = ticks / CALIBRATE_MS;
    (khz != 0).then_some(khz)
}

/// How many calibration tries at most.
const CALIBRATE_TRIES: u32 = 16;

/// One calibration: `Some(Some((ticks, uncertainty)))`, the TSC ticks over
/// [`CALIBRATE_MS`] and the width of the two brackets; `Some(None)` when it
/// must be repeated (OUT was already high at the first look: the vCPU did
/// not run for the whole interval); `None` without a PIT, or when OUT never
/// goes high within 2^31 TSC ticks (0.4 s or more at any TSC rate up to
/// 5 GHz; a try needs 50 ms).
fn pit_try() -> Option<Option<(u64, u64)>> {
    let rdtsc = || {
        // SAFETY: rdtsc is always available in long mode (CR4.TSD is clear).
        unsafe { core::arch::x86_64::_rdtsc() }
    };
    // Counting starts at the high byte's write.
    outb(PIT_CMD, 0x30);
    let count = PIT_HZ * CALIBRATE_MS / 1000;
    outb(PIT_CH0, (count & 0xff) as u8);
    let before = rdtsc();
    outb(PIT_CH0, (count >> 8) as u8);
    let after = rdtsc();
    let status = pit_status();
    if status & 0x3f != PIT_MODE0 {
        return None;
    }
    if status & 0x80 != 0 {
        return Some(None);
    }
    let mut last_low = rdtsc();
    loop {
        let high = pit_status() & 0x80 != 0;
        let now = rdtsc();
        if high {
            // OUT went high between `last_low` and `now`: the interval lies
            // in [last_low - after, now - before]; take its middle.
            let lo = last_low.wrapping_sub(after);
            let hi = now.wrapping_sub(before);
            return Some(Some((lo / 2 + hi / 2, hi - lo)));
        }
        if now.wrapping_sub(before) > 1 << 31 {
            return None;
        }
        last_low = now;
    }
}

/// The i8042's command port; command 0xfe pulses the CPU reset line.
const I8042_COMMAND: u16 = 0x64;

/// Cloud Hypervisor's ACPI shutdown device (its FADT's sleep control
/// register) and the value that requests S5: SLP_TYP 5 at bit 2, SLP_EN
/// at bit 5.
const ACPI_SLEEP_CONTROL: u16 = 0x3c0;
const ACPI_S5: u8 = (5 << 2) | (1 << 5);

/// The exit code to the debug-exit port (the exit line is already on the
/// console). Where that port is not QEMU's debug-exit device: an ACPI
/// power-off (Cloud Hypervisor ends the VM on it, where an i8042 reset
/// would reboot it), then a reset through the i8042 (Firecracker ends the
/// VM on it); where neither exists, halt.
pub fn exit(code: u8) -> ! {
    outb(DEBUG_EXIT_PORT, code);
    outb(ACPI_SLEEP_CONTROL, ACPI_S5);
    outb(I8042_COMMAND, 0xfe);
    crate::halt()
}

/// A refused boot structure, for the error line.
struct Refused(&'static str, foreign::Error);

impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "unusable {}: {:?}", self.0, self.1)
    }
}

/// The Linux 64-bit boot protocol: long mode, `rsi` at `boot_params`, the
/// VMM's page tables (which may map as little as the first GiB).
pub mod linux64 {
    use vmlab_workload::bootinfo::foreign;

    extern "C" {
        static mut pvh_pml4: [u64; 512];
        static mut pvh_pdpt: [u64; 512];
        static mut pvh_pd: [u64; 2048];
    }

    /// Identity-maps the low 4 GiB with 2 MiB pages in the guest's own
    /// tables (PVH's, in `.bss`) and switches to them.
    fn identity_map() {
        let pml4 = core::ptr::addr_of_mut!(pvh_pml4).cast::<u64>();
        let pdpt = core::ptr::addr_of_mut!(pvh_pdpt).cast::<u64>();
        let pd = core::ptr::addr_of_mut!(pvh_pd).cast::<u64>();
        // SAFETY: the three tables are this image's own `.bss`, identity
        // mapped by the VMM's tables (the image is), used by nothing else
        // on this path; every index is within its table. The new tables map
        // the image where it is, so execution continues across the switch.
        unsafe {
            for i in 0..512 {
                pml4.add(i).write_volatile(0);
                pdpt.add(i).write_volatile(0);
            }
            pml4.write_volatile(pdpt as u64 | 3);
            for i in 0..4 {
                pdpt.add(i)
                    .write_volatile((pd as u64 + i as u64 * 4096) | 3);
            }
            for i in 0..2048u64 {
                pd.add(i as usize).write_volatile((i << 21) | 0x83);
            }
            core::arch::asm!("mov cr3, {}", in(reg) pml4 as u64, options(nostack));
        }
    }

    /// Runs the workload from the `boot_params` at `zero_page`.
    pub fn main(zero_page: u64) -> ! {
        identity_map();
        let info = foreign::from_boot_params(
            &super::Identity,
            zero_page,
            super::image_end(),
            super::tsc_khz(),
        );
        super::start(info, "Linux boot_params")
    }
}
