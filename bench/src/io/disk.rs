//! The storage target: one raw file per run, the same kind of thing for
//! every backend (opened directly by the process, bind-mounted into the
//! containers and the sandbox, a virtio-blk disk for VMs), on a disk
//! filesystem: `vmlab-io-PID.img` in the temporary directory, mode 0600,
//! created new (never an existing file or a planted link). It must have a
//! name: the kernel refuses to bind-mount an unlinked (`O_TMPFILE`) file.
//! When vmlab runs as root the file's group is the rootless sandbox's host
//! gid (`nogroup`) with mode 0660, so that the sandbox (root inside is
//! `nobody` outside) can bind and use it as the containers do; as another
//! user the sandbox runs as that user, who owns it.
//! It is removed on drop; a file whose run was killed (its PID no longer a
//! live process) is removed by the next run's [`Disk::new`]. It is filled
//! with data up front, so that the kernels' reads read blocks, not holes.
use std::fs::OpenOptions;
use std::io::{self, Write};
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
        "cannot create the I/O disk in {dir}: {source}; it needs a writable directory on \
         a filesystem that takes O_DIRECT (ext4, xfs, btrfs): set TMPDIR to one"
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
    path: PathBuf,
}

/// The file name of process `pid`'s disk.
fn name_of(pid: u32) -> String {
    format!("vmlab-io-{pid}.img")
}

/// Removes the disks in `dir` of processes that no longer exist.
pub fn sweep(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix("vmlab-io-"))
            .and_then(|n| n.strip_suffix(".img"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Disk {
    /// A new disk file in `dir`, filled (after sweeping dead runs' disks).
    pub fn new(dir: &Path) -> Result<Disk, DiskError> {
        sweep(dir);
        let path = dir.join(name_of(std::process::id()));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|source| DiskError::Create {
                dir: dir.into(),
                source,
            })?;
        let disk = Disk { path };
        if nix::unistd::geteuid().is_root() {
            let gid = nix::unistd::Gid::from_raw(vmlab_sandbox::config::NOBODY);
            nix::unistd::fchown(&file, None, Some(gid))
                .and_then(|()| {
                    nix::sys::stat::fchmod(&file, nix::sys::stat::Mode::from_bits_truncate(0o660))
                })
                .map_err(|e| DiskError::Create {
                    dir: dir.into(),
                    source: e.into(),
                })?;
        }
        let block = vec![0x5au8; 1 << 20];
        (0..DISK_BYTES >> 20)
            .try_for_each(|_| file.write_all(&block))
            .and_then(|()| file.sync_all())
            .map_err(|source| DiskError::Fill {
                dir: dir.into(),
                source,
            })?;
        Ok(disk)
    }

    /// The path others open or bind-mount, valid while this lives.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_disk_removed_on_drop_and_swept_after_a_kill() {
        let dir = tempfile::tempdir().unwrap();
        // A dead run's disk (no such pid: above pid_max) and a live one's.
        let dead = dir.path().join(name_of(u32::MAX));
        let live = dir.path().join(name_of(1));
        std::fs::write(&dead, b"x").unwrap();
        std::fs::write(&live, b"x").unwrap();
        let disk = Disk::new(dir.path()).unwrap();
        let meta = std::fs::metadata(disk.path()).unwrap();
        assert_eq!(meta.len(), DISK_BYTES);
        use std::os::unix::fs::MetadataExt;
        if nix::unistd::geteuid().is_root() {
            // The rootless sandbox's host id may use it through its group.
            assert_eq!(
                (meta.gid(), meta.mode() & 0o777),
                (vmlab_sandbox::config::NOBODY, 0o660)
            );
        } else {
            assert_eq!(meta.mode() & 0o777, 0o600);
        }
        assert!(!dead.exists() && live.exists());
        let path = disk.path();
        drop(disk);
        assert!(!path.exists());
        let e = Disk::new(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("TMPDIR"), "{e}");
    }
}
