//! Why no usable guest kernel could be had.
use std::io;
use std::path::PathBuf;

use super::{bzimage, elf};

/// Getting a guest kernel failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The kernel file cannot be read (missing, a directory, no permission).
    #[error("cannot read the kernel file {path}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not a bzImage vmlab can use.
    #[error("{path} is not a usable kernel (a bzImage or an x86-64 vmlinux ELF is needed)")]
    BzImage {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: bzimage::BzImageError,
    },
    /// The file starts like an ELF but is not a usable vmlinux.
    #[error("{path} is not a usable vmlinux")]
    Elf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: elf::ElfError,
    },
    /// No kernel was given, none is cached, and none can be fetched.
    #[error("no guest kernel: {0}")]
    NotAvailable(String),
    /// A step of the fetch failed.
    #[error("fetching the Debian cloud kernel failed: {0}")]
    Fetch(String),
    /// The cache could not be read or written.
    #[error("cannot use the kernel cache at {path}")]
    Cache {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A path from a package or the cache leads outside it (absolute, `..`,
    /// or through a symlink).
    #[error("refusing to read {path}: {why}")]
    UnsafePath {
        /// The path.
        path: PathBuf,
        /// What makes it unsafe.
        why: String,
    },
    /// A cached file does not match its recorded checksum.
    #[error("the cached kernel in {dir} is damaged ({why}); delete that directory and run again")]
    CacheCorrupt {
        /// The cache entry.
        dir: PathBuf,
        /// What does not match.
        why: String,
    },
    /// The cache entry was written by an older vmlab and lacks files this
    /// one needs.
    #[error(
        "the cached kernel in {dir} is in cache format {found}, without the virtio modules a \
         Linux guest needs for its I/O (this vmlab keeps format {want})",
        want = super::cache::FORMAT
    )]
    CacheOutdated {
        /// The cache entry.
        dir: PathBuf,
        /// Its format.
        found: u32,
    },
}
