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
//!
//! Neither `kernel.json` nor an unpacked package is trusted with paths: a
//! recorded path must be relative, without `..`, and no component of it
//! (from the entry or package root down) may be a symlink; files are opened
//! with `O_NOFOLLOW`. So nothing outside the cache entry or the package is
//! ever read through them.
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{bzimage, FileRef, Kernel, KernelError, Module, Source};
use crate::checksum::{sha256_hex, sha256_read};
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

/// What a fetch unpacked, to be installed into the cache. Every path must
/// lie below `root` and is read without following symlinks.
#[derive(Debug)]
pub struct Unpacked {
    /// Where the package was unpacked.
    pub root: PathBuf,
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
        Ok(Kernel {
            source: Source::Cache,
            release: Some(record.release.clone()),
            compression: Some(record.compression.clone()),
            bzimage: Some(take("vmlinuz")?),
            vmlinux: take("vmlinux")?,
            config: refs.get("config").map(|f| f.path.clone()),
            modules,
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
fn open_nofollow(path: &Path) -> io::Result<File> {
    File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// Reads `path` below `root` (see [`contained`]) without following symlinks.
fn read_within(root: &Path, path: &Path) -> Result<Vec<u8>, KernelError> {
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
            root: pkg.clone(),
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

    /// Rewrites the entry's kernel.json with `edit` applied to its record.
    fn tamper(cache: &Cache, edit: impl FnOnce(&mut Record)) {
        let path = cache.root().join("kernels/6.1.0-test/kernel.json");
        let mut record: Record = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        edit(&mut record);
        fs::write(&path, serde_json::to_vec(&record).unwrap()).unwrap();
    }

    fn corrupt_why(cache: &Cache) -> String {
        match cache.load("6.1.0-test") {
            Err(KernelError::CacheCorrupt { why, .. }) => why,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_hostile_kernel_json_cannot_name_files_outside_the_entry() {
        let (scratch, cache, unpacked) = fixture();
        cache.install(&unpacked).unwrap();
        let outside = scratch.path().join("secret");
        fs::write(&outside, b"not yours").unwrap();
        let secret_sha = sha256_hex(b"not yours");

        tamper(&cache, |r| {
            r.files
                .insert(outside.to_string_lossy().into_owned(), secret_sha.clone());
        });
        assert!(corrupt_why(&cache).contains("absolute"));

        let (scratch, cache, unpacked) = fixture();
        cache.install(&unpacked).unwrap();
        fs::write(scratch.path().join("secret"), b"not yours").unwrap();
        tamper(&cache, |r| {
            r.files.insert("../../../secret".into(), secret_sha.clone());
        });
        assert!(corrupt_why(&cache).contains(".."));

        let (_scratch, cache, unpacked) = fixture();
        cache.install(&unpacked).unwrap();
        tamper(&cache, |r| {
            r.modules[0].relative = "../../../../etc/passwd".into()
        });
        assert!(corrupt_why(&cache).contains(".."));
    }

    #[test]
    fn a_symlink_in_the_cache_entry_is_not_followed() {
        let (scratch, cache, unpacked) = fixture();
        cache.install(&unpacked).unwrap();
        // `config` becomes a link to a file outside, its checksum recorded:
        // only the link itself gives it away.
        let outside = scratch.path().join("secret");
        fs::write(&outside, b"not yours").unwrap();
        let config = cache.root().join("kernels/6.1.0-test/config");
        fs::remove_file(&config).unwrap();
        std::os::unix::fs::symlink(&outside, &config).unwrap();
        tamper(&cache, |r| {
            r.files.insert("config".into(), sha256_hex(b"not yours"));
        });
        assert!(corrupt_why(&cache).contains("symlink"));
        // A symlinked directory on the way is refused the same way.
        let (scratch, cache, unpacked) = fixture();
        cache.install(&unpacked).unwrap();
        let entry = cache.root().join("kernels/6.1.0-test");
        let elsewhere = scratch.path().join("elsewhere");
        fs::rename(entry.join("modules"), &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, entry.join("modules")).unwrap();
        assert!(corrupt_why(&cache).contains("symlink"));
    }

    #[test]
    fn a_symlink_in_the_package_is_not_followed() {
        for target in ["/etc/shadow", "secret"] {
            let (scratch, cache, mut unpacked) = fixture();
            let target = scratch.path().join(target); // "/etc/shadow" stays absolute
            if !target.starts_with("/etc") {
                fs::write(&target, b"not yours").unwrap();
            }
            fs::remove_file(&unpacked.config).unwrap();
            std::os::unix::fs::symlink(&target, &unpacked.config).unwrap();
            match cache.install(&unpacked) {
                Err(KernelError::UnsafePath { why, .. }) => {
                    assert!(why.contains("symlink"), "{why}")
                }
                other => panic!("{other:?}"),
            }
            // A symlinked directory in the package, and a path outside it.
            let pkg = unpacked.root.clone();
            let elsewhere = scratch.path().join("elsewhere");
            fs::rename(pkg.join("m"), &elsewhere).unwrap();
            std::os::unix::fs::symlink(&elsewhere, pkg.join("m")).unwrap();
            unpacked.config = scratch.path().join("config-outside");
            fs::write(&unpacked.config, b"x").unwrap();
            assert!(matches!(
                cache.install(&unpacked),
                Err(KernelError::UnsafePath { .. })
            ));
            unpacked.config = pkg.join("config2");
            fs::write(&unpacked.config, b"x").unwrap();
            match cache.install(&unpacked) {
                Err(KernelError::UnsafePath { why, .. }) => {
                    assert!(why.contains("symlink"), "{why}")
                }
                other => panic!("{other:?}"),
            }
            assert!(!cache.root().join("kernels/6.1.0-test").exists());
        }
    }

    #[test]
    fn a_release_is_one_plain_name() {
        for bad in ["../../escape", "/abs", "a/b", "..", ""] {
            let (_scratch, cache, mut unpacked) = fixture();
            unpacked.release = bad.to_string();
            assert!(
                matches!(
                    cache.install(&unpacked),
                    Err(KernelError::UnsafePath { .. })
                ),
                "{bad:?}"
            );
            assert!(matches!(
                cache.load(bad),
                Err(KernelError::CacheCorrupt { .. })
            ));
        }
    }

    #[test]
    fn contained_paths() {
        let root = Path::new("/nonexistent-root");
        assert_eq!(
            contained(root, Path::new("a/b")),
            Ok(PathBuf::from("/nonexistent-root/a/b"))
        );
        assert!(contained(root, Path::new("/etc/passwd")).is_err());
        assert!(contained(root, Path::new("a/../../etc")).is_err());
        assert!(contained(root, Path::new("")).is_err());
    }
}
