//! `manifest.json`: what a build produced, with checksums.
//!
//! Paths of built artifacts are relative to the output directory (their
//! names are the constants below); the kernel's paths are absolute (it lives
//! in the cache or where the user keeps it).
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::kernel::GuestKernel;
use crate::oci::layout::LayoutDigests;

/// The static workload binary.
pub const WORKLOAD: &str = "workload";
/// The bare KVM guest ELF.
pub const GUEST: &str = "guest.elf";
/// The rootfs directory.
pub const ROOTFS: &str = "rootfs";
/// The initramfs, uncompressed.
pub const INITRAMFS: &str = "initramfs.cpio";
/// The initramfs, gzip-compressed.
pub const INITRAMFS_GZ: &str = "initramfs.cpio.gz";
/// The initramfs with the guest kernel's virtio modules (for the I/O
/// kernels), uncompressed.
pub const INITRAMFS_IO: &str = "initramfs-io.cpio";
/// The same, gzip-compressed.
pub const INITRAMFS_IO_GZ: &str = "initramfs-io.cpio.gz";
/// The OCI image layout directory.
pub const OCI: &str = "oci";
/// The OCI runtime bundle directory.
pub const BUNDLE: &str = "bundle";
/// This manifest.
pub const MANIFEST: &str = "manifest.json";

/// Reading `manifest.json` failed.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file cannot be read.
    #[error("cannot read {path}; run `vmlab images build` first")]
    Read {
        /// The manifest path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a manifest of this version.
    #[error(
        "{path} is not a vmlab images manifest of this version; run `vmlab images build` again"
    )]
    Parse {
        /// The manifest path.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// A built file and its checksum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Built {
    /// Path relative to the output directory.
    pub path: String,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// What `vmlab images build` produced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The format of this file.
    pub format: u32,
    /// The mtime given to every archived file (`SOURCE_DATE_EPOCH` or 0).
    pub epoch: u64,
    /// The workload binary.
    pub workload: Built,
    /// The bare guest.
    pub guest: Built,
    /// The rootfs directory (relative path).
    pub rootfs: String,
    /// The initramfs.
    pub initramfs: Built,
    /// The gzip initramfs.
    pub initramfs_gz: Built,
    /// The initramfs plus the kernel's virtio modules, and its gzip form,
    /// when the kernel came with them (see [`crate::kernel::modules`]).
    #[serde(default)]
    pub initramfs_io: Option<(Built, Built)>,
    /// Why there is no `initramfs_io`, when there is none.
    #[serde(default)]
    pub initramfs_io_missing: Option<String>,
    /// The OCI image layout directory (relative path).
    pub oci: String,
    /// The layout's digests.
    pub oci_digests: LayoutDigests,
    /// The bundle directory (relative path).
    pub bundle: String,
    /// The bundle's `config.json`.
    pub bundle_config: Built,
    /// The guest kernel, when one was available.
    pub kernel: Option<GuestKernel>,
}

/// The current [`Manifest::format`].
pub const FORMAT: u32 = 1;

impl Manifest {
    /// Reads `DIR/manifest.json`.
    pub fn read(dir: &Path) -> Result<Self, ManifestError> {
        let path = dir.join(MANIFEST);
        let bytes = std::fs::read(&path).map_err(|source| ManifestError::Read {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|source| ManifestError::Parse {
                path: path.clone(),
                source,
            })?;
        Ok(manifest)
    }
}
