//! The console: COM1 (16550 at 0x3f8), polled. The FIFO is enabled on first
//! use, then each wait for "transmitter holding register empty" (LSR bit 5)
//! is followed by up to 16 bytes, the FIFO's depth, sent with one
//! `rep outsb` (one VM exit instead of sixteen).
use crate::platform::{inb, outb, outsb};

const COM1: u16 = 0x3f8;
const FCR: u16 = COM1 + 2;
const LSR: u16 = COM1 + 5;
const LSR_THR_EMPTY: u8 = 1 << 5;
const FIFO_DEPTH: usize = 16;

/// COM1 as a `core::fmt::Write`.
pub struct Console {
    ready: bool,
}

impl Console {
    /// A console; the UART is touched only when something is written.
    pub const fn new() -> Console {
        Console { ready: false }
    }
}

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if !self.ready {
            outb(FCR, 0x07); // enable and clear the FIFOs
            self.ready = true;
        }
        for chunk in s.as_bytes().chunks(FIFO_DEPTH) {
            while inb(LSR) & LSR_THR_EMPTY == 0 {
                core::hint::spin_loop();
            }
            outsb(COM1, chunk);
        }
        Ok(())
    }
}
