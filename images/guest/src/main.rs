//! The bare vmlab guest: a freestanding x86_64 ELF the vmlab VMM enters in
//! 64-bit long mode at [`_start`], with `rdi` pointing at the
//! [`BootInfo`](vmlab_workload::bootinfo::BootInfo) and a stack already set.
//!
//! The VMM prepares everything (identity page tables, GDT, boot info), so the
//! path from entry to the ready event is short: read the arguments, parse
//! them, and let [`vmlab_workload::run`] send ready and run the shared
//! kernels. Results go out as JSON lines over the polled 16550 at 0x3f8;
//! the last act is the exit event on the vmlab port.
//!
//! Stock VMMs boot the same ELF through PVH ([`pvh`]): a 32-bit entry that
//! builds its own page tables, reads the memory map and arguments from the
//! `hvm_start_info`, and also sends ready and exit where such a VMM sees
//! them (COM1, QEMU's debug-exit port).
//!
//! Build requirement: on software nested KVM (`kvm_pvm`) every guest
//! instruction goes through KVM's instruction emulator, which lacks most SSE
//! instructions (`xorps`, `movd`, `pinsrw`, ...). Build this crate with
//! `RUSTFLAGS="-C target-feature=-sse,-sse2"` (the workspace's own code then
//! has no SSE; core's precompiled integer formatting still uses SSE for
//! numbers of five digits and more, so the workload formats those itself).
#![no_std]
#![no_main]

mod console;
mod mem;
mod platform;
mod pvh;
mod stock;
mod virtio;

use vmlab_workload::bootinfo::{
    BootInfo, VirtioTable, BOOTINFO_GPA, BOOTINFO_MAGIC, VIRTIO_FLAG_SELFTEST, VIRTIO_TABLE_GPA,
};
use vmlab_workload::protocol::Event;
use vmlab_workload::{report, runner, Spec};

use console::Console;
use platform::{port_out, Bare};

// The ELF entry, in 64-bit long mode: onto the image's own stack (the
// Linux 64-bit boot protocol gives none), then `start64(rdi, rsi)`.
core::arch::global_asm!(
    r#"
    .section .text._start, "ax"
    .code64
    .globl _start
_start:
    cli
    cld
    movq $pvh_stack_top, %rsp
    xorl %ebp, %ebp
    call start64
1:
    hlt
    jmp 1b
"#,
    options(att_syntax)
);

/// Where the ELF entry lands: vmlab's VMM puts its boot info at
/// [`BOOTINFO_GPA`] and passes that address in `rdi`; the Linux 64-bit boot
/// protocol (Firecracker and Cloud Hypervisor for an ELF they do not boot
/// through PVH, vmlab's own Linux loader) passes `boot_params` in `rsi`.
#[no_mangle]
extern "C" fn start64(rdi: u64, rsi: u64) -> ! {
    if rdi == BOOTINFO_GPA {
        // SAFETY: vmlab's VMM wrote a `BootInfo` at this identity-mapped
        // address before entry, and nothing writes it afterwards.
        let info = unsafe { &*(BOOTINFO_GPA as *const BootInfo) };
        if info.magic == BOOTINFO_MAGIC {
            let code = main(info);
            port_out(Event::Exit(code).encode());
            halt()
        }
    }
    if rsi != 0 {
        stock::linux64::main(rsi)
    }
    let mut console = Console::new();
    let _ = report::error(
        &mut console,
        None,
        &"entered without vmlab's boot info (rdi) or Linux boot_params (rsi)",
    );
    let _ = report::exit(&mut console, runner::EXIT_USAGE);
    stock::exit(runner::EXIT_USAGE)
}

pub(crate) fn main(info: &BootInfo) -> u8 {
    let mut console = Console::new();
    if !info.is_valid() {
        return fail(&mut console, "invalid boot info");
    }
    // SAFETY: the VMM wrote `args_len` bytes of arguments at `args_gpa`,
    // identity mapped and untouched by the guest.
    let raw =
        unsafe { core::slice::from_raw_parts(info.args_gpa as *const u8, info.args_len as usize) };
    let Ok(args) = core::str::from_utf8(raw) else {
        return fail(&mut console, "arguments are not UTF-8");
    };
    let spec = match Spec::parse(args.split_ascii_whitespace()) {
        Ok(spec) => spec,
        Err(e) => return runner::bad_args(&e, &mut console),
    };
    // Another VMM's boot protocol announces no vmlab devices.
    let none = VirtioTable::default();
    let table = if stock::foreign_boot() {
        &none
    } else {
        // SAFETY: the boot-info page is identity mapped; vmlab's VMM wrote
        // the virtio table there or left it zero (no magic: no devices).
        unsafe { &*(VIRTIO_TABLE_GPA as *const VirtioTable) }
    };
    // Never below the image's own end (its `.bss` and stack).
    let start = info.free_start.max(stock::image_end());
    let mut carve = virtio::Carver::new(start, info.free_end);
    let devices = virtio::Devices::probe(table.devices(), &mut carve);
    let mut rest = *info;
    rest.free_start = carve.next;
    let mut platform = Bare::new(&rest, devices);
    if !table.devices().is_empty() && table.flags & VIRTIO_FLAG_SELFTEST != 0 {
        return platform.virtio_selftest(&mut console);
    }
    vmlab_workload::run(&mut platform, &spec, &mut console)
}

/// Reports a problem with what the VMM passed; the exit code is the usage one.
fn fail(console: &mut Console, message: &str) -> u8 {
    let _ = report::error(console, None, &message);
    let _ = report::exit(console, runner::EXIT_USAGE);
    runner::EXIT_USAGE
}

pub(crate) fn halt() -> ! {
    loop {
        // SAFETY: hlt only waits for an interrupt; the VMM has stopped the
        // vCPU at the exit event anyway.
        unsafe { core::arch::asm!("hlt", options(nomem, nostack)) };
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    let _ = core::fmt::Write::write_str(
        &mut Console::new(),
        "{\"vmlab\":\"error\",\"message\":\"bare guest panicked\"}\n",
    );
    if stock::stock_vmm() {
        let _ = report::exit(&mut Console::new(), 255);
        stock::exit(255)
    }
    port_out(Event::Exit(255).encode());
    halt()
}

/// `core` references this symbol even with panic=abort; it is never called.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
