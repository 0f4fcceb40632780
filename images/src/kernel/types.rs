//! A guest kernel and the files it is made of.
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
pub struct GuestKernel {
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
