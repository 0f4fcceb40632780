//! The polled virtio-blk driver: one request at a time, data moved straight
//! to and from the caller's buffer (the guest is identity mapped, so its
//! address is the buffer's guest-physical address).
use vmlab_workload::io::{BlockDevice, IoError, SECTOR};

use super::regs::{gpa, Dma, Regs};
use super::ring::{Buf, Ring};
use super::{driver_ok, negotiate, Carver, ID_BLOCK, POLLS};

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
/// `VIRTIO_BLK_F_FLUSH`.
const F_FLUSH: u32 = 1 << 9;
/// The largest request the VMM takes (1 MiB).
const MAX_REQUEST: usize = 1 << 20;
/// Header at 0, status byte at 16 of the request page.
const STATUS_OFF: u64 = 16;

/// A virtio-blk device.
pub struct Blk {
    regs: Regs,
    ring: Ring,
    req: Dma,
    sectors: u64,
}

impl Blk {
    /// Negotiates and starts the device on `regs`.
    pub fn start(regs: Regs, carve: &mut Carver) -> Option<Blk> {
        negotiate(&regs, ID_BLOCK, F_FLUSH)?;
        let ring = Ring::new(&regs, 0, carve.take(1)?)?;
        let req = carve.take(1)?;
        let lo = regs.read(super::regs::CONFIG);
        let hi = regs.read(super::regs::CONFIG + 4);
        driver_ok(&regs);
        Some(Blk {
            regs,
            ring,
            req,
            sectors: u64::from(lo) | u64::from(hi) << 32,
        })
    }

    fn check(&self, sector: u64, len: usize) -> Result<(), IoError> {
        if len == 0 || len % SECTOR != 0 {
            return Err(IoError::Unaligned);
        }
        let end = sector.checked_add((len / SECTOR) as u64);
        if len > MAX_REQUEST || end.is_none_or(|e| e > self.sectors) {
            return Err(IoError::OutOfRange);
        }
        Ok(())
    }

    /// One request: header, optional data, status; waits for completion.
    fn request(&mut self, kind: u32, sector: u64, data: Option<Buf>) -> Result<(), IoError> {
        self.req.put(0, kind);
        self.req.put(4, 0u32);
        self.req.put(8, sector);
        self.req.put(STATUS_OFF, 0xffu8);
        let header = Buf {
            addr: self.req.base,
            len: 16,
            writable: false,
        };
        let status = Buf {
            addr: self.req.base + STATUS_OFF,
            len: 1,
            writable: true,
        };
        match data {
            Some(d) => self.ring.push(0, &[header, d, status]),
            None => self.ring.push(0, &[header, status]),
        }
        self.ring.notify(&self.regs);
        let done = (0..POLLS).any(|_| self.ring.pop_used().is_some());
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        if !done {
            return Err(IoError::NoCompletion);
        }
        match self.req.get::<u8>(STATUS_OFF) {
            0 => Ok(()),
            s => Err(IoError::Device(s)),
        }
    }
}

impl BlockDevice for Blk {
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.check(sector, buf.len())?;
        let data = Buf {
            addr: gpa(buf.as_mut_ptr()),
            len: buf.len() as u32,
            writable: true,
        };
        self.request(T_IN, sector, Some(data))
    }

    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError> {
        self.check(sector, buf.len())?;
        let data = Buf {
            addr: gpa(buf.as_ptr()),
            len: buf.len() as u32,
            writable: false,
        };
        self.request(T_OUT, sector, Some(data))
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.request(T_FLUSH, 0, None)
    }

    fn sectors(&self) -> u64 {
        self.sectors
    }
}
