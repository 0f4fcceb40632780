//! Fetching Debian's cloud kernel: `apt-cache` names the package the
//! `linux-image-cloud-amd64` meta-package depends on, `apt-get download`
//! fetches the `.deb` into a scratch directory, `dpkg-deb -x` unpacks it
//! there, and [`Cache::install`] keeps what vmlab needs. Nothing is
//! installed on the host; the scratch directory is removed on every path.
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cache::Unpacked;
use super::modules;
use super::{Cache, GuestKernel, KernelError, HOW_TO_GET_ONE};
use crate::scratch::Scratch;

/// The meta-package that depends on the current cloud kernel.
pub const META_PACKAGE: &str = "linux-image-cloud-amd64";

/// Fetches the cloud kernel into `cache` (or returns it if that release is
/// already cached).
pub fn fetch(cache: &Cache, progress: &mut dyn FnMut(&str)) -> Result<GuestKernel, KernelError> {
    let package = cloud_package()?;
    let release = package
        .strip_prefix("linux-image-")
        .unwrap_or(&package)
        .to_string();
    if cache
        .root()
        .join("kernels")
        .join(&release)
        .join("kernel.json")
        .is_file()
    {
        match cache.load(&release) {
            Err(e @ KernelError::CacheOutdated { .. }) => {
                progress(&format!("{e}: fetching it again"))
            }
            other => return other,
        }
    }
    progress(&format!(
        "fetching {package} with apt-get download into {} (not installed)",
        cache.root().display()
    ));
    let scratch = Scratch::new_in(cache.root(), "fetch").map_err(|source| KernelError::Cache {
        path: cache.root().to_path_buf(),
        source,
    })?;
    let dir = scratch.path();
    run(Command::new("apt-get")
        .arg("download")
        .arg(&package)
        .current_dir(dir))?;
    let deb = find_deb(dir, &package)?;
    let root = dir.join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
    let unpacked = locate(&root, &package, &release, &deb)?;
    cache.install(&unpacked)
}

/// The kernel package `linux-image-cloud-amd64` depends on.
fn cloud_package() -> Result<String, KernelError> {
    let out = match Command::new("apt-cache")
        .args(["depends", META_PACKAGE])
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(KernelError::NotAvailable(format!(
                "none is cached and apt-cache is not installed; {HOW_TO_GET_ONE}"
            )))
        }
        Err(e) => return Err(KernelError::Fetch(format!("cannot run apt-cache: {e}"))),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let package = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends:"))
        .map(str::trim)
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-cloud-amd64"));
    match package {
        Some(p) if out.status.success() => Ok(p.to_string()),
        _ => Err(KernelError::NotAvailable(format!(
            "none is cached and apt knows no package {META_PACKAGE}: run `apt-get update` \
             (Debian), or pass --kernel PATH (a bzImage or vmlinux) or set VMLAB_KERNEL=PATH"
        ))),
    }
}

/// Runs a command; a failure carries its stderr.
fn run(cmd: &mut Command) -> Result<(), KernelError> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    let out = cmd.output().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            KernelError::NotAvailable(format!(
                "none is cached and {name} is not installed; {HOW_TO_GET_ONE}"
            ))
        } else {
            KernelError::Fetch(format!("cannot run `{line}`: {e}"))
        }
    })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(KernelError::Fetch(format!(
        "`{line}` failed ({}): {}",
        out.status,
        tail.join(" / ")
    )))
}

fn find_deb(dir: &Path, package: &str) -> Result<PathBuf, KernelError> {
    let entries = fs::read_dir(dir).map_err(|source| KernelError::Cache {
        path: dir.to_path_buf(),
        source,
    })?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(package) && name.ends_with(".deb")
        })
        .ok_or_else(|| {
            KernelError::Fetch(format!("apt-get download left no {package}*.deb behind"))
        })
}

/// Finds the bzImage, config and modules in the unpacked package.
fn locate(root: &Path, package: &str, release: &str, deb: &Path) -> Result<Unpacked, KernelError> {
    let missing = |what: String| KernelError::Fetch(format!("the package {package} has no {what}"));
    let vmlinuz = root.join("boot").join(format!("vmlinuz-{release}"));
    if !vmlinuz.is_file() {
        return Err(missing(format!("/boot/vmlinuz-{release}")));
    }
    let config = root.join("boot").join(format!("config-{release}"));
    if !config.is_file() {
        return Err(missing(format!("/boot/config-{release}")));
    }
    let moddir = ["lib/modules", "usr/lib/modules"]
        .iter()
        .map(|d| root.join(d).join(release))
        .find(|d| d.is_dir())
        .ok_or_else(|| missing(format!("/lib/modules/{release}")))?;
    let modules = kept_modules(&moddir)
        .map_err(|why| KernelError::Fetch(format!("the package {package}'s modules: {why}")))?;
    Ok(Unpacked {
        root: root.to_path_buf(),
        release: release.to_string(),
        package: package.to_string(),
        package_file: deb
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        vmlinuz,
        config,
        modules,
    })
}

/// The modules [`modules::ROOTS`] need below `moddir` (`/lib/modules/<release>`),
/// dependencies first: name (the file's stem), path below `moddir`, file.
fn kept_modules(moddir: &Path) -> Result<Vec<(String, String, PathBuf)>, String> {
    let mut index = BTreeMap::new();
    index_modules(moddir, Path::new("kernel"), &mut index)?;
    let order = modules::closure(modules::ROOTS, |name| {
        let (_, rel) = index
            .get(name)
            .ok_or_else(|| format!("there is no module {name}"))?;
        if rel.ends_with(".ko") {
            let bytes = fs::read(moddir.join(rel)).map_err(|e| format!("{rel}: {e}"))?;
            modules::depends(&bytes).map_err(|e| format!("{rel}: {e}"))
        } else {
            Err(format!(
                "{rel} is compressed; vmlab reads dependencies from uncompressed modules only"
            ))
        }
    })?;
    Ok(order
        .iter()
        .map(|name| {
            let (stem, rel) = index[name].clone();
            let path = moddir.join(&rel);
            (stem, rel, path)
        })
        .collect())
}

/// Every `*.ko` (or compressed `*.ko.*`) below `moddir/rel`, by normalized
/// name: its stem and its path below `moddir`. Symlinks are not followed.
fn index_modules(
    moddir: &Path,
    rel: &Path,
    index: &mut BTreeMap<String, (String, String)>,
) -> Result<(), String> {
    let dir = moddir.join(rel);
    let entries = fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child = rel.join(&name);
        match entry.file_type() {
            Ok(t) if t.is_dir() => index_modules(moddir, &child, index)?,
            Ok(t) if t.is_file() => {
                if let Some((stem, _)) = name.split_once(".ko") {
                    let value = (stem.to_string(), child.to_string_lossy().into_owned());
                    index.insert(modules::normalized(stem), value);
                }
            }
            _ => {}
        }
    }
    Ok(())
}
