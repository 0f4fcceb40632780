//! The images compare boots: built when missing, measured, and matched to
//! the backends that ship them.
use std::path::Path;

use anyhow::Context;
use vmlab_images::builder::{self, BuildOptions};
use vmlab_images::checksum::sha256_hex;
use vmlab_images::embedded;
use vmlab_images::kernel::{self, Cache};
use vmlab_images::manifest::{self, Manifest};
use vmlab_images::sizes::{self, Size};
use vmlab_reports::model::{Artifact, ImageSize};

use crate::id::BackendId;

use super::progress::spin;

/// Whether the images in `m` hold the workload and guest this vmlab embeds
/// (images built by an older vmlab would boot another workload).
pub fn current(m: &Manifest) -> bool {
    m.workload.sha256 == sha256_hex(embedded::WORKLOAD)
        && m.guest.sha256 == sha256_hex(embedded::GUEST)
}

/// The manifest of `dir`, building every artifact first when there is none
/// or it holds another workload (with the cached guest kernel, fetched first
/// only when `fetch_kernel`; without one, only the Linux-guest backends are
/// skipped). Current images built without a guest kernel (none was cached
/// then) are rebuilt once one can be had now, so that a kernel cached or
/// fetched later is not ignored for good.
pub fn ensure_built(dir: &Path, fetch_kernel: bool, hidden: bool) -> anyhow::Result<Manifest> {
    let kernelless = match Manifest::read(dir) {
        Ok(m) if current(&m) && m.kernel.is_some() => return Ok(m),
        Ok(m) if current(&m) => Some(m),
        Ok(_) if !hidden => {
            eprintln!(
                "vmlab: the images in {} hold another workload build; rebuilding them",
                dir.display()
            );
            None
        }
        _ => None,
    };
    let what = if fetch_kernel {
        "looking for a guest kernel (cache, else a fetch)"
    } else {
        "looking for a cached guest kernel"
    };
    let kernel = spin(what, hidden, || {
        Cache::default_location()
            .and_then(|cache| kernel::resolve(None, &cache, fetch_kernel, &mut |_| {}))
    });
    let kernel = match (kernel, kernelless) {
        (Ok(k), _) => Some(k),
        // Still none to be had: the images as they are.
        (Err(_), Some(m)) => return Ok(m),
        (Err(e), None) => {
            if !hidden {
                eprintln!(
                    "vmlab: building the images without a guest kernel: {:#}",
                    anyhow::Error::from(e)
                );
            }
            None
        }
    };
    let opts = BuildOptions::new(dir)?;
    spin(
        &format!("building the images in {}", dir.display()),
        hidden,
        || builder::build(&opts, kernel),
    )
    .with_context(|| format!("cannot build the images in {}", dir.display()))
}

/// The size of every artifact in `dir`.
pub fn measure(dir: &Path, manifest: &Manifest, hidden: bool) -> anyhow::Result<Vec<Size>> {
    spin("measuring the images (gzip, zstd)", hidden, || {
        sizes::of_build(dir, manifest)
    })
    .with_context(|| format!("cannot measure the images in {}", dir.display()))
}

/// A size in the results model.
pub fn image_size(s: &Size, contents: &str) -> ImageSize {
    ImageSize {
        contents: contents.to_string(),
        uncompressed: s.uncompressed,
        gzip: s.gzip,
        zstd: s.zstd,
        on_disk: s.on_disk,
        files: s.files,
        ..ImageSize::default()
    }
}

/// Every artifact, for the results' `images`.
pub fn artifacts(sizes: &[Size]) -> Vec<Artifact> {
    sizes
        .iter()
        .map(|s| Artifact {
            name: s.name.clone(),
            size: image_size(s, &s.name),
        })
        .collect()
}

/// Which artifact a backend ships, and how the report describes it.
pub fn artifact_of(backend: BackendId) -> (String, &'static str) {
    use BackendId::*;
    let vm = "vm image (kernel + initramfs.cpio.gz)";
    match backend {
        Process => (manifest::WORKLOAD.to_string(), "static workload binary"),
        Sandbox | Bwrap => (format!("{}/", manifest::ROOTFS), "rootfs directory"),
        Crun | Runc | Runsc => (
            format!("{}/ (OCI layout)", manifest::OCI),
            "OCI image layout",
        ),
        VmBare | QemuBare | FirecrackerBare | CloudHypervisorBare => {
            (manifest::GUEST.to_string(), "bare guest ELF")
        }
        VmLinux | Qemu | Firecracker | CloudHypervisor => (vm.to_string(), "kernel + initramfs"),
    }
}

/// The image of `backend` among `sizes`.
pub fn image_of(backend: BackendId, sizes: &[Size]) -> Option<ImageSize> {
    let (name, contents) = artifact_of(backend);
    sizes
        .iter()
        .find(|s| s.name == name)
        .map(|s| image_size(s, contents))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(name: &str, bytes: u64) -> Size {
        Size {
            name: name.into(),
            paths: vec![],
            uncompressed: bytes,
            gzip: bytes / 2,
            zstd: bytes / 3,
            on_disk: bytes,
            files: 1,
        }
    }

    #[test]
    fn backends_get_their_artifact() {
        let sizes = vec![
            size("workload", 100),
            size("rootfs/", 200),
            size("oci/ (OCI layout)", 300),
            size("guest.elf", 40),
        ];
        assert_eq!(
            image_of(BackendId::Process, &sizes).unwrap().uncompressed,
            100
        );
        assert_eq!(
            image_of(BackendId::Bwrap, &sizes).unwrap().uncompressed,
            200
        );
        let crun = image_of(BackendId::Crun, &sizes).unwrap();
        assert_eq!(
            (crun.uncompressed, crun.contents.as_str()),
            (300, "OCI image layout")
        );
        assert_eq!(image_of(BackendId::VmBare, &sizes).unwrap().gzip, 20);
        // No kernel built: the Linux VMs have no image.
        assert_eq!(image_of(BackendId::Qemu, &sizes), None);
        assert_eq!(artifacts(&sizes).len(), 4);
    }
}
