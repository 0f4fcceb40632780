//! Same inputs, same bytes: two builds give identical artifacts.
mod common;

use common::{build_into, scratch, tree};

#[test]
fn two_builds_are_byte_identical() {
    let (a, b) = (scratch("repro-a"), scratch("repro-b"));
    let (out_a, manifest_a) = build_into(&a, 0);
    let (out_b, manifest_b) = build_into(&b, 0);

    assert_eq!(manifest_a, manifest_b);
    assert_eq!(manifest_a.initramfs.sha256, manifest_b.initramfs.sha256);
    assert_eq!(
        manifest_a.initramfs_gz.sha256,
        manifest_b.initramfs_gz.sha256
    );
    assert_eq!(manifest_a.oci_digests, manifest_b.oci_digests);
    assert_eq!(manifest_a.bundle_config, manifest_b.bundle_config);

    // Every file, directory, mode and link of the two trees.
    let (tree_a, tree_b) = (tree(&out_a), tree(&out_b));
    assert!(tree_a.len() > 20, "{tree_a:?}");
    assert_eq!(tree_a, tree_b);
}

#[test]
fn the_epoch_is_what_changes_the_archives() {
    let (a, b) = (scratch("epoch-a"), scratch("epoch-b"));
    let (_, zero) = build_into(&a, 0);
    let (_, later) = build_into(&b, 1_700_000_000);
    assert_ne!(zero.initramfs.sha256, later.initramfs.sha256);
    assert_ne!(zero.oci_digests.layer, later.oci_digests.layer);
    assert_eq!(zero.workload, later.workload);
    assert_eq!(zero.bundle_config, later.bundle_config);
}

#[test]
fn nothing_is_left_behind_but_the_output() {
    let s = scratch("left");
    let (out, _) = build_into(&s, 0);
    // Rebuilding over an existing output replaces it.
    build_into(&s, 0);
    let names: Vec<String> = std::fs::read_dir(s.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out"]);
    assert!(out.join("manifest.json").is_file());
}
