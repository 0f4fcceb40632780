//! `blk-rand` and `blk-seq` over any [`Disk`]: the Linux binary's is a
//! file opened with `O_DIRECT` (`src/linux/blk.rs`), the bare guest's is
//! its virtio-blk driver (any [`BlockDevice`], through [`Sectors`]). Both
//! run this code, so the sizes, the offsets (the same xorshift sequence),
//! what is timed and the result lines are the same on every backend.
use core::fmt::Display;

use crate::io::{BlockDevice, IoError, SECTOR};
use crate::kernel::Kernel;
use crate::latency::Histogram;
use crate::measure::{measure, Clock, Timing};
use crate::report::{Failure, Measurement};

/// Bytes of one `blk-rand` operation.
pub const BLOCK: usize = 4096;
/// Bytes of one `blk-seq` operation.
pub const SEQ_BLOCK: usize = 1 << 20;
/// Smallest disk accepted.
pub const MIN_DISK: u64 = 4 << 20;
/// The first state of the random offsets' generator.
pub const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// A disk addressed in bytes: reads and writes at offsets that are
/// multiples of the buffer's length, and a flush that makes writes durable.
pub trait Disk {
    /// Why an operation failed.
    type Error: Display;
    /// Fills `buf` from byte `at` on.
    fn read_at(&mut self, buf: &mut [u8], at: u64) -> Result<(), Self::Error>;
    /// Writes `buf` at byte `at`.
    fn write_at(&mut self, buf: &[u8], at: u64) -> Result<(), Self::Error>;
    /// Makes the written data durable (`fdatasync` on a file, a virtio-blk
    /// flush request in a VM).
    fn flush(&mut self) -> Result<(), Self::Error>;
    /// The disk's size in bytes.
    fn size(&self) -> u64;
}

impl Display for IoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IoError::OutOfRange => f.write_str("outside the device"),
            IoError::Unaligned => f.write_str("not whole sectors"),
            IoError::Device(s) => write!(f, "device status {s}"),
            IoError::NoCompletion => f.write_str("the device did not complete it"),
        }
    }
}

/// A [`BlockDevice`] as a [`Disk`] (byte offsets become sectors).
pub struct Sectors<'a>(pub &'a mut dyn BlockDevice);

impl Disk for Sectors<'_> {
    type Error = IoError;

    fn read_at(&mut self, buf: &mut [u8], at: u64) -> Result<(), IoError> {
        self.0.read(at / SECTOR as u64, buf)
    }

    fn write_at(&mut self, buf: &[u8], at: u64) -> Result<(), IoError> {
        self.0.write(at / SECTOR as u64, buf)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.0.flush()
    }

    fn size(&self) -> u64 {
        self.0.sectors().saturating_mul(SECTOR as u64)
    }
}

/// xorshift64: the random block numbers (any fixed sequence will do).
pub fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn check_size(kernel: Kernel, size: u64) -> Result<(), Failure> {
    if size < MIN_DISK {
        return Err(Failure::new(format_args!(
            "{kernel}: the disk holds {size} bytes; it needs at least {MIN_DISK}"
        )));
    }
    Ok(())
}

fn buffer(kernel: Kernel, buf: &mut [u8], len: usize) -> Result<&mut [u8], Failure> {
    let Some(buf) = buf.get_mut(..len) else {
        return Err(Failure::new(format_args!("{kernel}: no {len}-byte buffer")));
    };
    buf.fill(0xc3);
    Ok(buf)
}

