//! Why a Linux guest could not be loaded.
use std::path::PathBuf;

use crate::arch::x86_64::paging;

/// Errors loading a Linux guest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kernel file does not exist.
    #[error("kernel {0} does not exist")]
    KernelMissing(PathBuf),
    /// The initramfs file does not exist.
    #[error("initramfs {0} does not exist")]
    InitramfsMissing(PathBuf),
    /// A file could not be read.
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] std::io::Error),
    /// The kernel is neither a bzImage nor an ELF.
    #[error("{0} is not a Linux kernel (neither a bzImage nor a vmlinux ELF)")]
    NotAKernel(PathBuf),
    /// The kernel file is shorter than its headers say.
    #[error("kernel {path} is truncated: {len} bytes, its headers need {need}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// What the headers need.
        need: u64,
    },
    /// The ELF headers are inconsistent (offsets that overflow, a segment
    /// with more file bytes than memory bytes, entries too small).
    #[error("kernel {path} has a damaged ELF header: {what}")]
    BadElf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
    /// The bzImage has no 64-bit entry point.
    #[error(
        "kernel {0} has no 64-bit entry point (boot protocol 2.12+ with XLF_KERNEL_64 needed)"
    )]
    No64BitEntry(PathBuf),
    /// linux-loader refused the kernel.
    #[error("cannot load kernel {0}")]
    Load(PathBuf, #[source] linux_loader::loader::Error),
    /// The kernel (with its decompression space) does not fit.
    #[error("kernel {path} needs memory up to {need:#x} but the guest has {have:#x} bytes below 3 GiB (give the guest more memory)")]
    KernelTooBig {
        /// The kernel.
        path: PathBuf,
        /// End of what it needs.
        need: u64,
        /// Low memory end.
        have: u64,
    },
    /// The initramfs does not fit between the kernel and the top of low memory.
    #[error("initramfs {path} ({size} bytes) does not fit in guest memory: {avail} bytes free above the kernel (give the guest more memory)")]
    InitramfsTooBig {
        /// The initramfs.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Free bytes.
        avail: u64,
    },
    /// The command line is invalid or too long.
    #[error("invalid kernel command line")]
    Cmdline(#[source] linux_loader::cmdline::Error),
    /// Writing the command line failed.
    #[error("cannot write the kernel command line into guest memory")]
    CmdlineWrite(#[source] linux_loader::loader::Error),
    /// Writing boot structures failed.
    #[error("cannot write the boot parameters into guest memory")]
    BootParams(#[source] linux_loader::configurator::Error),
    /// Writing guest memory failed.
    #[error("cannot write {0} into guest memory")]
    Write(&'static str, #[source] vm_memory::GuestMemoryError),
    /// The page tables could not be written.
    #[error(transparent)]
    Paging(#[from] paging::Error),
}
