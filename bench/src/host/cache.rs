//! The guest-kernel cache: where it is and what it holds.
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The guest-kernel cache directory: $XDG_CACHE_HOME/vmlab, else ~/.cache/vmlab.
pub fn kernel_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => Some(PathBuf::from(x).join("vmlab")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vmlab")),
    }
}

/// One entry of the kernel cache.
#[derive(Debug, Clone, Serialize)]
pub struct CacheEntry {
    /// File or directory name.
    pub name: String,
    /// Total bytes (recursive for directories).
    pub bytes: u64,
    /// Number of files.
    pub files: u64,
}

/// The entries of the kernel cache (empty when it does not exist). A
/// top-level directory of directories (like `kernels/`) is listed by its
/// children (`kernels/6.1.0-...`).
pub fn kernel_cache(dir: &Path) -> Vec<CacheEntry> {
    let entry = |path: &Path, name: String| {
        let (bytes, files) = du(path);
        CacheEntry { name, bytes, files }
    };
    let mut out = Vec::new();
    for top in sorted_dir(dir) {
        let name = top
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let children = if top.is_dir() {
            sorted_dir(&top)
        } else {
            Vec::new()
        };
        if !children.is_empty() && children.iter().all(|c| c.is_dir()) {
            for c in children {
                let child = c
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(entry(&c, format!("{name}/{child}")));
            }
        } else {
            out.push(entry(&top, name));
        }
    }
    out
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn du(path: &Path) -> (u64, u64) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return (0, 0);
    };
    if !meta.is_dir() {
        return (meta.len(), 1);
    }
    std::fs::read_dir(path)
        .map(|rd| {
            rd.flatten().fold((0, 0), |(b, f), e| {
                let (b2, f2) = du(&e.path());
                (b + b2, f + f2)
            })
        })
        .unwrap_or((0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_cache_listing() {
        let dir = std::env::temp_dir().join(format!("vmlab-host-cache-{}", std::process::id()));
        let k = dir.join("kernels/6.1.0-test");
        std::fs::create_dir_all(&k).unwrap();
        std::fs::write(k.join("vmlinuz"), [0u8; 100]).unwrap();
        std::fs::write(k.join("kernel.json"), b"{}").unwrap();
        std::fs::write(dir.join("note"), b"x").unwrap();
        let list = kernel_cache(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<(&str, u64, u64)> = list
            .iter()
            .map(|e| (e.name.as_str(), e.bytes, e.files))
            .collect();
        assert_eq!(names, vec![("kernels/6.1.0-test", 102, 2), ("note", 1, 1)]);
        assert!(kernel_cache(&dir).is_empty());
    }
}
