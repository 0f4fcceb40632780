//! virtio-net on a TAP fd: queue 0 receives (frames from the TAP into
//! buffers the guest posted), queue 1 transmits. Each buffer starts with the
//! 12-byte `virtio_net_hdr_v1` (no offloads are offered, so it is all zero
//! but `num_buffers` = 1 on receive); frames are at most [`MAX_FRAME`]
//! bytes. The TAP is non-blocking: receive reads it when the guest kicks the
//! receive queue or the run loop polls; a frame that finds no posted buffer
//! waits (one frame at most), transmit drops a frame the TAP will not take.
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ids::VIRTIO_ID_NET;
use virtio_bindings::virtio_net::VIRTIO_NET_F_MAC;
use virtio_queue::{DescriptorChain, Queue, QueueOwnedT, QueueT, Reader, Writer};

use super::chain;
use super::{read_config_bytes, VirtioCounters, VirtioDevice};
use crate::memory::GuestMemoryMmap;

/// The virtio-net header's size (`virtio_net_hdr_v1`).
pub(crate) const HDR: usize = 12;
/// The largest frame (Ethernet header, 1500-byte payload, a VLAN tag).
pub(crate) const MAX_FRAME: usize = 1518;
/// Receive and transmit queues' largest sizes.
const QUEUE_MAX: &[u16] = &[256, 256];
/// Descriptors per chain accepted.
const MAX_DESCS: usize = 16;
/// The read buffer: big enough to see that a frame is oversize.
const READ_BUF: usize = 65536;
const RX: usize = 0;
const TX: usize = 1;

/// A virtio-net device.
pub(crate) struct Net {
    tap: OwnedFd,
    mac: [u8; 6],
    /// Receive buffer: header room, then the frame read from the TAP.
    buf: Vec<u8>,
    /// Transmit buffer: header and frame read from the guest.
    tx_buf: Vec<u8>,
    /// Length of a received frame in `buf` waiting for a buffer.
    pending: Option<usize>,
    counters: VirtioCounters,
}

