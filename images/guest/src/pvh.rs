//! The PVH entry: how stock VMMs (QEMU's `-kernel` on `microvm` and `pc`,
//! Firecracker, Cloud Hypervisor) boot this ELF, found through its
//! `XEN_ELFNOTE_PHYS32_ENTRY` note.
//!
//! PVH enters [`pvh_start32`] in 32-bit protected mode, paging off, flat
//! segments, `ebx` pointing at the `hvm_start_info`, no stack. The
//! trampoline identity-maps the low 4 GiB with 2 MiB pages (tables in
//! `.bss`, which the loader zeroes), turns on PAE, long mode and paging,
//! loads a 64-bit GDT, sets a stack and calls [`pvh_main`] with the
//! start-info address. From there the guest runs as under vmlab's VMM,
//! except that the protocol also goes where a stock VMM can see it: ready
//! and exit as JSON lines on COM1, and the exit code to QEMU's
//! `isa-debug-exit` port ([`DEBUG_EXIT_PORT`]; elsewhere the write is
//! ignored and the guest resets through the i8042, or halts without one).
use core::sync::atomic::{AtomicBool, Ordering};

use vmlab_workload::bootinfo::foreign::{self, PhysMem, MAPPED_LIMIT};
use vmlab_workload::report;

use crate::console::Console;
use crate::platform::{inb, outb};

/// QEMU's `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4`):
/// writing `v` ends QEMU with status `v << 1 | 1`.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Set once the guest was entered through PVH: protocol events are then
/// echoed on the console.
static STOCK_VMM: AtomicBool = AtomicBool::new(false);

/// Whether a stock VMM booted the guest (PVH).
pub fn stock_vmm() -> bool {
    STOCK_VMM.load(Ordering::Relaxed)
}

core::arch::global_asm!(
    r#"
    .section .text.pvh32, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %esi
    movl $pvh_pml4, %edi
    xorl %eax, %eax
    movl $2048, %ecx
    rep stosl
    movl $pvh_pdpt, %eax
    orl $3, %eax
    movl %eax, pvh_pml4
    movl $pvh_pd, %eax
    orl $3, %eax
    movl $pvh_pdpt, %edi
    movl $4, %ecx
1:
    movl %eax, (%edi)
    movl $0, 4(%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    movl $pvh_pd, %edi
    xorl %ecx, %ecx
2:
    movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi,%ecx,8)
    movl $0, 4(%edi,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl $pvh_pml4, %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    lgdt pvh_gdt_ptr
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movq $pvh_stack_top, %rsp
    movl %esi, %edi
    call pvh_main
3:
    hlt
    jmp 3b

    .section .rodata.pvh, "a"
    .balign 8
pvh_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
pvh_gdt_ptr:
    .word 23
    .long pvh_gdt

    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18
    .asciz "Xen"
    .balign 4
    .quad pvh_start32

    .section .bss.pvh, "aw", @nobits
    .balign 4096
pvh_pml4:
    .skip 4096
pvh_pdpt:
    .skip 4096
pvh_pd:
    .skip 16384
pvh_stack:
    .skip 65536
pvh_stack_top:
"#,
    options(att_syntax)
);

extern "C" {
    /// One past the image's last byte (`.bss` included), from `link.ld`.
    static __image_end: u8;
}

/// Guest memory through the identity map (the low 4 GiB).
struct Identity;

impl PhysMem for Identity {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> bool {
        let Some(end) = gpa.checked_add(buf.len() as u64) else {
            return false;
        };
        if gpa == 0 || end > MAPPED_LIMIT {
            return false;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: the trampoline identity-mapped [0, 4 GiB), so every
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
fn tsc_khz() -> u64 {
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
const CALIBRATE_MS: u64 = 10;

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
/// goes high within 2^34 TSC ticks (seconds at any clock).
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
        if now.wrapping_sub(before) > 1 << 34 {
            return None;
        }
        last_low = now;
    }
}

/// The 64-bit side of the PVH entry; `start_info` is the address `ebx` held.
#[no_mangle]
extern "C" fn pvh_main(start_info: u64) -> ! {
    STOCK_VMM.store(true, Ordering::Relaxed);
    let image_end = core::ptr::addr_of!(__image_end) as u64;
    let code = match foreign::from_pvh(&Identity, start_info, image_end, tsc_khz()) {
        Ok(info) => crate::main(&info),
        Err(e) => {
            let mut console = Console::new();
            let _ = report::error(&mut console, None, &PvhError(e));
            let _ = report::exit(&mut console, vmlab_workload::runner::EXIT_USAGE);
            vmlab_workload::runner::EXIT_USAGE
        }
    };
    exit(code)
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

/// A refused start info, for the error line.
struct PvhError(foreign::Error);

impl core::fmt::Display for PvhError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "unusable PVH start info: {:?}", self.0)
    }
}
