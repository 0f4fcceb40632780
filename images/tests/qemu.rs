//! The initramfs boots the cached Debian kernel under QEMU (TCG, no KVM):
//! the workload runs as PID 1 and prints its ready mark on the serial
//! console. Skips (saying why) without qemu-system-x86_64 or a cached kernel,
//! and fails instead with `VMLAB_REQUIRE_QEMU=1`.
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{build_into, scratch};
use vmlab_images::kernel::Cache;
use vmlab_test_util::{gate, wait_with_limit};

#[test]
fn the_initramfs_boots_the_cached_kernel_under_qemu() {
    let qemu = "qemu-system-x86_64";
    let installed = Command::new(qemu)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !gate(
        installed,
        "VMLAB_REQUIRE_QEMU",
        "qemu-system-x86_64 is not installed",
    ) {
        return;
    }
    let kernel = Cache::default_location()
        .ok()
        .and_then(|c| c.latest().expect("an intact cache"));
    if !gate(
        kernel.is_some(),
        "VMLAB_REQUIRE_QEMU",
        "no kernel is cached (run `vmlab images build` first)",
    ) {
        return;
    }
    let kernel = kernel.unwrap();
    let bz = kernel.bzimage.expect("a cached kernel has its bzImage");
    let s = scratch("qemu");
    let (out, _) = build_into(&s, 0);

    let child = Command::new(qemu)
        .args(["-accel", "tcg", "-m", "256", "-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(&bz.path)
        .arg("-initrd")
        .arg(out.join("initramfs.cpio.gz"))
        .args(["-append", "console=ttyS0 panic=-1 quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let Some((status, console, _)) = wait_with_limit(child, Duration::from_secs(180)) else {
        panic!("{qemu} did not power off within 180 s");
    };
    assert!(status.success(), "{qemu}: {status}\n{console}");
    assert!(
        console.contains(r#"{"vmlab":"ready"}"#),
        "no ready mark on the console:\n{console}"
    );
}
