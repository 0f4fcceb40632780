//! The port-I/O bus: COM1, the vmlab port, the i8042 reset line, the CMOS RTC,
//! and everything else (reads return 0xff, writes are counted and ignored).
use std::cell::Cell;

use vm_superio::{I8042Device, Trigger};
use vmlab_workload::protocol::{Event, PORT as VMLAB_PORT};

use super::rtc::{self, Rtc};
use super::serial::{SerialPort, COM1};

/// The i8042 data port.
pub(crate) const I8042_DATA: u16 = 0x60;
/// The i8042 command port.
pub(crate) const I8042_CMD: u16 = 0x64;
/// What the i8042 status register reads: output buffer full, input buffer
/// empty, forever. Linux's probe then drains 16 bytes, decides there is no
/// controller and moves on (a status of 0 makes it wait for replies that
/// never come: about a second of timeouts); the reset command still works,
/// since the input buffer is empty.
pub(crate) const I8042_STATUS: u8 = 0x01;

/// What the run loop must do after a port write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing: keep running.
    Continue,
    /// The workload sent a protocol event.
    Event(Event),
    /// The guest asked the i8042 to reset the CPU (Linux `reboot=k`).
    Reset,
}

/// Latches the i8042 CPU-reset request.
#[derive(Default)]
pub(crate) struct ResetLatch(Cell<bool>);

impl Trigger for ResetLatch {
    type E = std::convert::Infallible;

    fn trigger(&self) -> Result<(), Self::E> {
        self.0.set(true);
        Ok(())
    }
}

/// Counters of port traffic nobody handles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unhandled {
    /// Reads of ports without a device (answered 0xff).
    pub reads: u64,
    /// Writes to ports without a device (ignored).
    pub writes: u64,
    /// Words on the vmlab port that are no protocol event (ignored).
    pub bad_words: u64,
}

/// All port devices of one VM.
pub(crate) struct PortBus {
    /// COM1.
    pub serial: SerialPort,
    rtc: Rtc,
    i8042: I8042Device<ResetLatch>,
    /// Traffic nobody handled.
    pub unhandled: Unhandled,
}

impl PortBus {
    /// A bus whose serial output is captured and optionally streamed.
    pub(crate) fn new(stream: Option<Box<dyn std::io::Write + Send>>) -> PortBus {
        PortBus {
            serial: SerialPort::new(stream),
            rtc: Rtc::default(),
            i8042: I8042Device::new(ResetLatch::default()),
            unhandled: Unhandled::default(),
        }
    }

    /// The devices' state for a snapshot.
    pub(crate) fn state(&self) -> crate::snapshot::state::Devices {
        crate::snapshot::state::Devices {
            serial: self.serial.state(),
            rtc_index: self.rtc.index,
            unhandled: self.unhandled,
        }
    }

    /// A bus in the state `d` (`None` when the serial state is impossible).
    pub(crate) fn from_state(
        d: &crate::snapshot::state::Devices,
        stream: Option<Box<dyn std::io::Write + Send>>,
    ) -> Option<PortBus> {
        Some(PortBus {
            serial: SerialPort::from_state(&d.serial, stream)?,
            rtc: Rtc { index: d.rtc_index },
            i8042: I8042Device::new(ResetLatch::default()),
            unhandled: d.unhandled,
        })
    }

    /// Handles an `in` of `data.len()` bytes from `port`.
    pub(crate) fn read(&mut self, port: u16, data: &mut [u8]) {
        match port {
            // Byte registers; a string `in` (`rep insb`) reads the same one repeatedly.
            COM1..=0x3ff => data
                .iter_mut()
                .for_each(|b| *b = self.serial.read((port - COM1) as u8)),
            // A boundary crossing: the workload times `in` round trips.
            VMLAB_PORT => data.fill(0),
            rtc::INDEX_PORT | rtc::DATA_PORT => data[0] = self.rtc.read(port),
            I8042_DATA => data[0] = self.i8042.read(0),
            I8042_CMD => data[0] = I8042_STATUS,
            _ => {
                self.unhandled.reads += 1;
                data.fill(0xff);
            }
        }
    }

    /// Handles an `out` of `data` to `port`.
    pub(crate) fn write(&mut self, port: u16, data: &[u8]) -> Action {
        match port {
            VMLAB_PORT if data.len() == 4 => {
                let word = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                match Event::decode(word) {
                    Some(e) => return Action::Event(e),
                    None => self.unhandled.bad_words += 1,
                }
            }
            VMLAB_PORT => self.unhandled.bad_words += 1,
            // Byte registers; a string `out` (`rep outsb`, one exit for many
            // bytes) writes each byte to the same register in turn.
            COM1..=0x3ff => data
                .iter()
                .for_each(|&b| self.serial.write((port - COM1) as u8, b)),
            rtc::INDEX_PORT | rtc::DATA_PORT => self.rtc.write(port, data[0]),
            I8042_DATA | I8042_CMD => {
                let _ = self.i8042.write((port - I8042_DATA) as u8, data[0]);
                if self.i8042.reset_evt().0.replace(false) {
                    return Action::Reset;
                }
            }
            _ => self.unhandled.writes += 1,
        }
        Action::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_words_become_events() {
        let mut bus = PortBus::new(None);
        let w = |e: Event| e.encode().to_le_bytes();
        assert_eq!(
            bus.write(VMLAB_PORT, &w(Event::Ready)),
            Action::Event(Event::Ready)
        );
        assert_eq!(
            bus.write(VMLAB_PORT, &w(Event::Exit(7))),
            Action::Event(Event::Exit(7))
        );
        assert_eq!(bus.write(VMLAB_PORT, &[0, 0, 0, 0]), Action::Continue);
        assert_eq!(bus.write(VMLAB_PORT, &[1]), Action::Continue);
        assert_eq!(bus.unhandled.bad_words, 2);
    }

    #[test]
    fn i8042_reset_and_unknown_ports() {
        let mut bus = PortBus::new(None);
        assert_eq!(bus.write(I8042_CMD, &[0x20]), Action::Continue);
        assert_eq!(bus.write(I8042_CMD, &[0xfe]), Action::Reset);
        let mut status = [0u8];
        bus.read(I8042_CMD, &mut status);
        assert_eq!(status[0] & 0x03, 0x01, "output full, input empty");
        assert_eq!(bus.write(0x80, &[0]), Action::Continue);
        let mut d = [0u8; 2];
        bus.read(0x1234, &mut d);
        assert_eq!(d, [0xff, 0xff]);
        let mut w = [9u8; 4];
        bus.read(VMLAB_PORT, &mut w);
        assert_eq!(w, [0; 4]);
        assert_eq!(
            bus.unhandled,
            Unhandled {
                reads: 1,
                writes: 1,
                bad_words: 0
            }
        );
    }

    #[test]
    fn serial_output_is_captured() {
        let mut bus = PortBus::new(None);
        bus.write(COM1, b"A");
        assert_eq!(bus.serial.output(), b"A");
        assert_eq!(bus.serial.dropped(), 0);
        bus.write(COM1, b"BCDEFGH"); // rep outsb
        assert_eq!(bus.serial.output(), b"ABCDEFGH");
        let mut lsr = [0u8; 3];
        bus.read(COM1 + 5, &mut lsr);
        assert!(lsr.iter().all(|b| b & 0x20 != 0));
    }
}
