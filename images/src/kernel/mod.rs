//! The guest kernel for the `vm-linux` backend: where it comes from, its
//! checks, and the `vmlinux` ELF derived from it.
//!
//! Resolution order ([`resolve`]):
//! 1. an explicit path (`vmlab images build --kernel PATH`);
//! 2. the environment variable [`ENV`] (`VMLAB_KERNEL`);
//! 3. the cache ([`cache`], `$XDG_CACHE_HOME/vmlab` or `~/.cache/vmlab`);
//! 4. a fetch ([`fetch`]): Debian's cloud kernel package, downloaded with
//!    `apt-get download` and unpacked with `dpkg-deb -x` into the cache,
//!    never installed.
//!
//! A kernel file may be a bzImage or an ELF `vmlinux`. A bzImage is checked
//! ([`bzimage::SetupHeader::parse`]) and its payload decompressed into a
//! `vmlinux`, kept in the cache; an ELF is checked ([`elf::check`]).
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checksum::sha256_hex;

pub mod bzimage;
pub mod cache;
pub mod elf;
pub mod fetch;

pub use cache::Cache;

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
}

/// The environment variable naming a kernel file.
pub const ENV: &str = "VMLAB_KERNEL";

/// What to do when no kernel is given or cached.
pub const HOW_TO_GET_ONE: &str =
    "pass --kernel PATH (a bzImage or vmlinux) or set VMLAB_KERNEL=PATH, \
     or install apt-get, apt-cache and dpkg-deb (Debian or Ubuntu) so that vmlab can fetch \
     Debian's cloud kernel";

/// Where a kernel came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// An explicit path.
    Path,
    /// The `VMLAB_KERNEL` variable.
    Env,
    /// The cache (fetched now or earlier: the same bytes either way).
    Cache,
}

/// A file and its checksum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Absolute path.
    pub path: PathBuf,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// A kernel module kept next to a cached kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Module {
    /// Module name (`kvm`, `kvm-amd`, `irqbypass`).
    pub name: String,
    /// Absolute path of the `.ko` (or `.ko.xz`, `.ko.zst`, `.ko.gz`).
    pub path: PathBuf,
    /// Its path below `/lib/modules/<release>/`.
    pub relative: String,
    /// The compression of the file, if any (`xz`, `zst`, `gz`).
    pub compressed: Option<String>,
}

/// A usable guest kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kernel {
    /// Where it came from.
    pub source: Source,
    /// The kernel release (`6.1.0-56-cloud-amd64`), when known.
    pub release: Option<String>,
    /// The bzImage payload's compression, when there is a bzImage.
    pub compression: Option<String>,
    /// The bzImage, unless an ELF vmlinux was given.
    pub bzimage: Option<FileRef>,
    /// The uncompressed kernel ELF.
    pub vmlinux: FileRef,
    /// The kernel's build config, when it came from a package.
    pub config: Option<PathBuf>,
    /// Modules kept with it (fetched kernels only).
    pub modules: Vec<Module>,
}

/// Finds a kernel: `explicit`, else `$VMLAB_KERNEL`, else the cache, else
/// (when `fetch` is true) Debian's cloud kernel, fetched into the cache.
/// `progress` hears about slow steps (the fetch).
pub fn resolve(
    explicit: Option<&Path>,
    cache: &Cache,
    fetch: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<Kernel, KernelError> {
    if let Some(path) = explicit {
        return from_file(path, Source::Path, cache);
    }
    if let Some(path) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
        return from_file(Path::new(&path), Source::Env, cache);
    }
    if let Some(kernel) = cache.latest()? {
        return Ok(kernel);
    }
    if !fetch {
        return Err(KernelError::NotAvailable(format!(
            "none is cached in {}; {HOW_TO_GET_ONE}",
            cache.root().display()
        )));
    }
    fetch::fetch(cache, progress)
}

/// Checks the kernel file at `path` (bzImage or ELF vmlinux); for a bzImage,
/// derives its vmlinux into the cache (once per distinct bzImage).
pub fn from_file(path: &Path, source: Source, cache: &Cache) -> Result<Kernel, KernelError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = fs::read(&path).map_err(|source| KernelError::Unreadable {
        path: path.clone(),
        source,
    })?;
    let file = FileRef {
        path: path.clone(),
        sha256: sha256_hex(&bytes),
        bytes: bytes.len() as u64,
    };
    if elf::is_elf(&bytes) {
        elf::check(&bytes).map_err(|source| KernelError::Elf {
            path: path.clone(),
            source,
        })?;
        return Ok(Kernel {
            source,
            release: None,
            compression: None,
            bzimage: None,
            vmlinux: file,
            config: None,
            modules: Vec::new(),
        });
    }
    let bz_err = |source| KernelError::BzImage {
        path: path.clone(),
        source,
    };
    let header = bzimage::SetupHeader::parse(&bytes).map_err(bz_err)?;
    let (vmlinux, compression) =
        cache.derived_vmlinux(&file.sha256, || bzimage::vmlinux(&bytes).map_err(bz_err))?;
    Ok(Kernel {
        source,
        release: header.release().map(str::to_string),
        compression: Some(compression),
        bzimage: Some(file),
        vmlinux,
        config: None,
        modules: Vec::new(),
    })
}
