//! Writing control files and making and removing cgroup directories.
use std::path::Path;

use super::CgroupError;

pub(super) fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

/// Writes each of `values` with a `write` of its own through one open of
/// `path` (v1's `devices.allow` takes one rule per write).
pub(super) fn write_each(path: &Path, values: &[String]) -> Result<(), CgroupError> {
    use std::io::Write;
    let err = |value: &str, source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| err(values.first().map_or("", String::as_str), e))?;
    for v in values {
        // One rule per write(2): write_all on a short string is one call.
        f.write_all(v.as_bytes()).map_err(|e| err(v, e))?;
    }
    Ok(())
}

pub(super) fn mkdir(path: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(create_error(path, source)),
    }
}

pub(super) fn create_error(path: &Path, source: std::io::Error) -> CgroupError {
    let path = path.to_path_buf();
    if source.kind() == std::io::ErrorKind::PermissionDenied {
        CgroupError::Denied { path, source }
    } else {
        CgroupError::Create { path, source }
    }
}

/// `rmdir`, retried while the kernel still counts exiting tasks (`EBUSY`).
pub(super) fn rmdir_retry(dir: &Path) -> std::io::Result<()> {
    let mut delay = std::time::Duration::from_micros(50);
    for _ in 0..40 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e),
        }
    }
    std::fs::remove_dir(dir)
}
