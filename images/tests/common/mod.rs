//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use vmlab_images::builder::{self, BuildOptions};
use vmlab_images::manifest::Manifest;
use vmlab_images::scratch::Scratch;

/// A scratch directory under the system temp dir, removed on drop.
pub fn scratch(name: &str) -> Scratch {
    Scratch::new_in(&std::env::temp_dir(), name).expect("temp dir")
}

/// Builds every artifact (no kernel) into `scratch/out`.
pub fn build_into(scratch: &Scratch, epoch: u64) -> (std::path::PathBuf, Manifest) {
    let out = scratch.path().join("out");
    let opts = BuildOptions {
        out: out.clone(),
        epoch,
    };
    let manifest = builder::build(&opts, None).expect("build");
    (out, manifest)
}

/// Every entry under `dir`: relative path -> (mode, sha256 or link target).
pub fn tree(dir: &Path) -> BTreeMap<String, (u32, String)> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, path: &Path, out: &mut BTreeMap<String, (u32, String)>) {
    let meta = fs::symlink_metadata(path).unwrap();
    let rel = path
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mode = meta.permissions().mode();
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path).unwrap().to_string_lossy().into_owned();
        out.insert(rel, (mode, target));
    } else if meta.is_dir() {
        out.insert(rel, (mode, String::new()));
        for entry in fs::read_dir(path).unwrap() {
            walk(root, &entry.unwrap().path(), out);
        }
    } else {
        let sha = vmlab_images::checksum::sha256_file(path).unwrap();
        out.insert(rel, (mode, sha));
    }
}

/// The error and its sources, joined with ": ".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
