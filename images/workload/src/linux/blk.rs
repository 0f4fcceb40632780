//! `blk-rand` and `blk-seq` on the disk named by `--disk`: a file or a
//! block device, opened with `O_DIRECT` so that the page cache of whoever
//! runs the workload does not answer in place of the disk. Its contents
//! are overwritten. vmlab's host side gives every backend the same kind of
//! target: a raw file it created and filled (so reads are not of holes).
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use vmlab_workload::latency::Histogram;
use vmlab_workload::measure::{measure, Clock};
use vmlab_workload::{Failure, Kernel, Measurement, Spec, Timing};

use super::platform::Mono;
use super::sys::Mapping;

/// Bytes of one `blk-rand` operation.
pub const BLOCK: usize = 4096;
/// Bytes of one `blk-seq` operation.
pub const SEQ_BLOCK: usize = 1 << 20;
/// Smallest disk accepted.
pub const MIN_DISK: u64 = 4 << 20;

/// The disk, opened for direct I/O, and its size in bytes.
fn open(kernel: Kernel, spec: &Spec) -> Result<(File, u64), Failure> {
    let path = spec.disk.as_ref().ok_or_else(|| {
        failure!("{kernel}: no disk to use: give --disk PATH (a file or block device)")
    })?;
    let path = path.as_str();
    let mut f = OpenOptions::new()
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
    let size = f
        .seek(SeekFrom::End(0))
        .map_err(|e| failure!("{kernel}: cannot size {path}: {e}"))?;
    if size < MIN_DISK {
        return Err(failure!(
            "{kernel}: {path} holds {size} bytes; it needs at least {MIN_DISK}"
        ));
    }
    Ok((f, size))
}

/// A page-aligned buffer (O_DIRECT wants aligned memory), filled.
fn buffer(kernel: Kernel, len: usize) -> Result<Mapping, Failure> {
    let mut m = Mapping::new(len).map_err(|e| failure!("{kernel}: no buffer: {e}"))?;
    m.as_mut_slice().fill(0xc3);
    Ok(m)
}

/// xorshift64: the random block numbers (any fixed sequence will do).
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// `blk-rand`: mode `read` (4 KiB at random aligned offsets), then mode
/// `write` (4 KiB at random offsets, each followed by `fdatasync`); each
/// operation timed for p50/p99.
pub fn rand(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let (f, size) = open(Kernel::BlkRand, spec)?;
    let blocks = size / BLOCK as u64;
    let mut buf = buffer(Kernel::BlkRand, BLOCK)?;
    let buf = buf.as_mut_slice();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for mode in ["read", "write"] {
        let clock = Mono::new();
        let mut hist = Histogram::new();
        let timing = measure(&clock, spec.time_ns, |n| {
            for _ in 0..n {
                let at = (next(&mut state) % blocks) * BLOCK as u64;
                let t0 = clock.now_ns();
                let done = if mode == "read" {
                    f.read_exact_at(buf, at)
                } else {
                    f.write_all_at(buf, at).and_then(|()| f.sync_data())
                };
                done.map_err(|e| failure!("blk-rand: {mode} at {at} failed: {e}"))?;
                hist.record(clock.now_ns() - t0);
            }
            Ok(n)
        })?;
        report(&Measurement {
            mode: Some(mode),
            bytes_per_iter: BLOCK as u64,
            size: Some(size),
            latency: hist.latency(),
            ..Measurement::new(Kernel::BlkRand, timing)
        });
    }
    Ok(())
}

/// `blk-seq`: mode `write` (1 MiB blocks in order, wrapping at the end,
/// one `fdatasync` at the end inside the time), then mode `read`.
pub fn seq(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let (f, size) = open(Kernel::BlkSeq, spec)?;
    let blocks = size / SEQ_BLOCK as u64;
    if blocks == 0 {
        return Err(failure!(
            "blk-seq: the disk is smaller than one 1 MiB block"
        ));
    }
    let mut buf = buffer(Kernel::BlkSeq, SEQ_BLOCK)?;
    let buf = buf.as_mut_slice();
    for mode in ["write", "read"] {
        let clock = Mono::new();
        let start = clock.now_ns();
        let mut iters = 0u64;
        while clock.now_ns() - start < spec.time_ns || iters == 0 {
            let at = (iters % blocks) * SEQ_BLOCK as u64;
            let done = if mode == "read" {
                f.read_exact_at(buf, at)
            } else {
                f.write_all_at(buf, at)
            };
            done.map_err(|e| failure!("blk-seq: {mode} at {at} failed: {e}"))?;
            iters += 1;
        }
        if mode == "write" {
            f.sync_data()
                .map_err(|e| failure!("blk-seq: fdatasync failed: {e}"))?;
        }
        let total_ns = clock.now_ns() - start;
        report(&Measurement {
            mode: Some(mode),
            bytes_per_iter: SEQ_BLOCK as u64,
            size: Some(size),
            ..Measurement::new(Kernel::BlkSeq, Timing { iters, total_ns })
        });
    }
    Ok(())
}
