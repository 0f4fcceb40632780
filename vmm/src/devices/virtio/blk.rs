//! virtio-blk on a raw file: read (`IN`), write (`OUT`), flush and get-id,
//! one request queue. Each request is a chain of a 16-byte readable header
//! (type, reserved, sector), the data (readable for writes, writable for
//! reads) and a 1-byte writable status. Data moves through a bounce buffer
//! of at most [`MAX_REQUEST`] bytes with `pread`/`pwrite` at the sector's
//! offset; flush is `fdatasync`. The bounce buffer is page aligned, so the
//! file may be opened with `O_DIRECT` (as vmlab opens it, to do the same
//! I/O as the plain process's `blk-*` kernels).
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;

use virtio_bindings::virtio_blk::{
    VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_ID_BYTES,
    VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_FLUSH,
    VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use virtio_bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::virtio_ids::VIRTIO_ID_BLOCK;
use virtio_queue::{DescriptorChain, Queue, QueueOwnedT, QueueT, Reader, Writer};

use super::chain::{self, Fault};
use super::{read_config_bytes, VirtioCounters, VirtioDevice};
use crate::memory::GuestMemoryMmap;

/// The sector size of the virtio-blk protocol.
pub(crate) const SECTOR: u64 = 512;
/// The largest data part of one request (the bounce buffer's largest
/// size): above Linux's default request cap (1280 KiB), since no
/// `size_max` is announced.
pub(crate) const MAX_REQUEST: usize = 4 << 20;
/// Data segments per request announced (`seg_max`); a chain has at most
/// this many plus header and status.
pub(crate) const SEG_MAX: u32 = 128;
/// The request queue's largest size.
const QUEUE_MAX: &[u16] = &[256];
/// The header's size.
const HEADER: usize = 16;
/// The bounce buffer's alignment (what `O_DIRECT` asks of memory).
const ALIGN: usize = 4096;

/// `len` bytes of `bounce` starting at a multiple of [`ALIGN`] (it grows
/// to the largest request seen, so a VM doing 4 KiB requests touches no
/// more host memory than it needs).
fn aligned(bounce: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if bounce.len() < len + ALIGN {
        bounce.resize(len + ALIGN, 0);
    }
    let start = bounce.as_ptr().align_offset(ALIGN);
    &mut bounce[start..start + len]
}

/// A virtio-blk device.
pub(crate) struct Block {
    file: File,
    sectors: u64,
    read_only: bool,
    id: [u8; VIRTIO_BLK_ID_BYTES as usize],
    bounce: Vec<u8>,
    counters: VirtioCounters,
}

/// What became of one request.
enum Done {
    /// Status written; `used` bytes written into the chain.
    Status(u8, u32),
    /// The chain is malformed: nothing could be written back.
    BadChain,
}

impl Block {
    /// A device on `file` (size rounded down to whole sectors).
    pub(crate) fn new(file: File, read_only: bool) -> std::io::Result<Block> {
        let len = file.metadata()?.len();
        let mut id = [0u8; VIRTIO_BLK_ID_BYTES as usize];
        let name = b"vmlab-blk";
        id[..name.len()].copy_from_slice(name);
        Ok(Block {
            file,
            sectors: len / SECTOR,
            read_only,
            id,
            bounce: Vec::new(),
            counters: VirtioCounters::default(),
        })
    }

    /// Serves one chain; returns the bytes written into it.
    fn serve(&mut self, chain: DescriptorChain<&GuestMemoryMmap>, mem: &GuestMemoryMmap) -> u32 {
        match self.request(chain, mem) {
            Done::Status(status, used) => {
                if status == VIRTIO_BLK_S_OK as u8 {
                    self.counters.completed += 1;
                }
                used
            }
            Done::BadChain => {
                self.counters.bad_chains += 1;
                0
            }
        }
    }

    fn request(&mut self, chain: DescriptorChain<&GuestMemoryMmap>, mem: &GuestMemoryMmap) -> Done {
        let shape = match chain::shape(&chain, SEG_MAX as usize + 2) {
            Ok(s) => s,
            Err(Fault::TooLong | Fault::WrongOrder | Fault::Empty) => return Done::BadChain,
        };
        if shape.readable < HEADER as u64 || shape.writable < 1 {
            return Done::BadChain;
        }
        let (Ok(mut reader), Ok(mut writer)) = (
            Reader::<()>::new(mem, chain.clone()),
            Writer::<()>::new(mem, chain),
        ) else {
            return Done::BadChain;
        };
        let mut header = [0u8; HEADER];
        let Ok(mut status_w) = writer.split_at(writer.available_bytes() - 1) else {
            return Done::BadChain;
        };
        if reader.read_exact(&mut header).is_err() {
            return Done::BadChain;
        }
        let kind = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let sector = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        let (status, data_written) = match kind {
            VIRTIO_BLK_T_IN => self.read(sector, &mut writer),
            VIRTIO_BLK_T_OUT => self.write(sector, &mut reader),
            VIRTIO_BLK_T_FLUSH => match self.file.sync_data() {
                Ok(()) => (VIRTIO_BLK_S_OK, 0),
                Err(_) => self.io_error(),
            },
            VIRTIO_BLK_T_GET_ID => {
                let n = writer.available_bytes().min(self.id.len());
                match writer.write_all(&self.id[..n]) {
                    Ok(()) => (VIRTIO_BLK_S_OK, n),
                    Err(_) => return Done::BadChain,
                }
            }
            _ => self.refuse(VIRTIO_BLK_S_UNSUPP),
        };
        if status_w.write_all(&[status as u8]).is_err() {
            return Done::BadChain;
        }
        Done::Status(status as u8, data_written as u32 + 1)
    }

    /// The data's byte range on the disk, if it is whole sectors inside it
    /// and no more than [`MAX_REQUEST`].
    fn range(&self, sector: u64, len: usize) -> Option<u64> {
        let whole = len > 0 && len <= MAX_REQUEST && (len as u64) % SECTOR == 0;
        let end = sector.checked_add(len as u64 / SECTOR)?;
        (whole && end <= self.sectors).then_some(sector * SECTOR)
    }

    fn read(&mut self, sector: u64, writer: &mut Writer<'_, ()>) -> (u32, usize) {
        let len = writer.available_bytes();
        let Some(offset) = self.range(sector, len) else {
            return self.refuse(VIRTIO_BLK_S_IOERR);
        };
        let buf = aligned(&mut self.bounce, len);
        if self.file.read_exact_at(buf, offset).is_err() {
            return self.io_error();
        }
        if writer.write_all(buf).is_err() {
            return self.io_error();
        }
        self.counters.bytes_to_guest += len as u64;
        (VIRTIO_BLK_S_OK, len)
    }

    fn write(&mut self, sector: u64, reader: &mut Reader<'_, ()>) -> (u32, usize) {
        if self.read_only {
            return self.refuse(VIRTIO_BLK_S_IOERR);
        }
        let len = reader.available_bytes();
        let Some(offset) = self.range(sector, len) else {
            return self.refuse(VIRTIO_BLK_S_IOERR);
        };
        let buf = aligned(&mut self.bounce, len);
        if reader.read_exact(buf).is_err() {
            return self.io_error();
        }
        if self.file.write_all_at(buf, offset).is_err() {
            return self.io_error();
        }
        self.counters.bytes_from_guest += len as u64;
        (VIRTIO_BLK_S_OK, 0)
    }

    fn refuse(&mut self, status: u32) -> (u32, usize) {
        self.counters.bad_requests += 1;
        (status, 0)
    }

    fn io_error(&mut self) -> (u32, usize) {
        self.counters.io_errors += 1;
        (VIRTIO_BLK_S_IOERR, 0)
    }
}

impl VirtioDevice for Block {
    fn kind(&self) -> &'static str {
        "virtio-blk"
    }

    fn device_id(&self) -> u32 {
        VIRTIO_ID_BLOCK
    }

    fn features(&self) -> u64 {
        let ro = if self.read_only {
            1 << VIRTIO_BLK_F_RO
        } else {
            0
        };
        1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_BLK_F_FLUSH | 1 << VIRTIO_BLK_F_SEG_MAX | ro
    }

    fn queue_max(&self) -> &'static [u16] {
        QUEUE_MAX
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // capacity (u64), size_max (u32, not offered), seg_max (u32).
        let mut image = [0u8; 16];
        image[0..8].copy_from_slice(&self.sectors.to_le_bytes());
        image[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        read_config_bytes(&image, offset, data);
    }

    fn notify(&mut self, index: usize, queues: &mut [Queue], mem: &GuestMemoryMmap) -> bool {
        let Some(q) = queues.get_mut(index) else {
            self.counters.bad_registers += 1;
            return false;
        };
        let mut used = false;
        loop {
            let chain = match q.iter(mem) {
                Ok(mut it) => it.next(),
                Err(_) => {
                    self.counters.bad_chains += 1;
                    None
                }
            };
            let Some(chain) = chain else { break };
            let head = chain.head_index();
            let len = self.serve(chain, mem);
            // Fails only for a head beyond the queue, a chain already counted.
            if q.add_used(mem, head, len).is_err() {
                break;
            }
            used = true;
        }
        used
    }

    fn counters(&mut self) -> &mut VirtioCounters {
        &mut self.counters
    }
}
