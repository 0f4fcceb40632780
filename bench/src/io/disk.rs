//! The storage target: one raw file per run, the same kind of thing for
//! every backend (opened directly by the process, bind-mounted into the
//! containers and the sandbox, a virtio-blk disk for VMs). It is an
//! unnamed `O_TMPFILE` file on a disk filesystem: it never has a name, so
//! nothing is left behind on any exit, `SIGKILL` included. Others reach it
//! through vmlab's descriptor, `/proc/PID/fd/N`. It is filled with data up
//! front, so that the kernels' reads read blocks, not holes.
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Size of the disk.
pub const DISK_BYTES: u64 = 64 << 20;
/// Where the disk goes inside a container or sandbox.
pub const INSIDE: &str = "/tmp/vmlab-disk";

/// Why there is no disk.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// The directory cannot hold an unnamed file.
    #[error(
        "cannot create the I/O disk in {dir}: {source}; it needs a disk filesystem with \
         O_TMPFILE support (ext4, xfs, btrfs, tmpfs): set TMPDIR to one"
    )]
    Create {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Filling it failed (disk full?).
    #[error("cannot fill the {DISK_BYTES}-byte I/O disk in {dir}: {source}")]
    Fill {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The run's disk.
#[derive(Debug)]
pub struct Disk {
    file: File,
}

impl Disk {
    /// A new unnamed disk file in `dir`, filled.
    pub fn new(dir: &Path) -> Result<Disk, DiskError> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(dir)
            .map_err(|source| DiskError::Create {
                dir: dir.into(),
                source,
            })?;
        let block = vec![0x5au8; 1 << 20];
        (0..DISK_BYTES >> 20)
            .try_for_each(|_| file.write_all(&block))
            .and_then(|()| file.sync_all())
            .map_err(|source| DiskError::Fill {
                dir: dir.into(),
                source,
            })?;
        Ok(Disk { file })
    }

    /// The path others open or bind-mount, valid while this lives.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!(
            "/proc/{}/fd/{}",
            std::process::id(),
            self.file.as_raw_fd()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unnamed_filled_disk() {
        let dir = tempfile::tempdir().unwrap();
        let disk = Disk::new(dir.path()).unwrap();
        assert_eq!(std::fs::metadata(disk.path()).unwrap().len(), DISK_BYTES);
        // It has no name in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let e = Disk::new(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("TMPDIR"), "{e}");
    }
}
