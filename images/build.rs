//! Builds the workload binary and the bare guest with a nested `cargo build`
//! and hands their paths to the library, which embeds them
//! (`vmlab_images::embedded`).
//!
//! Why nested: the workload must be an optimized static binary and the guest
//! a freestanding ELF whatever profile the outer build uses, and a library
//! cannot depend on a binary. The nested build runs from the workspace root
//! (so `.cargo/config.toml` applies: explicit target, `+crt-static`), always
//! in release, stripped, with its own target directory next to the outer one.
//! Variables of the outer build that would leak into it (wrappers such as
//! clippy-driver, rustflags, target directory) are removed.
use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target both binaries are built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Environment variables of the outer build that must not reach the nested one.
const LEAKY_VARS: &[&str] = &[
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "RUSTC_LINKER",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let workspace = manifest_dir
        .parent()
        .expect("images/ lives inside the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));

    for path in [
        "images/workload/src",
        "images/workload/Cargo.toml",
        "images/guest/src",
        "images/guest/Cargo.toml",
        "images/guest/build.rs",
        "images/guest/link.ld",
        "Cargo.lock",
        "Cargo.toml",
        ".cargo/config.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    let outer = outer_target_dir(&out_dir);
    // The workload: an ordinary optimized static binary.
    let workload_target = outer.join("vmlab-nested");
    nested_build(&workspace, &workload_target, "vmlab-workload", &[]);
    // The bare guest: without SSE. On software nested KVM every guest
    // instruction goes through KVM's emulator, which lacks most SSE
    // instructions; its own target directory keeps the flags apart.
    let guest_target = outer.join("vmlab-nested-guest");
    nested_build(
        &workspace,
        &guest_target,
        "vmlab-guest",
        &["target.x86_64-unknown-linux-gnu.rustflags=[\"-C\", \"target-feature=-sse,-sse2\"]"],
    );

    for (target, name, var) in [
        (
            &workload_target,
            "vmlab-workload",
            "VMLAB_EMBEDDED_WORKLOAD",
        ),
        (&guest_target, "vmlab-guest", "VMLAB_EMBEDDED_GUEST"),
    ] {
        let dest = out_dir.join(name);
        copy(&target.join(TARGET).join("release").join(name), &dest);
        println!("cargo:rustc-env={var}={}", dest.display());
    }
}

/// Builds binary `package` (same name) of the workspace in release into `target_dir`.
fn nested_build(workspace: &Path, target_dir: &Path, package: &str, extra_config: &[&str]) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "--release", "--target", TARGET])
        .args(["-p", package, "--bin", package])
        .args(["--config", "profile.release.strip=\"symbols\""])
        .args(["--config", "profile.release.debug=false"])
        .arg("--target-dir")
        .arg(target_dir);
    for c in extra_config {
        cmd.args(["--config", c]);
    }
    for var in LEAKY_VARS {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("DEP_")
            || key.starts_with("CARGO_FEATURE_")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    if env::var("RUSTC").is_ok_and(|rustc| rustc.contains("clippy")) {
        cmd.env_remove("RUSTC");
    }

    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("vmlab-images: cannot run the nested cargo build: {e}"));
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        panic!(
            "vmlab-images: the nested build of {package} failed ({}); its output is above",
            output.status
        );
    }
}

/// The outer build's target directory: `CARGO_TARGET_DIR` when set, else the
/// nearest ancestor of `OUT_DIR` that cargo tagged with `CACHEDIR.TAG`
/// (above the per-target directory), else `OUT_DIR` itself.
fn outer_target_dir(out_dir: &Path) -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        if dir.is_absolute() {
            return dir;
        }
    }
    let tagged = |dir: &&Path| dir.join("CACHEDIR.TAG").is_file();
    let nearest = out_dir.ancestors().find(tagged).unwrap_or(out_dir);
    // With an explicit target, `<target dir>/<triple>/` is tagged too.
    match nearest.parent() {
        Some(parent) if nearest.ends_with(TARGET) && tagged(&parent) => parent.to_path_buf(),
        _ => nearest.to_path_buf(),
    }
}

fn copy(from: &Path, to: &Path) {
    if let Err(e) = fs::copy(from, to) {
        panic!(
            "vmlab-images: cannot copy the nested build output {} to {}: {e}",
            from.display(),
            to.display()
        );
    }
}
