//! [`ArgsError`]: why the workload's arguments were refused.
use core::fmt;

use super::MAX_KERNELS;
use crate::kernel::KERNEL_NAMES;
use crate::target::DiskPath;

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
    /// An `--addr` value that is no `A.B.C.D/PREFIX`.
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
                "unknown option `{w}`: valid options are --size, --time, --exit, --hold, --snapshot, --park, --peer, --addr, \
                 --disk and --help"
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
                "bad address `{w}`: give an IPv4 address and a prefix length from 1 to 30 \
                 (e.g. --addr 10.77.1.2/24)"
            ),
            ArgsError::TooManyKernels => {
                write!(f, "too many kernels: at most {MAX_KERNELS} per run")
            }
        }
    }
}

impl core::error::Error for ArgsError<'_> {}
