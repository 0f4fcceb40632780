//! The 16550 UART at 0x3f8 (vm-superio), its output captured to a bounded
//! tail and optionally streamed. A guest that floods its console keeps only
//! the last [`CONSOLE_CAP`] bytes in host memory; the rest is counted.
use std::cell::Cell;
use std::io::Write;

use vm_superio::{serial::NoEvents, Serial, Trigger};
use vmlab_workload::tail::{Tail, DEFAULT_CAP};

/// How many console bytes are kept (the last ones).
pub const CONSOLE_CAP: usize = DEFAULT_CAP;

/// COM1's first port.
pub(crate) const COM1: u16 = 0x3f8;
/// COM1's interrupt line.
pub(crate) const COM1_IRQ: u32 = 4;

/// Where the console bytes go: always a bounded tail, optionally a stream too.
pub(crate) struct Console {
    tail: Tail<Box<[u8]>>,
    stream: Option<Box<dyn Write + Send>>,
}

impl Write for Console {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.tail.push(data);
        if let Some(s) = self.stream.as_mut() {
            // A broken stream must not stop the guest; the tail still has it.
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
pub(crate) struct IrqLatch(Cell<bool>);

impl Trigger for IrqLatch {
    type E = std::convert::Infallible;

    fn trigger(&self) -> Result<(), Self::E> {
        self.0.set(true);
        Ok(())
    }
}

/// COM1.
pub(crate) struct SerialPort {
    uart: Serial<IrqLatch, NoEvents, Console>,
}

impl SerialPort {
    /// A UART whose last [`CONSOLE_CAP`] output bytes are captured and, if
    /// given, all of them streamed.
    pub(crate) fn new(stream: Option<Box<dyn Write + Send>>) -> SerialPort {
        SerialPort::with_capacity(CONSOLE_CAP, stream)
    }

    /// A UART keeping the last `cap` output bytes.
    pub(crate) fn with_capacity(cap: usize, stream: Option<Box<dyn Write + Send>>) -> SerialPort {
        SerialPort {
            uart: Serial::new(
                IrqLatch::default(),
                Console {
                    tail: Tail::new(vec![0u8; cap].into_boxed_slice()),
                    stream,
                },
            ),
        }
    }

    /// The UART's registers and receive FIFO (snapshots).
    pub(crate) fn state(&self) -> vm_superio::serial::SerialState {
        self.uart.state()
    }

    /// A UART with the registers of `state` (an empty console tail), or
    /// `None` when its FIFO holds more than a UART can.
    pub(crate) fn from_state(
        state: &vm_superio::serial::SerialState,
        stream: Option<Box<dyn Write + Send>>,
    ) -> Option<SerialPort> {
        let console = Console {
            tail: Tail::new(vec![0u8; CONSOLE_CAP].into_boxed_slice()),
            stream,
        };
        Serial::from_state(state, IrqLatch::default(), NoEvents, console)
            .ok()
            .map(|uart| SerialPort { uart })
    }

    /// Reads register `offset` (0..8).
    pub(crate) fn read(&mut self, offset: u8) -> u8 {
        self.uart.read(offset)
    }

    /// Writes register `offset`; a failed output write is not the guest's problem.
    pub(crate) fn write(&mut self, offset: u8, value: u8) {
        let _ = self.uart.write(offset, value);
    }

    /// Whether the UART raised its interrupt since the last call.
    pub(crate) fn take_irq(&self) -> bool {
        self.uart.interrupt_evt().0.replace(false)
    }

    /// The kept bytes the guest wrote so far (the last [`CONSOLE_CAP`]).
    #[cfg(test)]
    pub(crate) fn output(&self) -> Vec<u8> {
        self.uart.writer().tail.chunks().concat()
    }

    /// Bytes the guest wrote that are no longer kept.
    #[cfg(test)]
    pub(crate) fn dropped(&self) -> u64 {
        self.uart.writer().tail.dropped()
    }

    /// Takes the kept bytes and the count of those dropped before them.
    pub(crate) fn into_output(self) -> (Vec<u8>, u64) {
        let mut console = self.uart.into_writer();
        let _ = console.flush();
        (console.tail.chunks().concat(), console.tail.dropped())
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
        assert_eq!(s.into_output(), (b"hi\nx".to_vec(), 0));
    }

    /// Counts what it is given, to check the stream still sees everything.
    struct Counter(std::sync::Arc<std::sync::atomic::AtomicU64>);

    impl Write for Counter {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            self.0
                .fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_console_flood_keeps_a_bounded_tail_and_counts_the_rest() {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut s = SerialPort::new(Some(Box::new(Counter(seen.clone()))));
        // 10 MiB of "y\n", like `yes`, then a last line.
        const FLOOD: u64 = 10 << 20;
        for i in 0..FLOOD {
            s.write(0, if i % 2 == 0 { b'y' } else { b'\n' });
        }
        for b in b"last\n" {
            s.write(0, *b);
        }
        let total = FLOOD + 5;
        assert_eq!(s.dropped(), total - CONSOLE_CAP as u64);
        let (kept, dropped) = s.into_output();
        assert_eq!(kept.len(), CONSOLE_CAP);
        assert_eq!(dropped, total - CONSOLE_CAP as u64);
        assert!(kept.ends_with(b"y\ny\nlast\n"));
        assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), total);
    }
}
