//! `blk-rand` and `blk-seq` on the disk named by `--disk`: a file or a
//! block device, opened with `O_DIRECT` so that the page cache of whoever
//! runs the workload does not answer in place of the disk. Its contents
//! are overwritten. vmlab's host side gives every backend the same kind of
//! target: a raw file it created and filled (so reads are not of holes).
//! The kernels themselves are the shared ones
//! ([`vmlab_workload::kernels::blk`]), which the bare guest runs over its
//! virtio-blk driver; here the disk is the file and the flush `fdatasync`.
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use vmlab_workload::kernels::blk::{self, Disk, MIN_DISK, SEQ_BLOCK};
use vmlab_workload::{Failure, Kernel, Measurement, Spec};

use super::platform::Mono;
use super::sys::Mapping;

/// The disk file, opened for direct I/O, and its size in bytes.
struct Direct {
    file: File,
    size: u64,
}

impl Disk for Direct {
    type Error = std::io::Error;

    fn read_at(&mut self, buf: &mut [u8], at: u64) -> std::io::Result<()> {
        self.file.read_exact_at(buf, at)
    }

    fn write_at(&mut self, buf: &[u8], at: u64) -> std::io::Result<()> {
        self.file.write_all_at(buf, at)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    fn size(&self) -> u64 {
        self.size
    }
}

/// The disk, opened for direct I/O.
fn open(kernel: Kernel, spec: &Spec) -> Result<Direct, Failure> {
    let path = spec.disk.as_ref().ok_or_else(|| {
        failure!("{kernel}: no disk to use: give --disk PATH (a file or block device)")
    })?;
    let path = path.as_str();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) => failure!(
                "{kernel}: {path} does not take O_DIRECT; put the disk on a disk filesystem"
            ),
            _ => failure!("{kernel}: cannot open {path}: {e}"),
        })?;
    let size = file
        .seek(SeekFrom::End(0))
        .map_err(|e| failure!("{kernel}: cannot size {path}: {e}"))?;
    if size < MIN_DISK {
        return Err(failure!(
            "{kernel}: {path} holds {size} bytes; it needs at least {MIN_DISK}"
        ));
    }
    Ok(Direct { file, size })
}

/// A page-aligned buffer (O_DIRECT wants aligned memory).
fn buffer(kernel: Kernel, len: usize) -> Result<Mapping, Failure> {
    Mapping::new(len).map_err(|e| failure!("{kernel}: no buffer: {e}"))
}

/// `blk-rand` on the `--disk` file (see [`blk::rand`]).
pub fn rand(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let mut disk = open(Kernel::BlkRand, spec)?;
    let mut buf = buffer(Kernel::BlkRand, blk::BLOCK)?;
    blk::rand(
        &mut disk,
        buf.as_mut_slice(),
        &Mono::new(),
        spec.time_ns,
        report,
    )
}

/// `blk-seq` on the `--disk` file (see [`blk::seq`]).
pub fn seq(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let mut disk = open(Kernel::BlkSeq, spec)?;
    let mut buf = buffer(Kernel::BlkSeq, SEQ_BLOCK)?;
    blk::seq(
        &mut disk,
        buf.as_mut_slice(),
        &Mono::new(),
        spec.time_ns,
        report,
    )
}
