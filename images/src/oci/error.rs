//! [`OciError`], and writing a file of the layout or bundle with it.
use std::io;
use std::path::PathBuf;

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

/// Writes `bytes` to `path`, mapping the error.
pub(super) fn write(path: PathBuf, bytes: &[u8]) -> Result<(), OciError> {
    std::fs::write(&path, bytes).map_err(|source| OciError::Write { path, source })
}
