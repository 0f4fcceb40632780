//! What the cache records, and what a fetch hands it.
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The cache format this vmlab writes: 3 also keeps `tun` and `loop` (the
/// rig's L1 needs them for its I/O check); 2 kept the virtio modules (and
/// their dependencies) besides the KVM ones; 1, the records without a
/// `format`, kept the KVM modules only.
pub const FORMAT: u32 = 3;

fn format_one() -> u32 {
    1
}

/// The record written as `kernel.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The cache format ([`FORMAT`] when written by this vmlab).
    #[serde(default = "format_one")]
    pub format: u32,
    /// Kernel release, e.g. `6.1.0-56-cloud-amd64`.
    pub release: String,
    /// Debian package name.
    pub package: String,
    /// The `.deb` file it came from.
    pub package_file: String,
    /// The bzImage payload's compression.
    pub compression: String,
    /// SHA-256 of every file, by path relative to the entry.
    pub files: BTreeMap<String, String>,
    /// The modules kept, paths relative to the entry, in load order
    /// (each after the modules it depends on).
    pub modules: Vec<ModuleRecord>,
}

/// A module in [`Record`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Module name.
    pub name: String,
    /// Path below `/lib/modules/<release>/`, e.g. `kernel/arch/x86/kvm/kvm.ko`.
    pub relative: String,
    /// `xz`, `zst` or `gz` when compressed.
    pub compressed: Option<String>,
}

/// What a fetch unpacked, to be installed into the cache. Every path must
/// lie below `root` and is read without following symlinks.
#[derive(Debug)]
pub struct Unpacked {
    /// Where the package was unpacked.
    pub root: PathBuf,
    /// Kernel release.
    pub release: String,
    /// Debian package name.
    pub package: String,
    /// The `.deb` file name.
    pub package_file: String,
    /// The bzImage.
    pub vmlinuz: PathBuf,
    /// The build config.
    pub config: PathBuf,
    /// Modules: name, path below `/lib/modules/<release>/`, file.
    pub modules: Vec<(String, String, PathBuf)>,
}
