//! The kernel cache: `$XDG_CACHE_HOME/vmlab` (default `~/.cache/vmlab`).
//!
//! ```text
//! kernels/<release>/vmlinuz        the bzImage, as packaged
//!                   vmlinux        the ELF derived from it
//!                   config         the kernel's build config
//!                   modules/<path> kvm.ko, kvm-amd.ko, kvm-intel.ko, irqbypass.ko
//!                                  (their path below /lib/modules/<release>/)
//!                   kernel.json    release, package, compression, sha256 of every file
//! derived/<sha256 of a bzImage>/vmlinux, derived.json
//!                                  vmlinux derived from a kernel given by path
//! ```
//! Every entry is staged in a scratch directory and renamed into place, its
//! JSON written last; reading an entry checks every recorded sha256.
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{bzimage, FileRef, Kernel, KernelError, Module, Source};
use crate::checksum::{sha256_file, sha256_hex};
use crate::scratch::Scratch;

/// The record written as `kernel.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Kernel release, e.g. `6.1.0-56-cloud-amd64`.
    pub release: String,
    /// Debian package name.
    pub package: String,
    /// The `.deb` file it came from.
    pub package_file: String,
    /// The bzImage payload's compression.
    pub compression: String,
    /// SHA-256 of every file, by path relative to the entry.
    pub files: BTreeMap<String, String>,
    /// The modules kept, paths relative to the entry.
    pub modules: Vec<ModuleRecord>,
}

/// A module in [`Record`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRecord {
    /// Module name.
    pub name: String,
    /// Path below `/lib/modules/<release>/`, e.g. `kernel/arch/x86/kvm/kvm.ko`.
    pub relative: String,
    /// `xz`, `zst` or `gz` when compressed.
    pub compressed: Option<String>,
}

/// What a fetch unpacked, to be installed into the cache.
#[derive(Debug)]
pub struct Unpacked {
    /// Kernel release.
    pub release: String,
    /// Debian package name.
    pub package: String,
    /// The `.deb` file name.
    pub package_file: String,
    /// The bzImage.
    pub vmlinuz: PathBuf,
    /// The build config.
    pub config: PathBuf,
    /// Modules: name, path below `/lib/modules/<release>/`, file.
    pub modules: Vec<(String, String, PathBuf)>,
}

