//! The bare vmlab guest (placeholder until the VMM issue lands).
#![no_std]
#![no_main]

use vmlab_workload::protocol::{Event, PORT};

/// Entry point, in 64-bit long mode; `rdi` points at the boot info.
#[no_mangle]
#[link_section = ".text._start"]
pub extern "C" fn _start(_bootinfo: u64) -> ! {
    out(Event::Ready.encode());
    out(Event::Exit(0).encode());
    loop {
        core::hint::spin_loop();
    }
}

fn out(word: u32) {
    // SAFETY: port I/O to the vmlab port has no memory effects; the VMM
    // handles the exit.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") PORT, in("eax") word, options(nomem, nostack))
    };
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    out(Event::Exit(255).encode());
    loop {
        core::hint::spin_loop();
    }
}

/// `core` references this symbol even with panic=abort; it is never called.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
