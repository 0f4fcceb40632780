//! The workload's arguments: which kernels to run, how big and for how long.
//!
//! The same words come from `argv` (plain process, sandbox, Linux PID 1: Linux
//! passes the words after `--` on its command line to init) or from the boot
//! info's argument string (bare guest):
//!
//! ```text
//! [KERNEL...] [--size BYTES] [--time DURATION] [--exit CODE] [--hold] [--snapshot]
//!            [--peer ADDR:PORT] [--disk PATH] [--addr ADDR/PREFIX] [--help]
//! ```
//!
//! No kernel at all is valid: the workload then only signals ready and exit,
//! which is what a boot-time measurement wants.
use core::fmt;

use crate::kernel::{Kernel, KERNEL_NAMES};
use crate::target::{Addr, DiskPath, Peer};

/// Most kernels one run accepts (repeats count).
pub const MAX_KERNELS: usize = 16;

/// Default working-set size of `memory` and region size of `pagetouch`.
pub const DEFAULT_SIZE: u64 = 16 << 20;

/// Smallest accepted `--size`: one page.
pub const MIN_SIZE: u64 = 4096;

/// Largest accepted `--size`.
pub const MAX_SIZE: u64 = 1 << 40;

/// Default time budget per kernel.
pub const DEFAULT_TIME_NS: u64 = 200_000_000;

/// Largest accepted `--time`: one hour.
pub const MAX_TIME_NS: u64 = 3_600_000_000_000;

/// The usage text `--help` prints.
pub const USAGE: &str = "\
usage: vmlab-workload [KERNEL...] [--size BYTES] [--time DURATION] [--exit CODE]
                      [--hold] [--snapshot] [--peer ADDR:PORT] [--disk PATH]
                      [--addr ADDR/PREFIX]
       vmlab-workload attacks SECRET HOSTPID PORT   (Linux only)

Runs each KERNEL for about DURATION and prints one JSON line per result.
kernels:  cpu, memory, pagetouch, crossing (everywhere);
          spawn, pipe, file, tcp (Linux only);
          net-rr, net-stream (need --peer), blk-rand, blk-seq (need --disk)
--size    working set of memory / region of pagetouch, with K, M or G
          (binary) suffix; default 16M, at least 4K
--time    time budget per kernel (spawn: per mode) with unit ns, us, ms
          or s; default 200ms
--exit    exit code to end with after all kernels (0-255)
--hold    after the kernels, stay alive until told to exit (Linux: a byte
          or end of file on the fd in VMLAB_HOLD_FD, else on stdin; bare
          guest: the VMM answers a read of the hold port)
--snapshot  send the snapshot mark just before ready, so that a VMM can
          snapshot there and a restored guest goes on from ready
--peer    the host side's TCP server for net-rr and net-stream (a mode
          byte first: e echo, u upload, d download), e.g. 10.77.1.1:7077
--disk    the file or block device blk-rand and blk-seq use with O_DIRECT
          (its contents are overwritten), e.g. /dev/vdb
--addr    as a Linux guest's PID 1: load the virtio modules of the
          initramfs and give eth0 this address, e.g. 10.77.1.2/24 (with
          --disk, also wait for that device to appear)
--help    print this text
attacks   the escape battery against a host file SECRET, a host pid and a
          TCP port on the host's 127.0.0.1: one JSON line per attempt
";

/// What to run, parsed from the workload's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    kernels: [Kernel; MAX_KERNELS],
    count: usize,
    /// Working-set size in bytes (`--size`).
    pub size: u64,
    /// Time budget per kernel in nanoseconds (`--time`).
    pub time_ns: u64,
    /// Exit code to end with (`--exit`), whatever the kernels did.
    pub exit: Option<u8>,
    /// `--hold`: after the kernels, wait until told to exit.
    pub hold: bool,
    /// `--snapshot`: send [`SNAPSHOT_MARK`](crate::protocol::SNAPSHOT_MARK)
    /// just before ready.
    pub snapshot: bool,
    /// `--peer`: the host side's server for the network kernels.
    pub peer: Option<Peer>,
    /// `--disk`: the target of the block kernels.
    pub disk: Option<DiskPath>,
    /// `--addr`: the address a Linux guest gives its `eth0`.
    pub addr: Option<Addr>,
    /// `--help` was given: print [`USAGE`] and run nothing.
    pub help: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            kernels: [Kernel::Cpu; MAX_KERNELS],
            count: 0,
            size: DEFAULT_SIZE,
            time_ns: DEFAULT_TIME_NS,
            exit: None,
            hold: false,
            snapshot: false,
            peer: None,
            disk: None,
            addr: None,
            help: false,
        }
    }
}

impl Spec {
    /// The kernels to run, in order.
    pub fn kernels(&self) -> &[Kernel] {
        &self.kernels[..self.count]
    }