impl Net {
    /// A device on `tap` (made non-blocking).
    pub(crate) fn new(tap: OwnedFd, mac: [u8; 6]) -> nix::Result<Net> {
        let flags = OFlag::from_bits_truncate(fcntl(&tap, FcntlArg::F_GETFL)?);
        fcntl(&tap, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        Ok(Net {
            tap,
            mac,
            buf: vec![0; READ_BUF],
            tx_buf: vec![0; HDR + MAX_FRAME],
            pending: None,
            counters: VirtioCounters::default(),
        })
    }

    fn transmit(&mut self, q: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let mut used = false;
        while let Some(chain) = next_chain(q, mem, &mut self.counters) {
            let head = chain.head_index();
            self.send(chain, mem);
            // Fails only for a head beyond the queue, a chain already counted.
            if q.add_used(mem, head, 0).is_err() {
                break;
            }
            used = true;
        }
        used
    }

    fn send(&mut self, chain: DescriptorChain<&GuestMemoryMmap>, mem: &GuestMemoryMmap) {
        let shape = match chain::shape(&chain, MAX_DESCS) {
            Ok(s) if s.writable == 0 && s.readable >= HDR as u64 => s,
            _ => {
                self.counters.bad_chains += 1;
                return;
            }
        };
        let len = shape.readable as usize - HDR;
        if len > MAX_FRAME || len == 0 {
            self.counters.bad_requests += 1;
            return;
        }
        let Ok(mut reader) = Reader::<()>::new(mem, chain) else {
            self.counters.bad_chains += 1;
            return;
        };
        let frame = &mut self.tx_buf[..HDR + len];
        if std::io::Read::read_exact(&mut reader, frame).is_err() {
            self.counters.bad_chains += 1;
            return;
        }
        match nix::unistd::write(&self.tap, &frame[HDR..]) {
            Ok(n) if n == len => {
                self.counters.completed += 1;
                self.counters.bytes_from_guest += len as u64;
            }
            Ok(_) | Err(Errno::EAGAIN) | Err(Errno::ENOBUFS) => self.counters.dropped += 1,
            Err(_) => self.counters.io_errors += 1,
        }
    }

    /// Moves frames from the TAP into posted receive buffers.
    fn receive(&mut self, q: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let mut used = false;
        for _ in 0..QUEUE_MAX[RX] {
            let Some(len) = self.pending.or_else(|| self.read_frame()) else {
                break;
            };
            self.pending = Some(len);
            let Some(chain) = next_chain(q, mem, &mut self.counters) else {
                break;
            };
            self.pending = None;
            let head = chain.head_index();
            let written = self.deliver(chain, mem, len);
            // Fails only for a head beyond the queue, a chain already counted.
            if q.add_used(mem, head, written).is_err() {
                break;
            }
            used = true;
        }
        used
    }

    /// One frame from the TAP into `buf`; oversize frames are dropped.
    fn read_frame(&mut self) -> Option<usize> {
        loop {
            match nix::unistd::read(&self.tap, &mut self.buf[HDR..]) {
                Ok(0) | Err(Errno::EAGAIN) => return None,
                Ok(n) if n > MAX_FRAME => self.counters.bad_requests += 1,
                Ok(n) => return Some(n),
                Err(Errno::EINTR) => {}
                Err(_) => {
                    self.counters.io_errors += 1;
                    return None;
                }
            }
        }
    }

    /// Writes header and frame into `chain`; returns the bytes written.
    fn deliver(
        &mut self,
        chain: DescriptorChain<&GuestMemoryMmap>,
        mem: &GuestMemoryMmap,
        len: usize,
    ) -> u32 {
        let total = HDR + len;
        let shape = match chain::shape(&chain, MAX_DESCS) {
            Ok(s) if s.readable == 0 => s,
            _ => {
                self.counters.bad_chains += 1;
                self.counters.dropped += 1;
                return 0;
            }
        };
        if shape.writable < total as u64 {
            self.counters.bad_requests += 1;
            self.counters.dropped += 1;
            return 0;
        }
        let Ok(mut writer) = Writer::<()>::new(mem, chain) else {
            self.counters.bad_chains += 1;
            self.counters.dropped += 1;
            return 0;
        };
        self.buf[..HDR].fill(0);
        self.buf[HDR - 2..HDR].copy_from_slice(&1u16.to_le_bytes());
        if std::io::Write::write_all(&mut writer, &self.buf[..total]).is_err() {
            self.counters.bad_chains += 1;
            return 0;
        }
        self.counters.completed += 1;
        self.counters.bytes_to_guest += len as u64;
        total as u32
    }
}

/// The next available chain of `q`; a corrupt available ring is counted.
fn next_chain<'m>(
    q: &mut Queue,
    mem: &'m GuestMemoryMmap,
    counters: &mut VirtioCounters,
) -> Option<DescriptorChain<&'m GuestMemoryMmap>> {
    match q.iter(mem) {
        Ok(mut it) => it.next(),
        Err(_) => {
            counters.bad_chains += 1;
            None
        }
    }
}

impl VirtioDevice for Net {
    fn kind(&self) -> &'static str {
        "virtio-net"
    }

    fn device_id(&self) -> u32 {
        VIRTIO_ID_NET
    }

    fn features(&self) -> u64 {
        1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_NET_F_MAC
    }

    fn queue_max(&self) -> &'static [u16] {
        QUEUE_MAX
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        read_config_bytes(&self.mac, offset, data);
    }

    fn notify(&mut self, index: usize, queues: &mut [Queue], mem: &GuestMemoryMmap) -> bool {
        match (index, queues) {
            (RX, [rx, _]) => self.receive(rx, mem),
            (TX, [rx, tx]) => {
                let sent = self.transmit(tx, mem);
                // A reply may already be waiting: check on every kick.
                self.receive(rx, mem) | sent
            }
            _ => {
                self.counters.bad_registers += 1;
                false
            }
        }
    }

    fn poll(&mut self, queues: &mut [Queue], mem: &GuestMemoryMmap) -> bool {
        match queues {
            [rx, _] => self.receive(rx, mem),
            _ => false,
        }
    }

    fn reset(&mut self) {
        self.pending = None;
    }

    fn counters(&mut self) -> &mut VirtioCounters {
        &mut self.counters
    }
}
