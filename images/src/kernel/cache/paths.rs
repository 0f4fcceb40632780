//! Reading below a root without being led outside it.
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::kernel::KernelError;

/// `root/rel`, provided `rel` is a relative path of plain names (no `/`
/// prefix, no `..` or `.`) and no component below `root` is a symlink.
/// Components that do not exist yet are fine (opening them fails later).
pub fn contained(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    let shown = rel.display();
    let mut path = root.to_path_buf();
    let mut any = false;
    let mut exists = true;
    for component in rel.components() {
        match component {
            Component::Normal(name) => path.push(name),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{shown} is an absolute path"))
            }
            Component::ParentDir => return Err(format!("{shown} climbs out with ..")),
            Component::CurDir => return Err(format!("{shown} has a . component")),
        }
        any = true;
        if !exists {
            continue;
        }
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "{shown} goes through the symlink {}",
                    path.display()
                ))
            }
            Ok(_) => {}
            Err(_) => exists = false,
        }
    }
    if !any {
        return Err("an empty path".to_string());
    }
    Ok(path)
}

/// Opens `path` for reading without following a symlink at its end.
pub(super) fn open_nofollow(path: &Path) -> io::Result<File> {
    File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Reads `path` below `root` (see [`contained`]) without following symlinks.
pub(super) fn read_within(root: &Path, path: &Path) -> Result<Vec<u8>, KernelError> {
    let unsafe_path = |why: String| KernelError::UnsafePath {
        path: path.to_path_buf(),
        why,
    };
    let rel = path
        .strip_prefix(root)
        .map_err(|_| unsafe_path(format!("it is outside {}", root.display())))?;
    let path = contained(root, rel).map_err(unsafe_path)?;
    let mut bytes = Vec::new();
    open_nofollow(&path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|source| KernelError::Cache { path, source })?;
    Ok(bytes)
}

/// `xz`, `zst` or `gz` for a compressed module file name.
pub(super) fn module_compression(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once(".ko.")?;
    Some(ext.to_string())
}

/// Orders releases numerically: `6.1.0-9` before `6.1.0-56`.
pub(super) fn release_key(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(u64::MAX))
        .collect()
}