    /// Parses the workload's arguments (without the program name).
    pub fn parse<'a, I>(words: I) -> Result<Spec, ArgsError<'a>>
    where
        I: IntoIterator<Item = &'a str>,
    {
        let mut spec = Spec::default();
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            if !word.starts_with('-') {
                let k = Kernel::from_name(word).ok_or(ArgsError::UnknownKernel(word))?;
                if spec.count == MAX_KERNELS {
                    return Err(ArgsError::TooManyKernels);
                }
                spec.kernels[spec.count] = k;
                spec.count += 1;
                continue;
            }
            let (option, inline) = match word.split_once('=') {
                Some((o, v)) => (o, Some(v)),
                None => (word, None),
            };
            let option = match option {
                "--size" => "--size",
                "--time" => "--time",
                "--exit" => "--exit",
                "--peer" => "--peer",
                "--disk" => "--disk",
                "--addr" => "--addr",
                "--help" | "-h" if inline.is_none() => {
                    spec.help = true;
                    continue;
                }
                "--hold" if inline.is_none() => {
                    spec.hold = true;
                    continue;
                }
                "--snapshot" if inline.is_none() => {
                    spec.snapshot = true;
                    continue;
                }
                _ => return Err(ArgsError::UnknownOption(word)),
            };
            let value = match inline {
                Some(v) => v,
                None => words.next().ok_or(ArgsError::MissingValue(option))?,
            };
            match option {
                "--size" => spec.size = parse_size(value).ok_or(ArgsError::BadSize(value))?,
                "--time" => spec.time_ns = parse_time(value).ok_or(ArgsError::BadTime(value))?,
                "--peer" => spec.peer = Some(Peer::parse(value).ok_or(ArgsError::BadPeer(value))?),
                "--disk" => {
                    spec.disk = Some(DiskPath::parse(value).ok_or(ArgsError::BadDisk(value))?)
                }
                "--addr" => spec.addr = Some(Addr::parse(value).ok_or(ArgsError::BadAddr(value))?),
                _ => spec.exit = Some(value.parse().map_err(|_| ArgsError::BadExit(value))?),
            }
        }
        Ok(spec)
    }
}

/// A word the workload does not understand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgsError<'a> {
    /// A word that is neither an option nor a kernel name.
    UnknownKernel(&'a str),
    /// A word starting with `-` that is no option.
    UnknownOption(&'a str),
    /// An option at the end of the arguments, without its value.
    MissingValue(&'static str),
    /// A `--size` value that is no size.
    BadSize(&'a str),
    /// A `--time` value that is no duration.
    BadTime(&'a str),
    /// An `--exit` value that is no exit code.
    BadExit(&'a str),
    /// A `--peer` value that is no `A.B.C.D:PORT`.
    BadPeer(&'a str),
    /// A `--disk` value that is no absolute path.
    BadDisk(&'a str),
    /// An `--addr` value that is no `A.B.C.D/N`.
    BadAddr(&'a str),
    /// More than [`MAX_KERNELS`] kernels.
    TooManyKernels,
}

// The library is `no_std` and linked into a freestanding guest, so it does
// not use thiserror (whose `std` feature other crates enable would pull std
// into the guest); the messages are written out here instead.
impl fmt::Display for ArgsError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgsError::UnknownKernel(w) => {
                write!(f, "unknown kernel `{w}`: valid kernels are {KERNEL_NAMES}")
            }
            ArgsError::UnknownOption(w) => write!(
                f,
                "unknown option `{w}`: valid options are --size, --time, --exit, --hold, --snapshot, --peer, --disk, \
                 --addr and --help"
            ),
            ArgsError::MissingValue(o) => write!(f, "option `{o}` needs a value after it"),
            ArgsError::BadSize(w) => write!(
                f,
                "bad size `{w}`: give a number of bytes with an optional K, M or G suffix, \
                 from 4K to 1024G (e.g. --size 64M)"
            ),
            ArgsError::BadTime(w) => write!(
                f,
                "bad time `{w}`: give a number with a unit ns, us, ms or s, \
                 at most one hour (e.g. --time 200ms)"
            ),
            ArgsError::BadExit(w) => {
                write!(f, "bad exit code `{w}`: give a number from 0 to 255")
            }
            ArgsError::BadPeer(w) => write!(
                f,
                "bad peer `{w}`: give an IPv4 address and a port (e.g. --peer 10.77.1.1:7077)"
            ),
            ArgsError::BadDisk(w) => write!(
                f,
                "bad disk `{w}`: give an absolute path of at most {} bytes (e.g. --disk /dev/vdb)",
                DiskPath::CAPACITY
            ),
            ArgsError::BadAddr(w) => write!(
                f,
                "bad address `{w}`: give an IPv4 address and a prefix length from 1 to 32 \
                 (e.g. --addr 10.77.1.2/24)"
            ),
            ArgsError::TooManyKernels => {
                write!(f, "too many kernels: at most {MAX_KERNELS} per run")
            }
        }
    }
}

impl core::error::Error for ArgsError<'_> {}

/// Splits `word` into its leading digits and the rest; `None` without digits.
fn split_number(word: &str) -> Option<(u64, &str)> {
    let end = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let number = word[..end].parse().ok()?;
    Some((number, &word[end..]))
}

/// Parses a size like `4096`, `64K`, `16M` or `1G` (binary multiples).
pub fn parse_size(word: &str) -> Option<u64> {
    let (n, suffix) = split_number(word)?;
    let shift = match suffix {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        _ => return None,
    };
    let bytes = n.checked_mul(1 << shift)?;
    (MIN_SIZE..=MAX_SIZE).contains(&bytes).then_some(bytes)
}

/// Parses a duration like `500us`, `200ms` or `2s` into nanoseconds.
pub fn parse_time(word: &str) -> Option<u64> {
    let (n, unit) = split_number(word)?;
    let scale = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(scale).filter(|&ns| ns <= MAX_TIME_NS)
}

#[cfg(test)]
mod tests;
