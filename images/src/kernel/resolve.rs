//! Finding a kernel ([`resolve`]) and checking a kernel file ([`from_file`]).
use std::fs;
use std::path::Path;

use super::{
    bzimage, elf, fetch, Cache, FileRef, GuestKernel, KernelError, Source, ENV, HOW_TO_GET_ONE,
};
use crate::checksum::sha256_hex;

/// Finds a kernel: `explicit`, else `$VMLAB_KERNEL`, else the cache, else
/// (when `fetch` is true) Debian's cloud kernel, fetched into the cache.
/// `progress` hears about slow steps (the fetch).
pub fn resolve(
    explicit: Option<&Path>,
    cache: &Cache,
    fetch: bool,
    progress: &mut dyn FnMut(&str),
) -> Result<GuestKernel, KernelError> {
    if let Some(path) = explicit {
        return from_file(path, Source::Path, cache);
    }
    if let Some(path) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
        return from_file(Path::new(&path), Source::Env, cache);
    }
    match cache.latest() {
        Ok(Some(kernel)) => return Ok(kernel),
        Ok(None) => {}
        Err(KernelError::CacheOutdated { dir, found }) if fetch => {
            let outdated = KernelError::CacheOutdated { dir, found };
            progress(&format!("{outdated}: fetching the kernel again"));
            return fetch::fetch(cache, progress).or_else(|e| old_kernel(cache, &outdated, &e, progress));
        }
        Err(e @ KernelError::CacheOutdated { .. }) => {
            return Err(KernelError::NotAvailable(format!(
                "{e}; let vmlab fetch the kernel again (building the images does), or {HOW_TO_GET_ONE}"
            )))
        }
        Err(e) => return Err(e),
    }
    if !fetch {
        return Err(KernelError::NotAvailable(format!(
            "none is cached in {}; {HOW_TO_GET_ONE}",
            cache.root().display()
        )));
    }
    fetch::fetch(cache, progress)
}

/// After a failed refetch (`why`), the `outdated` cached kernel as it is:
/// everything but the I/O initramfs still works with it.
fn old_kernel(
    cache: &Cache,
    outdated: &KernelError,
    why: &KernelError,
    progress: &mut dyn FnMut(&str),
) -> Result<GuestKernel, KernelError> {
    let KernelError::CacheOutdated { dir, .. } = outdated else {
        unreachable!("called with CacheOutdated only")
    };
    let release = dir.file_name().unwrap_or_default().to_string_lossy();
    progress(&format!(
        "cannot fetch it again ({why}); using the cached kernel as it is, without the \
         virtio modules (the Linux guest's I/O kernels need them)"
    ));
    cache.load_outdated(&release)
}

/// Checks the kernel file at `path` (bzImage or ELF vmlinux); for a bzImage,
/// derives its vmlinux into the cache (once per distinct bzImage).
pub fn from_file(path: &Path, source: Source, cache: &Cache) -> Result<GuestKernel, KernelError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let bytes = fs::read(&path).map_err(|source| KernelError::Unreadable {
        path: path.clone(),
        source,
    })?;
    let file = FileRef {
        path: path.clone(),
        sha256: sha256_hex(&bytes),
        bytes: bytes.len() as u64,
    };
    if elf::is_elf(&bytes) {
        elf::check(&bytes).map_err(|source| KernelError::Elf {
            path: path.clone(),
            source,
        })?;
        return Ok(GuestKernel {
            source,
            release: None,
            compression: None,
            bzimage: None,
            vmlinux: file,
            config: None,
            modules: Vec::new(),
        });
    }
    let bz_err = |source| KernelError::BzImage {
        path: path.clone(),
        source,
    };
    let header = bzimage::SetupHeader::parse(&bytes).map_err(bz_err)?;
    let (vmlinux, compression) =
        cache.derived_vmlinux(&file.sha256, || bzimage::vmlinux(&bytes).map_err(bz_err))?;
    Ok(GuestKernel {
        source,
        release: header.release().map(str::to_string),
        compression: Some(compression),
        bzimage: Some(file),
        vmlinux,
        config: None,
        modules: Vec::new(),
    })
}
