//! The rootfs as one OCI layer: a tar stream compressed with gzip.
//!
//! Reproducible by construction: entries in [`Rootfs`] order, ustar headers
//! owned by root with one fixed mtime, and a gzip header without file name
//! or timestamp.
use std::io::Write;

use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};

use super::OciError;
use crate::checksum::sha256_hex;
use crate::rootfs::{Kind, Rootfs};

/// A built layer.
#[derive(Clone, Debug)]
pub struct Layer {
    /// The uncompressed tar (its sha256 is the image config's `diff_id`).
    pub tar: Vec<u8>,
    /// The gzip-compressed tar (the blob).
    pub gzip: Vec<u8>,
}

impl Layer {
    /// Builds the layer of `rootfs` with every mtime set to `mtime`.
    pub fn build(rootfs: &Rootfs, mtime: u64) -> Result<Self, OciError> {
        let tar = tar_of(rootfs, mtime).map_err(OciError::Tar)?;
        let mut gz = GzBuilder::new()
            .mtime(0)
            .operating_system(3)
            .write(Vec::new(), Compression::best());
        gz.write_all(&tar).map_err(OciError::Tar)?;
        let gzip = gz.finish().map_err(OciError::Tar)?;
        Ok(Layer { tar, gzip })
    }

    /// `sha256:<hex>` of the uncompressed tar.
    pub fn diff_id(&self) -> String {
        format!("sha256:{}", sha256_hex(&self.tar))
    }
}

fn tar_of(rootfs: &Rootfs, mtime: u64) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in rootfs.entries() {
        let mut header = Header::new_ustar();
        header.set_mode(entry.mode);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        header.set_username("root")?;
        header.set_groupname("root")?;
        let data: &[u8] = match &entry.kind {
            Kind::Dir => {
                header.set_entry_type(EntryType::Directory);
                header.set_size(0);
                &[]
            }
            Kind::File(bytes) => {
                header.set_entry_type(EntryType::Regular);
                header.set_size(bytes.len() as u64);
                bytes
            }
            Kind::Symlink(target) => {
                header.set_entry_type(EntryType::Symlink);
                header.set_size(0);
                header.set_link_name(target)?;
                &[]
            }
            Kind::CharDev { major, minor } => {
                header.set_entry_type(EntryType::Char);
                header.set_device_major(*major)?;
                header.set_device_minor(*minor)?;
                header.set_size(0);
                &[]
            }
        };
        let path = match entry.kind {
            Kind::Dir => format!("{}/", entry.path),
            _ => entry.path.clone(),
        };
        header.set_path(&path)?;
        header.set_cksum();
        builder.append(&header, data)?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn reproducible_and_readable() {
        let rootfs = Rootfs::new(b"workload bytes");
        let a = Layer::build(&rootfs, 0).unwrap();
        let b = Layer::build(&rootfs, 0).unwrap();
        assert_eq!(a.gzip, b.gzip);
        assert_eq!(a.diff_id(), b.diff_id());
        // gzip header: no mtime, no file name.
        assert_eq!(&a.gzip[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&a.gzip[4..8], &[0, 0, 0, 0]);

        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&a.gzip[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(tar, a.tar);
        let mut archive = tar::Archive::new(&tar[..]);
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            assert_eq!(entry.header().mtime().unwrap(), 0);
            assert_eq!(entry.header().uid().unwrap(), 0);
            if path == "init" {
                let mut body = Vec::new();
                entry.read_to_end(&mut body).unwrap();
                assert_eq!(body, b"workload bytes");
                assert_eq!(entry.header().mode().unwrap(), 0o755);
            }
            names.push(path);
        }
        assert!(names.contains(&"sbin/init".to_string()));
        assert!(names.contains(&"tmp/".to_string()));
    }
}
