//! The 16550 UART at 0x3f8 (vm-superio), its output captured to a buffer and
//! optionally streamed.
use std::cell::Cell;
use std::io::Write;

use vm_superio::{serial::NoEvents, Serial, Trigger};

/// COM1's first port.
pub const COM1: u16 = 0x3f8;
/// COM1's interrupt line.
pub const COM1_IRQ: u32 = 4;

/// Where the console bytes go: always a buffer, optionally a stream too.
pub struct Console {
    buf: Vec<u8>,
    stream: Option<Box<dyn Write + Send>>,
}

impl Write for Console {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if let Some(s) = self.stream.as_mut() {
            // A broken stream must not stop the guest; the buffer still has it.
            if s.write_all(data).is_err() {
                self.stream = None;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if let Some(s) = self.stream.as_mut() {
            let _ = s.flush();
        }
        Ok(())
    }
}

/// Records that the UART raised its interrupt; the run loop injects it.
#[derive(Default)]
pub struct IrqLatch(Cell<bool>);

impl Trigger for IrqLatch {
    type E = std::convert::Infallible;

    fn trigger(&self) -> Result<(), Self::E> {
        self.0.set(true);
        Ok(())
    }
}

/// COM1.
pub struct SerialPort {
    uart: Serial<IrqLatch, NoEvents, Console>,
}

impl SerialPort {
    /// A UART whose output is captured and, if given, streamed.
    pub fn new(stream: Option<Box<dyn Write + Send>>) -> SerialPort {
        SerialPort {
            uart: Serial::new(
                IrqLatch::default(),
                Console {
                    buf: Vec::new(),
                    stream,
                },
            ),
        }
    }

    /// Reads register `offset` (0..8).
    pub fn read(&mut self, offset: u8) -> u8 {
        self.uart.read(offset)
    }

    /// Writes register `offset`; a failed output write is not the guest's problem.
    pub fn write(&mut self, offset: u8, value: u8) {
        let _ = self.uart.write(offset, value);
    }

    /// Whether the UART raised its interrupt since the last call.
    pub fn take_irq(&self) -> bool {
        self.uart.interrupt_evt().0.replace(false)
    }

    /// The bytes the guest wrote so far.
    pub fn output(&self) -> &[u8] {
        &self.uart.writer().buf
    }

    /// Takes the captured bytes.
    pub fn into_output(self) -> Vec<u8> {
        let mut console = self.uart.into_writer();
        let _ = console.flush();
        console.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_transmitted_bytes_and_reports_thr_empty() {
        let mut s = SerialPort::new(None);
        for b in b"hi\n" {
            s.write(0, *b);
        }
        assert_eq!(s.output(), b"hi\n");
        // LSR: transmitter holding register empty.
        assert_ne!(s.read(5) & 0x20, 0);
        assert!(!s.take_irq(), "no interrupt unless the guest enables one");
        s.write(1, 0x02); // IER: THR empty
        s.write(0, b'x');
        assert!(s.take_irq());
        assert!(!s.take_irq());
        assert_eq!(s.into_output(), b"hi\nx");
    }
}
