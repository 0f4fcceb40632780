//! Kernel files: bad ones give clear errors; the cached Debian kernel (when
//! present, or required with VMLAB_REQUIRE_KVM=1) is a bzImage whose
//! derived vmlinux is an x86-64 ELF, with its modules next to it.
mod common;

use std::fs;
use std::path::Path;

use common::{chain, scratch};
use vmlab_images::kernel::{self, bzimage, elf, Cache, KernelError, Source};
use vmlab_test_util::gate;

fn from_file(path: &Path) -> Result<kernel::GuestKernel, KernelError> {
    let cache = scratch("kernel-cache");
    let result = kernel::from_file(path, Source::Path, &Cache::at(cache.path()));
    drop(cache);
    result
}

#[test]
fn a_missing_file_or_a_directory_is_unreadable() {
    let s = scratch("kernel-bad");
    let missing = s.path().join("no-such-kernel");
    for path in [missing.as_path(), s.path()] {
        let err = from_file(path).unwrap_err();
        assert!(matches!(err, KernelError::Unreadable { .. }), "{err:?}");
        let text = chain(&err);
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.starts_with("cannot read the kernel file"), "{text}");
    }
}

#[test]
fn random_bytes_are_not_a_kernel() {
    let s = scratch("kernel-random");
    let path = s.path().join("random");
    // A fixed xorshift sequence: random-looking, the same every run.
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..65536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    fs::write(&path, bytes).unwrap();
    let err = from_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::BzImage {
                source: bzimage::BzImageError::NoMagic,
                ..
            }
        ),
        "{err:?}"
    );
    let text = chain(&err);
    assert!(
        text.contains("not a usable kernel") && text.contains("not a kernel"),
        "{text}"
    );

    fs::write(&path, b"tiny").unwrap();
    let err = from_file(&path).unwrap_err();
    assert!(chain(&err).contains("too short"), "{}", chain(&err));
}

#[test]
fn a_truncated_elf_is_refused() {
    let s = scratch("kernel-elf");
    let path = s.path().join("vmlinux");
    let guest = vmlab_images::embedded::GUEST;
    fs::write(&path, &guest[..guest.len() / 2]).unwrap();
    let err = from_file(&path).unwrap_err();
    assert!(matches!(err, KernelError::Elf { .. }), "{err:?}");
    assert!(chain(&err).contains("truncated"), "{}", chain(&err));
    // The whole guest is an ELF vmlab accepts as a vmlinux.
    fs::write(&path, guest).unwrap();
    let kernel = from_file(&path).unwrap();
    assert!(kernel.bzimage.is_none());
    assert_eq!(kernel.vmlinux.bytes, guest.len() as u64);
}

/// The cached kernel, if there is one (fetched by `vmlab images build`)
/// in this vmlab's cache format (an older entry is refetched by the next
/// `vmlab images build`, which says so).
fn cached() -> Option<kernel::GuestKernel> {
    let cache = Cache::default_location().ok()?;
    match cache.latest() {
        Err(e @ KernelError::CacheOutdated { .. }) => {
            eprintln!("{e}");
            None
        }
        other => other.expect("a readable, intact cache"),
    }
}

#[test]
fn the_cached_kernel_is_complete() {
    let kernel = cached();
    if !gate(
        kernel.is_some(),
        "VMLAB_REQUIRE_KVM",
        "no kernel is cached (run `vmlab images build` first)",
    ) {
        return;
    }
    let kernel = kernel.unwrap();
    let bz = kernel
        .bzimage
        .as_ref()
        .expect("a cached kernel has its bzImage");
    let bytes = fs::read(&bz.path).unwrap();
    let header = bzimage::SetupHeader::parse(&bytes).unwrap();
    assert_eq!(header.release(), kernel.release.as_deref());
    let vmlinux = fs::read(&kernel.vmlinux.path).unwrap();
    assert_eq!(elf::check(&vmlinux), Ok(vmlinux.len()));
    for name in [
        "kvm",
        "kvm-amd",
        "irqbypass",
        "virtio_mmio",
        "virtio_net",
        "virtio_blk",
    ] {
        let module = kernel.modules.iter().find(|m| m.name == name).unwrap();
        assert!(module.path.is_file(), "{}", module.path.display());
    }
    // Kept in load order: every module after the modules it depends on.
    let at = |name: &str| {
        let name = kernel::modules::normalized(name);
        let i = kernel
            .modules
            .iter()
            .position(|m| kernel::modules::normalized(&m.name) == name);
        i.unwrap()
    };
    for m in &kernel.modules {
        let deps = kernel::modules::depends(&fs::read(&m.path).unwrap()).unwrap();
        for d in deps {
            assert!(at(&d) < at(&m.name), "{d} is kept after {}", m.name);
        }
    }
    let virtio = kernel::modules::virtio_of(&kernel).unwrap().unwrap();
    let names: Vec<&str> = virtio.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"net_failover") && !names.contains(&"kvm"),
        "{names:?}"
    );
    assert!(kernel.config.as_ref().is_some_and(|c| c.is_file()));
}

#[test]
fn a_truncated_bzimage_is_refused_and_a_whole_one_derives_the_same_vmlinux() {
    let kernel = cached();
    if !gate(
        kernel.is_some(),
        "VMLAB_REQUIRE_KVM",
        "no kernel is cached (run `vmlab images build` first)",
    ) {
        return;
    }
    let kernel = kernel.unwrap();
    let bz = kernel.bzimage.unwrap();
    let bytes = fs::read(&bz.path).unwrap();
    let s = scratch("kernel-trunc");
    let path = s.path().join("vmlinuz");
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = from_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            KernelError::BzImage {
                source: bzimage::BzImageError::Truncated { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert!(chain(&err).contains("truncated"), "{}", chain(&err));

    // Given by path, the same bzImage yields the same vmlinux.
    let from_path = from_file(&bz.path).unwrap();
    assert_eq!(from_path.vmlinux.sha256, kernel.vmlinux.sha256);
    assert_eq!(from_path.release, kernel.release);
}
