//! OCI: the image layout (what registries and `skopeo` handle) and the
//! runtime bundle (what `crun run` / `runc run` start).
//!
//! - [`layer`]: the rootfs as one reproducible gzip tar layer;
//! - [`layout`]: `oci-layout`, `index.json` and the content-addressed blobs
//!   (manifest, config, layer) under `blobs/sha256/`;
//! - [`bundle`]: `config.json` plus `rootfs/`, accepted as is by crun and runc.
//!
//! Documents are built with the `oci-spec` types and serialized with
//! `serde_json`; every map left in them is empty or has one key, so the bytes
//! only depend on the inputs.
use std::io;
use std::path::PathBuf;

pub mod bundle;
pub mod layer;
pub mod layout;

/// Building an OCI artifact failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// A file of the layout or bundle could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The layer tar could not be assembled.
    #[error("cannot build the layer tar")]
    Tar(#[source] io::Error),
    /// An OCI document could not be built or serialized.
    #[error("cannot build the OCI document {0}")]
    Spec(&'static str, #[source] oci_spec::OciSpecError),
    /// The bundle's rootfs could not be written.
    #[error("cannot write the bundle's rootfs")]
    Rootfs(#[from] crate::rootfs::RootfsError),
}

/// The environment of the workload in a container.
pub const ENV: &[&str] = &["PATH=/sbin:/"];

/// Writes `bytes` to `path`, mapping the error.
fn write(path: PathBuf, bytes: &[u8]) -> Result<(), OciError> {
    std::fs::write(&path, bytes).map_err(|source| OciError::Write { path, source })
}
