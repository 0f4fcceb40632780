//! The cache directory, and reading a cached kernel back (checked).
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::paths::{contained, open_nofollow, release_key};
use super::Record;
use crate::checksum::sha256_read;
use crate::kernel::{FileRef, GuestKernel, KernelError, Module, Source};

/// The cache directory.
#[derive(Clone, Debug)]
pub struct Cache {
    pub(super) root: PathBuf,
}

impl Cache {
    /// `$XDG_CACHE_HOME/vmlab`, else `$HOME/.cache/vmlab`.
    pub fn default_location() -> Result<Self, KernelError> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".cache"))
            })
            .ok_or_else(|| {
                KernelError::NotAvailable(
                    "neither XDG_CACHE_HOME nor HOME is set, so there is no kernel cache; \
                     set one of them or pass --kernel PATH"
                        .to_string(),
                )
            })?;
        Ok(Cache::at(base.join("vmlab")))
    }

    /// A cache rooted at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn kernels(&self) -> PathBuf {
        self.root.join("kernels")
    }

    /// The cached kernel with the highest release, checked, if any.
    pub fn latest(&self) -> Result<Option<GuestKernel>, KernelError> {
        let dir = self.kernels();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(KernelError::Cache { path: dir, source }),
        };
        let mut releases: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.') && dir.join(name).join("kernel.json").is_file())
            .collect();
        releases.sort_by_key(|r| release_key(r));
        match releases.pop() {
            Some(release) => self.load(&release).map(Some),
            None => Ok(None),
        }
    }

    /// The cached kernel `release`, its files checked against `kernel.json`.
    pub fn load(&self, release: &str) -> Result<GuestKernel, KernelError> {
        self.load_with(release, false)
    }

    /// [`Cache::load`], accepting an entry of an older format too (it has
    /// everything but what later formats added: the virtio modules).
    pub fn load_outdated(&self, release: &str) -> Result<GuestKernel, KernelError> {
        self.load_with(release, true)
    }

    fn load_with(&self, release: &str, outdated_ok: bool) -> Result<GuestKernel, KernelError> {
        let kernels = self.kernels();
        let corrupt_at = |dir: &Path, why: String| KernelError::CacheCorrupt {
            dir: dir.to_path_buf(),
            why,
        };
        if Path::new(release).components().count() != 1 {
            return Err(corrupt_at(
                &kernels,
                format!("{release:?} is not a release name"),
            ));
        }
        let dir = contained(&kernels, Path::new(release)).map_err(|e| corrupt_at(&kernels, e))?;
        let corrupt = |why: String| corrupt_at(&dir, why);
        let json_path = contained(&dir, Path::new("kernel.json")).map_err(corrupt)?;
        let mut json = Vec::new();
        open_nofollow(&json_path)
            .and_then(|mut f| f.read_to_end(&mut json))
            .map_err(|source| KernelError::Cache {
                path: json_path.clone(),
                source,
            })?;
        let record: Record =
            serde_json::from_slice(&json).map_err(|e| corrupt(format!("kernel.json: {e}")))?;
        if record.format < super::FORMAT && !outdated_ok {
            return Err(KernelError::CacheOutdated {
                dir: dir.clone(),
                found: record.format,
            });
        }
        let mut refs = BTreeMap::new();
        for (name, sha) in &record.files {
            let path = contained(&dir, Path::new(name))
                .map_err(|e| corrupt(format!("kernel.json names a file outside the entry: {e}")))?;
            let actual = open_nofollow(&path)
                .and_then(sha256_read)
                .map_err(|e| corrupt(format!("{name}: {e}")))?;
            if &actual != sha {
                return Err(corrupt(format!(
                    "{name} has sha256 {actual}, expected {sha}"
                )));
            }
            let bytes = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
            refs.insert(
                name.clone(),
                FileRef {
                    path,
                    sha256: actual,
                    bytes,
                },
            );
        }
        let take = |name: &str| {
            refs.get(name)
                .cloned()
                .ok_or_else(|| corrupt(format!("kernel.json lists no {name}")))
        };
        let modules = record
            .modules
            .iter()
            .map(|m| {
                let path =
                    contained(&dir, &Path::new("modules").join(&m.relative)).map_err(|e| {
                        corrupt(format!("kernel.json names a module outside the entry: {e}"))
                    })?;
                Ok(Module {
                    name: m.name.clone(),
                    path,
                    relative: m.relative.clone(),
                    compressed: m.compressed.clone(),
                })
            })
            .collect::<Result<Vec<_>, KernelError>>()?;
        Ok(GuestKernel {
            source: Source::Cache,
            release: Some(record.release.clone()),
            compression: Some(record.compression.clone()),
            bzimage: Some(take("vmlinuz")?),
            vmlinux: take("vmlinux")?,
            config: refs.get("config").map(|f| f.path.clone()),
            modules,
        })
    }
}
