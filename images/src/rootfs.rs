//! The root filesystem every image is made from, as a list of entries.
//!
//! One description feeds every format: the rootfs directory, the initramfs
//! (cpio) and the OCI layer (tar). It holds the workload as `/init` (what
//! the kernel runs from an initramfs, and what the OCI config starts), the
//! symlink `/sbin/init -> ../init` (the kernel's fallback), and the few
//! directories a PID 1 mounts on or a runtime expects: `dev proc sys tmp etc
//! root sbin`. Entries are sorted by path, parents before children, so every
//! writer emits them in the same order.
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

/// Writing the rootfs to a directory failed.
#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    /// An entry could not be created on disk.
    #[error("cannot create {path}")]
    Create {
        /// The path that could not be created.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Device nodes only go into archives (the initramfs), never a directory.
    #[error("the device node {0} cannot be written to a directory; it belongs in archives only")]
    DeviceNode(String),
}

/// What an entry is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file with these contents.
    File(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
    /// A character device node.
    CharDev {
        /// Major number.
        major: u32,
        /// Minor number.
        minor: u32,
    },
}

/// One file system entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the root, without a leading `/` (`sbin/init`).
    pub path: String,
    /// Permission bits (`0o755`), without the file type.
    pub mode: u32,
    /// What it is.
    pub kind: Kind,
}

impl Entry {
    /// The `st_mode` file type bits for this entry.
    pub fn type_bits(&self) -> u32 {
        match self.kind {
            Kind::Dir => 0o040000,
            Kind::File(_) => 0o100000,
            Kind::Symlink(_) => 0o120000,
            Kind::CharDev { .. } => 0o020000,
        }
    }

    /// The bytes an archive stores for this entry (file contents, link target).
    pub fn data(&self) -> &[u8] {
        match &self.kind {
            Kind::File(bytes) => bytes,
            Kind::Symlink(target) => target.as_bytes(),
            Kind::Dir | Kind::CharDev { .. } => &[],
        }
    }
}

/// The directories of the rootfs and their modes.
const DIRS: &[(&str, u32)] = &[
    ("dev", 0o755),
    ("etc", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sbin", 0o755),
    ("sys", 0o555),
    ("tmp", 0o1777),
];

/// The workload's root filesystem.
#[derive(Clone, Debug)]
pub struct Rootfs {
    entries: Vec<Entry>,
}

impl Rootfs {
    /// The rootfs with `workload` as `/init`.
    pub fn new(workload: &[u8]) -> Self {
        let mut entries: Vec<Entry> = DIRS
            .iter()
            .map(|&(path, mode)| Entry {
                path: path.to_string(),
                mode,
                kind: Kind::Dir,
            })
            .collect();
        entries.push(Entry {
            path: "init".to_string(),
            mode: 0o755,
            kind: Kind::File(workload.to_vec()),
        });
        entries.push(Entry {
            path: "sbin/init".to_string(),
            mode: 0o777,
            kind: Kind::Symlink("../init".to_string()),
        });
        let mut rootfs = Rootfs { entries };
        rootfs.sort();
        rootfs
    }

    /// Adds `/dev/console` (character device 5:1), which the Linux kernel
    /// opens for init's stdio before running it. For archives only.
    pub fn with_console(mut self) -> Self {
        self.entries.push(Entry {
            path: "dev/console".to_string(),
            mode: 0o600,
            kind: Kind::CharDev { major: 5, minor: 1 },
        });
        self.sort();
        self
    }

    /// Adds `modules` (name, contents; in load order) as
    /// `dir/NN-name.ko`, with `dir` and its parents. For archives of a
    /// Linux guest's initramfs.
    pub fn with_modules(mut self, dir: &str, modules: &[(String, Vec<u8>)]) -> Self {
        let mut parent = String::new();
        for part in dir.split('/') {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            if !self.entries.iter().any(|e| e.path == parent) {
                self.entries.push(Entry {
                    path: parent.clone(),
                    mode: 0o755,
                    kind: Kind::Dir,
                });
            }
        }
        for (i, (name, bytes)) in modules.iter().enumerate() {
            self.entries.push(Entry {
                path: format!("{dir}/{i:02}-{name}.ko"),
                mode: 0o644,
                kind: Kind::File(bytes.clone()),
            });
        }
        self.sort();
        self
    }

    /// The entries, sorted by path (so parents come before children).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Creates the rootfs under `dir`, which must not exist yet. Modes are
    /// set explicitly, whatever the umask.
    pub fn write_to(&self, dir: &Path) -> Result<(), RootfsError> {
        let create = |path: &Path, result: io::Result<()>| {
            result.map_err(|source| RootfsError::Create {
                path: path.to_path_buf(),
                source,
            })
        };
        if let Some(dev) = self
            .entries
            .iter()
            .find(|e| matches!(e.kind, Kind::CharDev { .. }))
        {
            return Err(RootfsError::DeviceNode(dev.path.clone()));
        }
        create(dir, fs::create_dir(dir))?;
        for entry in &self.entries {
            let path = dir.join(&entry.path);
            match &entry.kind {
                Kind::Dir => create(&path, fs::create_dir(&path))?,
                Kind::File(bytes) => create(&path, fs::write(&path, bytes))?,
                Kind::Symlink(target) => create(&path, symlink(target, &path))?,
                Kind::CharDev { .. } => unreachable!("refused above"),
            }
            if !matches!(entry.kind, Kind::Symlink(_)) {
                let perms = fs::Permissions::from_mode(entry.mode);
                create(&path, fs::set_permissions(&path, perms))?;
            }
        }
        create(
            dir,
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)),
        )
    }

    fn sort(&mut self) {
        // Sorting by components puts "a" before "a/b" before "a-b".
        self.entries
            .sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_and_sbin_init_and_sorted_parents_first() {
        let rootfs = Rootfs::new(b"ELF").with_console();
        let paths: Vec<&str> = rootfs.entries().iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"init") && paths.contains(&"sbin/init"));
        for (i, path) in paths.iter().enumerate() {
            if let Some((parent, _)) = path.rsplit_once('/') {
                let at = paths
                    .iter()
                    .position(|p| *p == parent)
                    .expect("parent listed");
                assert!(at < i, "{parent} after {path}");
            }
        }
        let init = &rootfs.entries()[paths.iter().position(|p| *p == "init").unwrap()];
        assert_eq!(init.data(), b"ELF");
        assert_eq!(init.mode, 0o755);
    }

    #[test]
    fn writes_a_directory_and_refuses_device_nodes() {
        let tmp = std::env::temp_dir().join(format!("vmlab-rootfs-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        Rootfs::new(b"bin").write_to(&tmp).unwrap();
        assert_eq!(fs::read(tmp.join("init")).unwrap(), b"bin");
        assert_eq!(fs::read(tmp.join("sbin/init")).unwrap(), b"bin");
        let mode = fs::metadata(tmp.join("tmp")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o1777);
        fs::remove_dir_all(&tmp).unwrap();
        let err = Rootfs::new(b"bin")
            .with_console()
            .write_to(&tmp)
            .unwrap_err();
        assert!(matches!(err, RootfsError::DeviceNode(_)), "{err}");
        assert!(!tmp.exists());
    }
}
