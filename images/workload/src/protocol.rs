//! The protocol every backend speaks with the workload.
//!
//! The workload signals three kinds of event: **ready** (the first instruction
//! of the workload proper), **mark** (a phase boundary, with a small id) and
//! **exit** (with the exit code). Each event is one 32-bit word:
//! `kind << 24 | arg`.
//!
//! - In a VM the word is written with one `out dx, eax` to [`PORT`]: one
//!   write, one VM exit, one host timestamp. A Linux guest's PID 1 gets
//!   access to the port with `ioperm`.
//! - In a sandbox or a plain process the word is written, little endian, as
//!   4 bytes to an inherited pipe; the fd number is passed in the environment
//!   variable [`FD_ENV`].
//! - Without either, events are only printed as console lines.
//!
//! Results travel separately, as JSON lines on the console (serial port or
//! stdout). Every such line starts with [`LINE_PREFIX`], so a host can pick
//! them out of kernel log noise. The host side reads them back with
//! `vmlab_workload_host::protocol::Line` (a crate of its own: it needs an
//! allocator and `std`, which the bare guest linking this one has not).

/// The vmlab I/O port (below 0x400, so `ioperm` can grant it).
pub const PORT: u16 = 0x0f4;

/// Environment variable naming the inherited protocol fd.
pub const FD_ENV: &str = "VMLAB_FD";

/// Environment variable that, set to `1`, tells the workload to use [`PORT`].
/// A VMM puts `VMLAB_PORT=1` on the Linux command line; Linux hands such
/// `key=value` words to init as environment.
pub const PORT_ENV: &str = "VMLAB_PORT";

/// Environment variable naming the fd a held workload (`--hold`) reads: one
/// byte, or end of file, tells it to exit. Without it, stdin is read.
pub const HOLD_FD_ENV: &str = "VMLAB_HOLD_FD";

/// The port a held bare guest reads (`in eax, dx`): the VMM answers when the
/// guest may exit. A VMM that does not know the port answers at once.
pub const HOLD_PORT: u16 = PORT + 1;

/// The mark a workload started with `--snapshot` sends just before
/// [`Event::Ready`]: a VMM may snapshot the guest there, and a restored
/// guest goes on to send ready.
pub const SNAPSHOT_MARK: u32 = 0x00ff_fff0;

/// The mark a held workload (`--hold`) sends just before it starts waiting.
pub const HOLD_MARK: u32 = 0x00ff_fff1;

/// The mark a parked workload (`--park`) sends when it is started and
/// initialised, just before it waits for the host's go (then ready).
pub const PARK_MARK: u32 = 0x00ff_fff2;

/// Environment variable naming the fd a parked workload (`--park`) reads
/// its go from: one byte. Without it, stdin is read.
pub const PARK_FD_ENV: &str = "VMLAB_PARK_FD";

/// Every JSON line the workload prints starts with this.
pub const LINE_PREFIX: &str = "{\"vmlab\":";

/// The ready line, as the workload prints it (before its newline). A host
/// that reads a console as a byte stream looks for it to time "ready".
pub const READY_LINE: &str = "{\"vmlab\":\"ready\"}";

/// One protocol event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The workload proper has started.
    Ready,
    /// A phase boundary; the id is below 2^24.
    Mark(u32),
    /// The workload is done and asks to exit with this code.
    Exit(u8),
}

const KIND_READY: u32 = 1;
const KIND_MARK: u32 = 2;
const KIND_EXIT: u32 = 3;
const ARG_MASK: u32 = 0x00ff_ffff;

impl Event {
    /// The 32-bit word for this event.
    pub const fn encode(self) -> u32 {
        match self {
            Event::Ready => KIND_READY << 24,
            Event::Mark(id) => (KIND_MARK << 24) | (id & ARG_MASK),
            Event::Exit(code) => (KIND_EXIT << 24) | code as u32,
        }
    }

    /// Decodes a word; `None` for a word no workload writes.
    pub const fn decode(word: u32) -> Option<Event> {
        let arg = word & ARG_MASK;
        match word >> 24 {
            KIND_READY if arg == 0 => Some(Event::Ready),
            KIND_MARK => Some(Event::Mark(arg)),
            KIND_EXIT if arg <= 0xff => Some(Event::Exit(arg as u8)),
            _ => None,
        }
    }

    /// The 4 bytes written to the protocol fd.
    pub const fn to_bytes(self) -> [u8; 4] {
        self.encode().to_le_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for e in [
            Event::Ready,
            Event::Mark(0),
            Event::Mark(ARG_MASK),
            Event::Exit(0),
            Event::Exit(255),
        ] {
            assert_eq!(Event::decode(e.encode()), Some(e));
            assert_eq!(Event::decode(u32::from_le_bytes(e.to_bytes())), Some(e));
        }
    }

    #[test]
    fn the_ready_line_starts_with_the_prefix() {
        assert!(READY_LINE.starts_with(LINE_PREFIX));
    }

    #[test]
    fn garbage_is_rejected() {
        assert_eq!(Event::decode(0), None);
        assert_eq!(Event::decode(0xff00_0000), None);
        assert_eq!(Event::decode((KIND_READY << 24) | 1), None);
        assert_eq!(Event::decode((KIND_EXIT << 24) | 0x100), None);
    }
}
