//! The polled virtio-net driver: [`NRX`] receive buffers kept posted, one
//! transmit buffer; `recv` kicks the receive queue when nothing has
//! arrived (the VMM reads its TAP on that exit).
use vmlab_workload::io::{IoError, NetDevice, MAX_FRAME};

use super::regs::{Dma, Regs};
use super::ring::{Buf, Ring};
use super::{driver_ok, negotiate, Carver, ID_NET, POLLS};

/// `virtio_net_hdr_v1`'s size.
const HDR: usize = 12;
/// `VIRTIO_NET_F_MAC`.
const F_MAC: u32 = 1 << 5;
/// Receive buffers posted (each [`BUF`] bytes).
const NRX: u16 = 8;
const BUF: u64 = 2048;

/// A virtio-net device.
pub struct Net {
    regs: Regs,
    rx: Ring,
    tx: Ring,
    rx_bufs: Dma,
    tx_buf: Dma,
    mac: [u8; 6],
}

impl Net {
    /// Negotiates and starts the device on `regs`, receive buffers posted.
    pub fn start(regs: Regs, carve: &mut Carver) -> Option<Net> {
        negotiate(&regs, ID_NET, F_MAC)?;
        let mut rx = Ring::new(&regs, 0, carve.take(1)?)?;
        let tx = Ring::new(&regs, 1, carve.take(1)?)?;
        let rx_bufs = carve.take(u64::from(NRX) * BUF / 4096)?;
        let tx_buf = carve.take(1)?;
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = regs.config_byte(i);
        }
        driver_ok(&regs);
        for i in 0..NRX {
            rx.push(i, &[rx_buf(&rx_bufs, i)]);
        }
        rx.notify(&regs);
        Some(Net {
            regs,
            rx,
            tx,
            rx_bufs,
            tx_buf,
            mac,
        })
    }
}

/// Receive buffer `i`.
fn rx_buf(bufs: &Dma, i: u16) -> Buf {
    Buf {
        addr: bufs.base + u64::from(i) * BUF,
        len: BUF as u32,
        writable: true,
    }
}

impl NetDevice for Net {
    fn send(&mut self, frame: &[u8]) -> Result<(), IoError> {
        if frame.is_empty() || frame.len() > MAX_FRAME {
            return Err(IoError::OutOfRange);
        }
        self.tx_buf.copy_in(0, &[0u8; HDR]);
        self.tx_buf.copy_in(HDR as u64, frame);
        let buf = Buf {
            addr: self.tx_buf.base,
            len: (HDR + frame.len()) as u32,
            writable: false,
        };
        self.tx.push(0, &[buf]);
        self.tx.notify(&self.regs);
        if (0..POLLS).any(|_| self.tx.pop_used().is_some()) {
            Ok(())
        } else {
            Err(IoError::NoCompletion)
        }
    }

    fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let used = match self.rx.pop_used() {
            Some(u) => Some(u),
            None => {
                self.rx.notify(&self.regs);
                self.rx.pop_used()
            }
        };
        let Some((head, len)) = used else {
            return Ok(0);
        };
        if head >= NRX {
            return Err(IoError::Device(0xff));
        }
        let frame = (len as usize).saturating_sub(HDR).min(MAX_FRAME);
        let n = frame.min(buf.len());
        self.rx_bufs
            .copy_out(u64::from(head) * BUF + HDR as u64, &mut buf[..n]);
        self.rx.push(head, &[rx_buf(&self.rx_bufs, head)]);
        Ok(n)
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }
}
