//! Private temporary files for the tools compare runs as root.
//!
//! A bundle directory or a config file at a predictable path under `/tmp`
//! is a gift to a hostile local user: who creates the directory first (or
//! a symlink there) decides what crun, runc or firecracker run as root. So
//! every such file lives in a directory made new for it ([`dir`]: random
//! name, mode 0700, created with `mkdir` that fails on anything already
//! there, removed when dropped), and the files in it are created with
//! `O_EXCL` ([`write_new`]), never opened through a link.
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use tempfile::TempDir;

/// Prefix of every private directory compare makes.
pub const PREFIX: &str = "vmlab-";

/// A new private directory (mode 0700) in the temp dir, removed on drop.
/// Keep the guard alive until every child that reads from it has exited.
pub fn dir() -> anyhow::Result<TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix(PREFIX)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .with_context(|| {
            format!(
                "cannot create a private directory in {}; check that it exists and is writable \
                 (or set TMPDIR)",
                std::env::temp_dir().display()
            )
        })
}

/// Creates `path` (which must not exist yet) with mode 0600 and writes `bytes`.
pub fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What a hostile local user plants at predictable paths, and the checks
/// that nothing vmlab wrote landed there.
#[cfg(test)]
pub mod planted {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::path::{Path, PathBuf};

    /// What the attacker left where it was.
    const SENTINEL: &[u8] = b"{\"planted\":true}";

    /// Files and links planted at a list of paths, removed on drop.
    pub struct Planted {
        /// Where the attacker keeps what the links point to.
        pub lair: tempfile::TempDir,
        /// Every path planted.
        pub paths: Vec<PathBuf>,
    }

    impl Planted {
        /// At each of `dirs`: alternately a world-writable directory holding a
        /// `config.json` of the attacker's, and a symlink to such a directory.
        pub fn dirs(dirs: &[PathBuf]) -> Planted {
            let lair = tempfile::tempdir().unwrap();
            for (i, d) in dirs.iter().enumerate() {
                let _ = std::fs::remove_dir_all(d);
                let _ = std::fs::remove_file(d);
                let target = if i % 2 == 0 {
                    d.clone()
                } else {
                    let t = lair.path().join(format!("dir{i}"));
                    std::os::unix::fs::symlink(&t, d).unwrap();
                    t
                };
                std::fs::create_dir(&target).unwrap();
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o777)).unwrap();
                std::fs::write(target.join("config.json"), SENTINEL).unwrap();
            }
            Planted {
                lair,
                paths: dirs.to_vec(),
            }
        }

        /// At each of `files`: a symlink to a victim file of the attacker's
        /// choosing (here, one in the lair).
        pub fn links(files: &[PathBuf]) -> Planted {
            let lair = tempfile::tempdir().unwrap();
            for (i, f) in files.iter().enumerate() {
                let _ = std::fs::remove_file(f);
                let victim = lair.path().join(format!("victim{i}"));
                std::fs::write(&victim, SENTINEL).unwrap();
                std::os::unix::fs::symlink(&victim, f).unwrap();
            }
            Planted {
                lair,
                paths: files.to_vec(),
            }
        }

        /// Whether `p` is one of the planted paths or inside one.
        pub fn covers(&self, p: &Path) -> bool {
            self.paths.iter().any(|q| p.starts_with(q)) || p.starts_with(self.lair.path())
        }

        /// Every planted file (in the planted directories and the lair)
        /// still holds the sentinel, and nothing was added to them.
        pub fn untouched(&self) -> Result<(), String> {
            let mut dirs: Vec<PathBuf> = vec![self.lair.path().to_path_buf()];
            dirs.extend(self.paths.iter().filter(|p| p.is_dir()).cloned());
            for d in dirs {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        // A linked-to directory: its config.json only.
                        let files: Vec<_> = std::fs::read_dir(&p).unwrap().flatten().collect();
                        if files.len() != 1 {
                            return Err(format!("{} gained files", p.display()));
                        }
                        check(&p.join("config.json"))?;
                    } else {
                        check(&p)?;
                    }
                }
            }
            Ok(())
        }
    }

    fn check(p: &Path) -> Result<(), String> {
        match std::fs::read(p) {
            Ok(b) if b == SENTINEL => Ok(()),
            Ok(_) => Err(format!("{} was overwritten", p.display())),
            Err(e) => Err(format!("{}: {e}", p.display())),
        }
    }

    impl Drop for Planted {
        fn drop(&mut self) {
            for p in &self.paths {
                if std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()) {
                    let _ = std::fs::remove_dir_all(p);
                } else {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
    }

    /// `d` is a directory (not a link), mode 0700, owned by this process's
    /// user, holding exactly `names`.
    pub fn assert_private(d: &Path, names: &[&str]) {
        let m = std::fs::symlink_metadata(d).unwrap();
        assert!(m.is_dir(), "{} is not a plain directory", d.display());
        assert_eq!(m.mode() & 0o7777, 0o700, "mode of {}", d.display());
        let me = nix::unistd::geteuid().as_raw();
        assert_eq!(m.uid(), me, "owner of {}", d.display());
        let mut found: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        assert_eq!(found, names, "contents of {}", d.display());
    }

    /// The naive writer the old code was: `create_dir_all` + `fs::write`.
    pub fn naive_write_in(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(name), bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::planted::*;
    use super::*;

    #[test]
    fn private_dirs_are_new_0700_and_removed() {
        let a = dir().unwrap();
        let b = dir().unwrap();
        assert_ne!(a.path(), b.path());
        assert_private(a.path(), &[]);
        write_new(&a.path().join("f"), b"x").unwrap();
        assert_private(a.path(), &["f"]);
        let e = write_new(&a.path().join("f"), b"y").unwrap_err();
        assert!(format!("{e:#}").contains("cannot create"), "{e:#}");
        assert_eq!(std::fs::read(a.path().join("f")).unwrap(), b"x");
        let p = a.path().to_path_buf();
        drop(a);
        assert!(!p.exists());
    }

    #[test]
    fn write_new_never_follows_a_link() {
        let d = dir().unwrap();
        let planted = Planted::links(&[d.path().join("config.json")]);
        assert!(write_new(&d.path().join("config.json"), b"ours").is_err());
        planted.untouched().unwrap();
        // Positive control: a plain write goes through the link.
        std::fs::write(d.path().join("config.json"), b"ours").unwrap();
        assert!(planted.untouched().is_err());
    }

    #[test]
    fn the_naive_writer_is_fooled_by_a_planted_directory() {
        // The control for the planting tests in oci and peers: at a
        // predictable path, both kinds of plant catch the old writer.
        let top = tempfile::tempdir().unwrap();
        let paths = [top.path().join("a.bundle"), top.path().join("b.bundle")];
        for p in &paths {
            let planted = Planted::dirs(std::slice::from_ref(p));
            planted.untouched().unwrap();
            naive_write_in(p, "config.json", b"ours").unwrap();
            assert!(planted.untouched().is_err(), "{}", p.display());
        }
    }
}
