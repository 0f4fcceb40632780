//! The driver's side of one split virtqueue of [`QSIZE`] entries in one
//! page: descriptor table at 0, available ring at 256, used ring at 512.
use super::regs::{self, Dma, Regs};

/// Entries per queue.
pub const QSIZE: u16 = 16;
const DESC: u64 = 0;
const AVAIL: u64 = 256;
const USED: u64 = 512;
/// Descriptor flags.
pub const NEXT: u16 = 1;
pub const WRITE: u16 = 2;

/// One buffer of a chain: guest-physical address, length, device-writable.
#[derive(Clone, Copy)]
pub struct Buf {
    pub addr: u64,
    pub len: u32,
    pub writable: bool,
}

/// A virtqueue.
pub struct Ring {
    mem: Dma,
    index: u32,
    avail_idx: u16,
    last_used: u16,
}

impl Ring {
    /// Sets queue `index` of `regs` up on the page `mem`; `None` when the
    /// device's queue is smaller than [`QSIZE`].
    pub fn new(regs: &Regs, index: u32, mem: Dma) -> Option<Ring> {
        regs.write(regs::QUEUE_SEL, index);
        if regs.read(regs::QUEUE_NUM_MAX) < u32::from(QSIZE) {
            return None;
        }
        regs.write(regs::QUEUE_NUM, u32::from(QSIZE));
        let split = |a: u64| (a as u32, (a >> 32) as u32);
        for (lo, hi, at) in [
            (regs::QUEUE_DESC_LOW, regs::QUEUE_DESC_HIGH, DESC),
            (regs::QUEUE_AVAIL_LOW, regs::QUEUE_AVAIL_HIGH, AVAIL),
            (regs::QUEUE_USED_LOW, regs::QUEUE_USED_HIGH, USED),
        ] {
            let (l, h) = split(mem.base + at);
            regs.write(lo, l);
            regs.write(hi, h);
        }
        regs.write(regs::QUEUE_READY, 1);
        Some(Ring {
            mem,
            index,
            avail_idx: 0,
            last_used: 0,
        })
    }

    /// Writes `bufs` as a chain from descriptor `head` on (`head +
    /// bufs.len()` ≤ [`QSIZE`]) and makes it available; does not notify.
    pub fn push(&mut self, head: u16, bufs: &[Buf]) {
        for (i, b) in bufs.iter().enumerate() {
            let d = u64::from(head) + i as u64;
            let mut flags = if b.writable { WRITE } else { 0 };
            if i + 1 < bufs.len() {
                flags |= NEXT;
            }
            let at = DESC + d * 16;
            self.mem.put(at, b.addr);
            self.mem.put(at + 8, b.len);
            self.mem.put(at + 12, flags);
            self.mem.put(at + 14, (d + 1) as u16);
        }
        let slot = u64::from(self.avail_idx % QSIZE);
        self.mem.put(AVAIL + 4 + slot * 2, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        self.mem.put(AVAIL + 2, self.avail_idx);
    }

    /// Tells the device to look at this queue.
    pub fn notify(&self, regs: &Regs) {
        regs.write(regs::QUEUE_NOTIFY, self.index);
    }

    /// The next used entry (head, bytes written), if the device returned one.
    pub fn pop_used(&mut self) -> Option<(u16, u32)> {
        let idx: u16 = self.mem.get(USED + 2);
        if idx == self.last_used {
            return None;
        }
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        let slot = u64::from(self.last_used % QSIZE);
        let id: u32 = self.mem.get(USED + 4 + slot * 8);
        let len: u32 = self.mem.get(USED + 8 + slot * 8);
        self.last_used = self.last_used.wrapping_add(1);
        Some((id as u16, len))
    }
}
