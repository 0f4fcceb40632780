//! virtio devices on the MMIO transport (virtio 1.x, "modern" register
//! layout, version 2): a block device backed by a raw file (`blk`) and a
//! network device backed by a TAP fd (`net`). The rings are rust-vmm's
//! `virtio-queue`; this module adds the register file (`mmio`), the devices
//! and the bus that routes guest-physical addresses to them (`bus`).
//!
//! Bad guest input (descriptors outside guest memory, chains longer than the
//! queue, readable and writable descriptors out of order, unaligned or
//! out-of-range sectors, oversize frames, bad register accesses) is refused
//! and counted in [`VirtioCounters`], never a host panic.
pub(crate) mod blk;
pub mod bus;
pub(crate) mod chain;
pub(crate) mod mmio;
pub(crate) mod net;
pub mod tap;

#[cfg(test)]
mod blk_tests;
#[cfg(test)]
mod net_tests;
#[cfg(test)]
pub(crate) mod testing;

use std::fs::File;
use std::os::fd::OwnedFd;

use virtio_queue::Queue;

use crate::memory::GuestMemoryMmap;

/// Where the first device's registers are (inside the 32-bit MMIO hole).
pub const MMIO_BASE: u64 = 0xd000_0000;
/// Bytes of register space per device (one page).
pub const MMIO_SIZE: u64 = 0x1000;
/// The interrupt line (IOAPIC pin / GSI) of the first device; the next ones
/// follow. 5 and up are free ISA lines (COM1 is 4).
pub const FIRST_IRQ: u32 = 5;
/// At most this many virtio devices per VM.
pub const MAX_DEVICES: usize = 8;

/// A virtio device to attach to a VM.
#[derive(Debug)]
pub enum DeviceConfig {
    /// virtio-blk on a raw file (its size, rounded down to 512-byte sectors,
    /// is the disk's). The caller opens it, read-write unless `read_only`,
    /// with or without `O_DIRECT` (data is bounced through a page-aligned
    /// host buffer; with `O_DIRECT` requests must also be whole logical
    /// blocks of the file's filesystem, or they fail as I/O errors).
    /// Flush is `fdatasync`.
    Block {
        /// The backing file.
        file: File,
        /// Refuse writes (and announce `VIRTIO_BLK_F_RO`).
        read_only: bool,
    },
    /// virtio-net on a TAP fd opened by the caller ([`tap::open`]), or any
    /// fd where one `read` returns one Ethernet frame and one `write` sends
    /// one (a `SOCK_SEQPACKET` socketpair in tests). It is made non-blocking.
    Net {
        /// The TAP (or stand-in) fd.
        tap: OwnedFd,
        /// The guest's MAC address.
        mac: [u8; 6],
    },
}

/// Counters of one device, reported in the outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VirtioCounters {
    /// Writes to QueueNotify.
    pub notifies: u64,
    /// Requests (blk) or frames (net, both ways) completed.
    pub completed: u64,
    /// Bytes the device read from guest memory (blk writes, net TX).
    pub bytes_from_guest: u64,
    /// Bytes the device wrote into guest memory (blk reads, net RX).
    pub bytes_to_guest: u64,
    /// Malformed descriptor chains: outside guest memory, too long,
    /// writable before readable, missing the parts the request needs.
    pub bad_chains: u64,
    /// Well-formed chains with a refused request: unaligned or out-of-range
    /// sectors, writes to a read-only disk, unknown request types,
    /// oversize frames, RX buffers too small for the frame.
    pub bad_requests: u64,
    /// Host-side I/O errors (file or TAP).
    pub io_errors: u64,
    /// Frames dropped: RX with no buffer posted while a newer frame waited,
    /// TX that the TAP would not take.
    pub dropped: u64,
    /// Register accesses refused: wrong width, unknown offset, writes out
    /// of the order the virtio spec allows, notifies of queues not set up.
    pub bad_registers: u64,
    /// Used-buffer notifications signalled (an interrupt where the VM has
    /// an irqchip, the Linux guest; the bare guest polls).
    pub interrupts: u64,
}

/// One device in the outcome: its kind and counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceReport {
    /// "virtio-blk" or "virtio-net".
    pub kind: &'static str,
    /// Guest-physical address of its registers.
    pub mmio_base: u64,
    /// Its interrupt line.
    pub irq: u32,
    /// Its counters.
    pub counters: VirtioCounters,
}

/// What a device implements; the transport ([`mmio::MmioTransport`]) does
/// the rest.
pub(crate) trait VirtioDevice: Send {
    /// "virtio-blk", "virtio-net".
    fn kind(&self) -> &'static str;
    /// The virtio device id.
    fn device_id(&self) -> u32;
    /// Offered features (`VIRTIO_F_VERSION_1` included).
    fn features(&self) -> u64;
    /// The largest size of each queue (their number is this slice's length).
    fn queue_max(&self) -> &'static [u16];
    /// Reads device-specific configuration space at `offset`.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Handles a notify of queue `index`: consumes its available chains.
    /// Returns whether it put buffers on a used ring (an interrupt is due).
    fn notify(&mut self, index: usize, queues: &mut [Queue], mem: &GuestMemoryMmap) -> bool;
    /// Work that needs no notify (frames arriving from the TAP); returns
    /// whether it put buffers on a used ring.
    fn poll(&mut self, _queues: &mut [Queue], _mem: &GuestMemoryMmap) -> bool {
        false
    }
    /// The driver reset the device.
    fn reset(&mut self) {}
    /// Its counters (the transport adds its own).
    fn counters(&mut self) -> &mut VirtioCounters;
}

/// Reads `data.len()` bytes at `offset` from a little-endian config image
/// (zeros beyond its end).
pub(crate) fn read_config_bytes(image: &[u8], offset: u64, data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        let at = offset.saturating_add(i as u64);
        *b = usize::try_from(at)
            .ok()
            .and_then(|at| image.get(at))
            .copied()
            .unwrap_or(0);
    }
}
