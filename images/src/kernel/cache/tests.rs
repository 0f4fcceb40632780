use std::fs;
use std::path::{Path, PathBuf};

use super::paths::{module_compression, release_key};
use super::*;
use crate::checksum::sha256_hex;
use crate::kernel::{KernelError, Source};
use crate::scratch::Scratch;
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

#[test]
fn entries_of_an_older_format_are_refused_as_outdated() {
    let (_scratch, cache, unpacked) = fixture();
    let kernel = cache.install(&unpacked).unwrap();
    let json = kernel.vmlinux.path.parent().unwrap().join("kernel.json");
    let mut record: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    assert_eq!(record["format"], FORMAT);
    record.as_object_mut().unwrap().remove("format");
    fs::write(&json, serde_json::to_vec(&record).unwrap()).unwrap();
    let err = cache.latest().unwrap_err();
    assert!(
        matches!(err, KernelError::CacheOutdated { found: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("virtio modules"), "{err}");
    // Without a fetch, resolving says what to do instead of failing on the cache.
    let err = crate::kernel::resolve(None, &cache, false, &mut |_| {}).unwrap_err();
    assert!(matches!(err, KernelError::NotAvailable(_)), "{err}");
    assert!(err.to_string().contains("fetch the kernel again"), "{err}");
}

#[test]
fn an_outdated_entry_still_loads_when_asked_to() {
    let (_scratch, cache, unpacked) = fixture();
    let kernel = cache.install(&unpacked).unwrap();
    let json = kernel.vmlinux.path.parent().unwrap().join("kernel.json");
    let mut record: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    record["format"] = 1.into();
    fs::write(&json, serde_json::to_vec(&record).unwrap()).unwrap();
    assert!(cache.load("6.1.0-test").is_err());
    let old = cache.load_outdated("6.1.0-test").unwrap();
    assert_eq!(old.vmlinux, kernel.vmlinux);
}
