//! Writing into the cache: an unpacked package, or the vmlinux derived from a
//! bzImage given by path.
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::paths::{contained, module_compression, open_nofollow, read_within};
use super::{Cache, ModuleRecord, Record, Unpacked};
use crate::checksum::{sha256_hex, sha256_read};
use crate::kernel::{bzimage, FileRef, GuestKernel, KernelError};
use crate::scratch::Scratch;

impl Cache {
    /// Installs an unpacked kernel package as `kernels/<release>/` (derives
    /// the vmlinux, records checksums) and returns it, checked.
    pub fn install(&self, unpacked: &Unpacked) -> Result<GuestKernel, KernelError> {
        let kernels = self.kernels();
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KernelError::Cache { path, source }
        };
        let release = Path::new(&unpacked.release);
        if release.components().count() != 1 {
            return Err(KernelError::UnsafePath {
                path: release.to_path_buf(),
                why: "a kernel release must be a single file name".to_string(),
            });
        }
        contained(&kernels, release).map_err(|why| KernelError::UnsafePath {
            path: release.to_path_buf(),
            why,
        })?;
        let stage = Scratch::new_in(&kernels, "stage").map_err(io_err(&kernels))?;
        let dir = stage.path();
        let mut files = BTreeMap::new();
        let mut put = |name: &str, bytes: &[u8]| -> Result<(), KernelError> {
            let path = contained(dir, Path::new(name)).map_err(|why| KernelError::UnsafePath {
                path: PathBuf::from(name),
                why,
            })?;
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            fs::write(&path, bytes).map_err(io_err(&path))?;
            files.insert(name.to_string(), sha256_hex(bytes));
            Ok(())
        };
        let read = |path: &Path| read_within(&unpacked.root, path);

        let vmlinuz = read(&unpacked.vmlinuz)?;
        let (vmlinux, compression) =
            bzimage::vmlinux(&vmlinuz).map_err(|source| KernelError::BzImage {
                path: unpacked.vmlinuz.clone(),
                source,
            })?;
        put("vmlinuz", &vmlinuz)?;
        put("vmlinux", &vmlinux)?;
        put("config", &read(&unpacked.config)?)?;
        let mut modules = Vec::new();
        for (name, relative, path) in &unpacked.modules {
            put(&format!("modules/{relative}"), &read(path)?)?;
            modules.push(ModuleRecord {
                name: name.clone(),
                relative: relative.clone(),
                compressed: module_compression(relative),
            });
        }
        let record = Record {
            format: super::FORMAT,
            release: unpacked.release.clone(),
            package: unpacked.package.clone(),
            package_file: unpacked.package_file.clone(),
            compression: compression.name().to_string(),
            files,
            modules,
        };
        let json = serde_json::to_vec_pretty(&record).expect("a record always serializes");
        let json_path = dir.join("kernel.json");
        fs::write(&json_path, json).map_err(io_err(&json_path))?;
        let dest = kernels.join(&unpacked.release);
        stage.persist(&dest).map_err(io_err(&dest))?;
        self.load(&unpacked.release)
    }

    /// The vmlinux derived from the bzImage whose sha256 is `sha256`:
    /// reused from `derived/<sha256>/` when present and intact, else made
    /// with `derive` and stored. Returns it and the payload compression.
    pub fn derived_vmlinux(
        &self,
        sha256: &str,
        derive: impl FnOnce() -> Result<(Vec<u8>, bzimage::Compression), KernelError>,
    ) -> Result<(FileRef, String), KernelError> {
        #[derive(Serialize, Deserialize)]
        struct Derived {
            compression: String,
            vmlinux_sha256: String,
        }
        let dir = self.root.join("derived").join(sha256);
        let rel = Path::new("derived").join(sha256).join("vmlinux");
        let path = contained(&self.root, &rel).map_err(|why| KernelError::CacheCorrupt {
            dir: dir.clone(),
            why,
        })?;
        let json_path = dir.join("derived.json");
        let mut json = Vec::new();
        if open_nofollow(&json_path)
            .and_then(|mut f| f.read_to_end(&mut json))
            .is_ok()
        {
            if let Ok(derived) = serde_json::from_slice::<Derived>(&json) {
                if open_nofollow(&path)
                    .and_then(sha256_read)
                    .is_ok_and(|sha| sha == derived.vmlinux_sha256)
                {
                    let bytes = fs::symlink_metadata(&path).map(|m| m.len()).unwrap_or(0);
                    let file = FileRef {
                        path,
                        sha256: derived.vmlinux_sha256,
                        bytes,
                    };
                    return Ok((file, derived.compression));
                }
            }
        }
        let (vmlinux, compression) = derive()?;
        let parent = self.root.join("derived");
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KernelError::Cache { path, source }
        };
        let stage = Scratch::new_in(&parent, "stage").map_err(io_err(&parent))?;
        let derived = Derived {
            compression: compression.name().to_string(),
            vmlinux_sha256: sha256_hex(&vmlinux),
        };
        let staged = stage.path().join("vmlinux");
        fs::write(&staged, &vmlinux).map_err(io_err(&staged))?;
        let json = serde_json::to_vec_pretty(&derived).expect("always serializes");
        let staged_json = stage.path().join("derived.json");
        fs::write(&staged_json, json).map_err(io_err(&staged_json))?;
        stage.persist(&dir).map_err(io_err(&dir))?;
        let file = FileRef {
            path,
            sha256: derived.vmlinux_sha256,
            bytes: vmlinux.len() as u64,
        };
        Ok((file, derived.compression))
    }
}