/// `blk-rand`: mode `read` (4 KiB at random aligned offsets), then mode
/// `write` (4 KiB at random offsets, each followed by a flush); each
/// operation timed for p50/p99. `buf` has at least [`BLOCK`] bytes (aligned
/// as the disk needs).
pub fn rand<D: Disk + ?Sized, C: Clock>(
    disk: &mut D,
    buf: &mut [u8],
    clock: &C,
    time_ns: u64,
    report: &mut dyn FnMut(&Measurement),
) -> Result<(), Failure> {
    let size = disk.size();
    check_size(Kernel::BlkRand, size)?;
    let blocks = size / BLOCK as u64;
    let buf = buffer(Kernel::BlkRand, buf, BLOCK)?;
    let mut state = SEED;
    for mode in ["read", "write"] {
        let mut hist = Histogram::new();
        let timing = measure(clock, time_ns, |n| {
            for _ in 0..n {
                let at = (next(&mut state) % blocks) * BLOCK as u64;
                let t0 = clock.now_ns();
                let done = if mode == "read" {
                    disk.read_at(buf, at)
                } else {
                    disk.write_at(buf, at).and_then(|()| disk.flush())
                };
                done.map_err(|e| failure(Kernel::BlkRand, mode, at, &e))?;
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

fn failure(kernel: Kernel, mode: &str, at: u64, e: &dyn Display) -> Failure {
    Failure::new(format_args!("{kernel}: {mode} at {at} failed: {e}"))
}

/// `blk-seq`: mode `write` (1 MiB blocks in order, wrapping at the end,
/// one flush at the end inside the time), then mode `read`. `buf` has at
/// least [`SEQ_BLOCK`] bytes.
pub fn seq<D: Disk + ?Sized, C: Clock>(
    disk: &mut D,
    buf: &mut [u8],
    clock: &C,
    time_ns: u64,
    report: &mut dyn FnMut(&Measurement),
) -> Result<(), Failure> {
    let size = disk.size();
    check_size(Kernel::BlkSeq, size)?;
    let blocks = size / SEQ_BLOCK as u64;
    let buf = buffer(Kernel::BlkSeq, buf, SEQ_BLOCK)?;
    for mode in ["write", "read"] {
        let start = clock.now_ns();
        let mut iters = 0u64;
        while clock.now_ns() - start < time_ns || iters == 0 {
            let at = (iters % blocks) * SEQ_BLOCK as u64;
            let done = if mode == "read" {
                disk.read_at(buf, at)
            } else {
                disk.write_at(buf, at)
            };
            done.map_err(|e| failure(Kernel::BlkSeq, mode, at, &e))?;
            iters += 1;
        }
        if mode == "write" {
            disk.flush()
                .map_err(|e| Failure::new(format_args!("blk-seq: flush failed: {e}")))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::StepClock;
    use core::cell::Cell;
    use std::vec;
    use std::vec::Vec;

    /// A disk in memory that logs every operation.
    struct Mem {
        data: Vec<u8>,
        log: Vec<(char, u64)>,
        fail_at: Option<usize>,
    }

    impl BlockDevice for Mem {
        fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
            self.op('r', sector)?;
            let at = sector as usize * SECTOR;
            buf.copy_from_slice(&self.data[at..at + buf.len()]);
            Ok(())
        }
        fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), IoError> {
            self.op('w', sector)?;
            let at = sector as usize * SECTOR;
            self.data[at..at + buf.len()].copy_from_slice(buf);
            Ok(())
        }
        fn flush(&mut self) -> Result<(), IoError> {
            self.op('f', 0)
        }
        fn sectors(&self) -> u64 {
            (self.data.len() / SECTOR) as u64
        }
    }

    impl Mem {
        fn new(bytes: usize) -> Mem {
            Mem {
                data: vec![0; bytes],
                log: Vec::new(),
                fail_at: None,
            }
        }
        fn op(&mut self, kind: char, sector: u64) -> Result<(), IoError> {
            if self.fail_at == Some(self.log.len()) {
                return Err(IoError::Device(1));
            }
            self.log.push((kind, sector));
            Ok(())
        }
    }

    fn run_rand(mem: &mut Mem, time_ns: u64) -> (Result<(), Failure>, Vec<Measurement>) {
        let now = Cell::new(0);
        let clock = StepClock::new(&now, 1_000);
        let mut buf = vec![0u8; BLOCK];
        let mut out = Vec::new();
        let r = rand(&mut Sectors(mem), &mut buf, &clock, time_ns, &mut |m| {
            out.push(*m)
        });
        (r, out)
    }

    #[test]
    fn rand_reads_then_writes_with_a_flush_each_at_the_shared_offsets() {
        let mut mem = Mem::new(8 << 20);
        let (r, out) = run_rand(&mut mem, 200_000);
        assert!(r.is_ok());
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].mode, out[1].mode), (Some("read"), Some("write")));
        assert!(out
            .iter()
            .all(|m| m.latency.is_some() && m.size == Some(8 << 20)));
        let reads = out[0].timing.iters as usize;
        assert!(reads > 1 && mem.log[..reads].iter().all(|&(k, _)| k == 'r'));
        // The first offset is the generator's first number, in 4 KiB blocks.
        let mut state = SEED;
        let first = (next(&mut state) % 2048) * (BLOCK / SECTOR) as u64;
        assert_eq!(mem.log[0], ('r', first));
        let writes = &mem.log[reads..];
        assert_eq!(writes.len() as u64, 2 * out[1].timing.iters);
        assert!(writes.chunks(2).all(|p| p[0].0 == 'w' && p[1].0 == 'f'));
        assert!(mem.log.iter().all(|&(_, s)| s % 8 == 0));
    }

    #[test]
    fn seq_writes_in_order_wraps_and_flushes_once() {
        let mut mem = Mem::new(4 << 20);
        let now = Cell::new(0);
        let clock = StepClock::new(&now, 1_000);
        let mut buf = vec![0u8; SEQ_BLOCK];
        let mut out = Vec::new();
        seq(&mut Sectors(&mut mem), &mut buf, &clock, 9_000, &mut |m| {
            out.push(*m)
        })
        .unwrap();
        assert_eq!((out[0].mode, out[1].mode), (Some("write"), Some("read")));
        let flushes: Vec<_> = mem.log.iter().positions('f');
        assert_eq!(flushes.len(), 1);
        let writes = &mem.log[..flushes[0]];
        assert!(writes.len() > 4, "wraps past the 4 blocks");
        for (i, &(k, s)) in writes.iter().enumerate() {
            assert_eq!((k, s), ('w', (i as u64 % 4) * 2048));
        }
        assert_eq!(out[0].timing.iters as usize, writes.len());
        assert!(mem.data.iter().all(|&b| b == 0xc3));
    }

    #[test]
    fn small_disks_short_buffers_and_device_errors_are_failures() {
        let (r, _) = run_rand(&mut Mem::new(1 << 20), 1_000);
        assert!(r.unwrap_err().message().contains("needs at least 4194304"));
        let mut mem = Mem::new(4 << 20);
        mem.fail_at = Some(3);
        let (r, out) = run_rand(&mut mem, 1_000_000);
        let e = r.unwrap_err();
        assert!(
            e.message().starts_with("blk-rand: read at "),
            "{}",
            e.message()
        );
        assert!(e.message().ends_with("failed: device status 1"));
        assert!(out.is_empty());
        let now = Cell::new(0);
        let clock = StepClock::new(&now, 1);
        let mut small = vec![0u8; 512];
        let e = seq(
            &mut Sectors(&mut Mem::new(4 << 20)),
            &mut small,
            &clock,
            1,
            &mut |_| {},
        )
        .unwrap_err();
        assert!(e.message().contains("no 1048576-byte buffer"));
    }

    trait Positions {
        fn positions(self, kind: char) -> Vec<usize>;
    }

    impl<'a, I: Iterator<Item = &'a (char, u64)>> Positions for I {
        fn positions(self, kind: char) -> Vec<usize> {
            self.enumerate()
                .filter(|(_, &(k, _))| k == kind)
                .map(|(i, _)| i)
                .collect()
        }
    }
}
