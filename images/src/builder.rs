//! Builds every artifact into an output directory, in order, and writes the
//! manifest.
//!
//! Everything is written into a scratch directory next to the output
//! directory and renamed into place at the end: after an error there is no
//! half-built output and no scratch left.
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};

use crate::checksum::sha256_hex;
use crate::embedded;
use crate::kernel::{modules, GuestKernel};
use crate::manifest::{self, Built, Manifest};
use crate::oci::{self, layer::Layer};
use crate::rootfs::Rootfs;
use crate::scratch::Scratch;
use crate::{cpio, rootfs};

/// Building the artifacts failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `SOURCE_DATE_EPOCH` is not a number of seconds.
    #[error("SOURCE_DATE_EPOCH={0:?} is not a whole number of seconds since 1970")]
    Epoch(String),
    /// The initramfs could not be built.
    #[error("cannot build the initramfs")]
    Cpio(#[from] cpio::CpioError),
    /// The rootfs could not be written.
    #[error("cannot write the rootfs")]
    Rootfs(#[from] rootfs::RootfsError),
    /// An OCI artifact could not be built.
    #[error("cannot build the OCI image or bundle")]
    Oci(#[from] oci::OciError),
}

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The output directory (replaced as a whole).
    pub out: PathBuf,
    /// The mtime of every archived file.
    pub epoch: u64,
}

impl BuildOptions {
    /// Options for `out`, with the epoch from `SOURCE_DATE_EPOCH` (else 0).
    pub fn new(out: impl Into<PathBuf>) -> Result<Self, BuildError> {
        let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.is_empty() => v.trim().parse().map_err(|_| BuildError::Epoch(v))?,
            _ => 0,
        };
        Ok(BuildOptions {
            out: out.into(),
            epoch,
        })
    }
}

/// Builds every artifact into `opts.out` and returns the manifest (also
/// written as `manifest.json`). `kernel` is recorded, not copied.
pub fn build(opts: &BuildOptions, kernel: Option<GuestKernel>) -> Result<Manifest, BuildError> {
    let out = std::path::absolute(&opts.out).unwrap_or_else(|_| opts.out.clone());
    let parent = out.parent().unwrap_or(Path::new("/")).to_path_buf();
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "images".to_string());
    let scratch =
        Scratch::new_in(&parent, &format!("{name}.build")).map_err(|source| BuildError::Write {
            path: parent.clone(),
            source,
        })?;
    let dir = scratch.path();
    let mtime = u32::try_from(opts.epoch).map_err(|_| BuildError::Epoch(opts.epoch.to_string()))?;

    let workload = put(dir, manifest::WORKLOAD, embedded::WORKLOAD, 0o755)?;
    let guest = put(dir, manifest::GUEST, embedded::GUEST, 0o755)?;

    let rootfs = Rootfs::new(embedded::WORKLOAD);
    rootfs.write_to(&dir.join(manifest::ROOTFS))?;

    let (initramfs, initramfs_gz) = cpio_and_gz(
        dir,
        rootfs.clone().with_console(),
        mtime,
        (manifest::INITRAMFS, manifest::INITRAMFS_GZ),
    )?;
    let (initramfs_io, initramfs_io_missing) = match kernel.as_ref().map(modules::virtio_of) {
        None => (None, Some("no guest kernel".to_string())),
        Some(Ok(None)) => (
            None,
            Some("the guest kernel came without its modules (a kernel given by path)".to_string()),
        ),
        Some(Err(why)) => (None, Some(why)),
        Some(Ok(Some(mods))) => {
            let io = rootfs
                .clone()
                .with_console()
                .with_modules(modules::INITRAMFS_DIR, &mods);
            let names = (manifest::INITRAMFS_IO, manifest::INITRAMFS_IO_GZ);
            (Some(cpio_and_gz(dir, io, mtime, names)?), None)
        }
    };
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BuildError::Write { path, source }
    };

    let layer = Layer::build(&rootfs, opts.epoch)?;
    let oci_digests = oci::layout::write_layout(
        &dir.join(manifest::OCI),
        &layer,
        &rfc3339(opts.epoch).ok_or_else(|| BuildError::Epoch(opts.epoch.to_string()))?,
    )?;
    oci::bundle::write_bundle(&dir.join(manifest::BUNDLE), &rootfs)?;
    let config_path = format!("{}/config.json", manifest::BUNDLE);
    let config = fs::read(dir.join(&config_path)).map_err(werr(&dir.join(&config_path)))?;

    let manifest = Manifest {
        format: manifest::FORMAT,
        epoch: opts.epoch,
        workload,
        guest,
        rootfs: manifest::ROOTFS.to_string(),
        initramfs,
        initramfs_gz,
        initramfs_io,
        initramfs_io_missing,
        oci: manifest::OCI.to_string(),
        oci_digests,
        bundle: manifest::BUNDLE.to_string(),
        bundle_config: built(&config_path, &config),
        kernel,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).expect("a manifest always serializes");
    json.push(b'\n');
    put(dir, manifest::MANIFEST, &json, 0o644)?;
    fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(werr(dir))?;
    scratch.persist(&out).map_err(werr(&out))?;
    Ok(manifest)
}

/// `rootfs` as a cpio archive and its gzip form, named `names`.
fn cpio_and_gz(
    dir: &Path,
    rootfs: Rootfs,
    mtime: u32,
    names: (&str, &str),
) -> Result<(Built, Built), BuildError> {
    let mut cpio_bytes = Vec::new();
    cpio::write(rootfs.entries(), mtime, &mut cpio_bytes)?;
    let cpio = put(dir, names.0, &cpio_bytes, 0o644)?;
    let gz_path = dir.join(names.1);
    let werr = |source| BuildError::Write {
        path: gz_path.clone(),
        source,
    };
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), Compression::best());
    gz.write_all(&cpio_bytes).map_err(werr)?;
    let gz_bytes = gz.finish().map_err(werr)?;
    let gz = put(dir, names.1, &gz_bytes, 0o644)?;
    Ok((cpio, gz))
}

fn built(path: &str, bytes: &[u8]) -> Built {
    Built {
        path: path.to_string(),
        sha256: sha256_hex(bytes),
        bytes: bytes.len() as u64,
    }
}

/// Writes `DIR/name` with `mode`; returns its record.
fn put(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<Built, BuildError> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    let err = |source| BuildError::Write {
        path: path.clone(),
        source,
    };
    fs::write(&path, bytes).map_err(err)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(err)?;
    Ok(built(name, bytes))
}

/// `1970-01-01T00:00:00Z` for 0: the UTC date and time of `epoch`; `None`
/// past the year 9999.
pub fn rfc3339(epoch: u64) -> Option<String> {
    let secs = i64::try_from(epoch).ok()?;
    jiff::Timestamp::from_second(secs)
        .ok()
        .map(|t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(u64::MAX), None);
    }
}
