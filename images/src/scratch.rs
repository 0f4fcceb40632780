//! Scratch directories that are removed on every path unless kept.
//!
//! Builds and fetches write into a scratch directory next to their final
//! place and rename it into place at the end, so an error never leaves a
//! half-written result behind, and the scratch directory goes away when its
//! guard is dropped (also on errors and panics that unwind).
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A directory removed (recursively) when dropped, unless [`Scratch::keep`] ran.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
    armed: bool,
}

impl Scratch {
    /// Creates a fresh, uniquely named directory `.<prefix>-…` in `parent`
    /// (which is created if missing).
    pub fn new_in(parent: &Path, prefix: &str) -> io::Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        fs::create_dir_all(parent)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            ".{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = parent.join(name);
        fs::create_dir(&path)?;
        Ok(Scratch { path, armed: true })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the directory to `dest` (replacing a previous `dest`
    /// directory) and disarms the guard.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        if dest.exists() {
            // Move the old one aside first so `dest` is never half-replaced.
            let parent = dest.parent().unwrap_or(Path::new("."));
            let old = Scratch::new_in(parent, "old")?;
            let aside = old.path().join("previous");
            fs::rename(dest, &aside)?;
            if let Err(e) = fs::rename(&self.path, dest) {
                let _ = fs::rename(&aside, dest);
                return Err(e);
            }
            drop(old);
        } else {
            fs::rename(&self.path, dest)?;
        }
        self.armed = false;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_unless_persisted() {
        let parent = std::env::temp_dir().join(format!("vmlab-scratch-{}", std::process::id()));
        let a = Scratch::new_in(&parent, "t").unwrap();
        let a_path = a.path().to_path_buf();
        fs::write(a_path.join("f"), b"x").unwrap();
        drop(a);
        assert!(!a_path.exists());

        let dest = parent.join("dest");
        for content in [b"one", b"two"] {
            let b = Scratch::new_in(&parent, "t").unwrap();
            fs::write(b.path().join("f"), content).unwrap();
            b.persist(&dest).unwrap();
            assert_eq!(fs::read(dest.join("f")).unwrap(), content);
        }
        let left: Vec<_> = fs::read_dir(&parent).unwrap().collect();
        assert_eq!(left.len(), 1, "only dest is left");
        fs::remove_dir_all(&parent).unwrap();
    }
}