/// The cache directory.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
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

    fn kernels(&self) -> PathBuf {
        self.root.join("kernels")
    }

    /// The cached kernel with the highest release, checked, if any.
    pub fn latest(&self) -> Result<Option<Kernel>, KernelError> {
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
    pub fn load(&self, release: &str) -> Result<Kernel, KernelError> {
        let dir = self.kernels().join(release);
        let json_path = dir.join("kernel.json");
        let json = fs::read(&json_path).map_err(|source| KernelError::Cache {
            path: json_path.clone(),
            source,
        })?;
        let corrupt = |why: String| KernelError::CacheCorrupt {
            dir: dir.clone(),
            why,
        };
        let record: Record =
            serde_json::from_slice(&json).map_err(|e| corrupt(format!("kernel.json: {e}")))?;
        let mut refs = BTreeMap::new();
        for (name, sha) in &record.files {
            let path = dir.join(name);
            let actual = sha256_file(&path).map_err(|e| corrupt(format!("{name}: {e}")))?;
            if &actual != sha {
                return Err(corrupt(format!(
                    "{name} has sha256 {actual}, expected {sha}"
                )));
            }
            let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
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
        Ok(Kernel {
            source: Source::Cache,
            release: Some(record.release.clone()),
            compression: Some(record.compression.clone()),
            bzimage: Some(take("vmlinuz")?),
            vmlinux: take("vmlinux")?,
            config: refs.get("config").map(|f| f.path.clone()),
            modules: record
                .modules
                .iter()
                .map(|m| Module {
                    name: m.name.clone(),
                    path: dir.join("modules").join(&m.relative),
                    relative: m.relative.clone(),
                    compressed: m.compressed.clone(),
                })
                .collect(),
        })
    }

    /// Installs an unpacked kernel package as `kernels/<release>/` (derives
    /// the vmlinux, records checksums) and returns it, checked.
    pub fn install(&self, unpacked: &Unpacked) -> Result<Kernel, KernelError> {
        let kernels = self.kernels();
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| KernelError::Cache { path, source }
        };
        let stage = Scratch::new_in(&kernels, "stage").map_err(io_err(&kernels))?;
        let dir = stage.path();
        let mut files = BTreeMap::new();
        let mut put = |name: &str, bytes: &[u8]| -> Result<(), KernelError> {
            let path = dir.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent))?;
            }
            fs::write(&path, bytes).map_err(io_err(&path))?;
            files.insert(name.to_string(), sha256_hex(bytes));
            Ok(())
        };
        let read = |path: &Path| fs::read(path).map_err(io_err(path));

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
        let path = dir.join("vmlinux");
        let json_path = dir.join("derived.json");
        if let Ok(json) = fs::read(&json_path) {
            if let Ok(derived) = serde_json::from_slice::<Derived>(&json) {
                if sha256_file(&path).is_ok_and(|sha| sha == derived.vmlinux_sha256) {
                    let bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
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

/// `xz`, `zst` or `gz` for a compressed module file name.
fn module_compression(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once(".ko.")?;
    Some(ext.to_string())
}

/// Orders releases numerically: `6.1.0-9` before `6.1.0-56`.
fn release_key(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(u64::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_sort_numerically_and_modules_name_their_compression() {
        let mut r = vec!["6.1.0-56-cloud-amd64", "6.1.0-9-cloud-amd64", "6.12.1"];
        r.sort_by_key(|r| release_key(r));
        assert_eq!(r, ["6.1.0-9-cloud-amd64", "6.1.0-56-cloud-amd64", "6.12.1"]);
        assert_eq!(module_compression("kernel/x/kvm.ko"), None);
        assert_eq!(
            module_compression("kernel/x/kvm.ko.xz").as_deref(),
            Some("xz")
        );
    }

    /// A scratch cache and an unpacked "package" whose bzImage wraps the
    /// bare guest ELF (gzip payload), with one plain and one xz module.
    fn fixture() -> (Scratch, Cache, Unpacked) {
        use crate::kernel::bzimage::tests::{synthetic, with_trailer};
        use std::io::Write;
        let scratch = Scratch::new_in(&std::env::temp_dir(), "cache-test").unwrap();
        let pkg = scratch.path().join("pkg");
        fs::create_dir_all(pkg.join("m")).unwrap();
        let elf = crate::embedded::GUEST;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(elf).unwrap();
        let image = synthetic(&with_trailer(gz.finish().unwrap(), elf.len()));
        fs::write(pkg.join("vmlinuz"), image).unwrap();
        fs::write(pkg.join("config"), b"CONFIG_KVM=m\n").unwrap();
        fs::write(pkg.join("m/kvm.ko"), b"kvm").unwrap();
        fs::write(pkg.join("m/kvm-amd.ko.xz"), b"kvm-amd").unwrap();
        let unpacked = Unpacked {
            release: "6.1.0-test".to_string(),
            package: "linux-image-6.1.0-test".to_string(),
            package_file: "linux-image-6.1.0-test_1_amd64.deb".to_string(),
            vmlinuz: pkg.join("vmlinuz"),
            config: pkg.join("config"),
            modules: vec![
                ("kvm".into(), "kernel/kvm.ko".into(), pkg.join("m/kvm.ko")),
                (
                    "kvm-amd".into(),
                    "kernel/kvm-amd.ko.xz".into(),
                    pkg.join("m/kvm-amd.ko.xz"),
                ),
            ],
        };
        let cache = Cache::at(scratch.path().join("cache"));
        (scratch, cache, unpacked)
    }

    #[test]
    fn installs_loads_and_detects_damage() {
        let (_scratch, cache, unpacked) = fixture();
        let kernel = cache.install(&unpacked).unwrap();
        assert_eq!(kernel.release.as_deref(), Some("6.1.0-test"));
        assert_eq!(kernel.compression.as_deref(), Some("gzip"));
        assert_eq!(
            fs::read(&kernel.vmlinux.path).unwrap(),
            crate::embedded::GUEST
        );
        let amd = kernel.modules.iter().find(|m| m.name == "kvm-amd").unwrap();
        assert_eq!(amd.compressed.as_deref(), Some("xz"));
        assert_eq!(fs::read(&amd.path).unwrap(), b"kvm-amd");
        assert_eq!(cache.latest().unwrap(), Some(kernel.clone()));
        // No staging directory is left.
        let names: Vec<_> = fs::read_dir(cache.root().join("kernels"))
            .unwrap()
            .collect();
        assert_eq!(names.len(), 1);

        fs::write(&kernel.vmlinux.path, b"damaged").unwrap();
        let err = cache.latest().unwrap_err();
        assert!(matches!(err, KernelError::CacheCorrupt { .. }), "{err}");
    }

    #[test]
    fn a_bzimage_given_by_path_derives_its_vmlinux_once() {
        let (_scratch, cache, unpacked) = fixture();
        let first = crate::kernel::from_file(&unpacked.vmlinuz, Source::Path, &cache).unwrap();
        assert_eq!(first.release.as_deref(), Some("6.1.0-test"));
        assert_eq!(
            fs::read(&first.vmlinux.path).unwrap(),
            crate::embedded::GUEST
        );
        assert!(first.vmlinux.path.starts_with(cache.root().join("derived")));
        let second = crate::kernel::from_file(&unpacked.vmlinuz, Source::Path, &cache).unwrap();
        assert_eq!(first, second);
    }

    #[test]
    fn empty_cache_has_no_kernel() {
        let cache = Cache::at(std::env::temp_dir().join("vmlab-no-such-cache-dir"));
        assert!(cache.latest().unwrap().is_none());
    }
}
