//! QEMU's I/O rounds: the Linux guest boots the initramfs with the virtio
//! modules (`initramfs-io.cpio.gz`) on microvm with a virtio-net device on
//! its VM link's TAP (bridged to the veth end, see
//! [`crate::io::link::Subnet::vm_instance_batch`]) and a virtio-blk device
//! on the run's disk file, both on microvm's virtio-mmio transport (the
//! one vmlab's VMM has too), which QEMU announces in its ACPI tables. The
//! disk is opened with `cache=none` (`O_DIRECT` on the host, as the plain
//! process opens it) and native AIO. The workload, as PID 1, loads the
//! modules, gives `eth0` the link's instance address (`--addr`) and runs
//! the kernels on `/dev/vda`. Under TCG (every host without hardware
//! KVM) the figures are emulated, as all of QEMU's are there.
use std::path::Path;
use std::process::Command;

use super::backend::{sample_of, Sample, SkipReason};
use super::io::Reach;
use super::peers::{Qemu, VmImage};
use crate::io::Link;

/// The guest's disk device: the one virtio-blk device.
pub const GUEST_DISK: &str = "/dev/vda";

/// The images QEMU boots for the I/O kernels: the usual kernel, the
/// initramfs with the virtio modules.
pub fn image(images: &Path) -> Result<VmImage, SkipReason> {
    let mut image = VmImage::of(images)?;
    let m =
        vmlab_images::manifest::Manifest::read(images).map_err(|e| SkipReason(e.to_string()))?;
    match (m.initramfs_io, m.initramfs_io_missing) {
        (Some((_, gz)), _) => image.initramfs = images.join(gz.path),
        (None, why) => {
            return Err(SkipReason(format!(
                "the images have no initramfs with the guest kernel's virtio modules ({}); \
                 build them again with the cached Debian kernel",
                why.unwrap_or_else(|| "built by an older vmlab".into())
            )))
        }
    }
    Ok(image)
}

/// Whether QEMU runs the I/O kernels with these images: all four, as a VM
/// (its link has a TAP for it).
pub fn reach(images: &Path) -> Result<Reach, SkipReason> {
    image(images).map(|_| Reach::VM)
}

/// The workload's arguments inside the guest: `args`, the disk and the
/// address of `eth0`.
pub fn guest_args(args: &[String], addr: &str) -> Vec<String> {
    let mut args = args.to_vec();
    args.extend([
        "--disk".into(),
        GUEST_DISK.into(),
        "--addr".into(),
        addr.into(),
    ]);
    args
}

/// The device options: the TAP `tap` (QEMU runs in its namespace), `disk`.
pub fn device_args(cmd: &mut Command, tap: &str, disk: &Path) {
    cmd.arg("-netdev")
        .arg(format!("tap,id=net0,ifname={tap},script=no,downscript=no"))
        .args(["-device", "virtio-net-device,netdev=net0", "-drive"])
        .arg(format!(
            "file={},if=none,id=disk0,format=raw,cache=none,aio=native",
            disk.display()
        ))
        .args(["-device", "virtio-blk-device,drive=disk0"]);
}

/// One run of the I/O kernels with `args` in `link`'s namespace on `disk`.
pub fn boot(q: &Qemu, args: &[String], disk: &Path, link: &Link) -> anyhow::Result<Sample> {
    use super::backend::Backend;
    let path = q
        .path
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("qemu-system-x86_64 is not installed"))?;
    let image = image(&q.images).map_err(|e| anyhow::anyhow!("{e}"))?;
    let subnet = link.subnet();
    let mut cmd = q.command(path, &image, &guest_args(args, &subnet.guest_addr()));
    device_args(&mut cmd, &subnet.tap_if(), disk);
    link.enter_on_spawn(&mut cmd)?;
    let timeout = q.timeout();
    let launched = super::launch::launch_with(&mut cmd, timeout, false);
    drop(cmd);
    sample_of(q.name(), launched?, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guest_gets_the_disk_the_address_and_both_devices() {
        let args = guest_args(&["net-rr".into()], "10.77.2.2/24");
        assert_eq!(
            args,
            ["net-rr", "--disk", "/dev/vda", "--addr", "10.77.2.2/24"]
        );
        let mut cmd = Command::new("q");
        device_args(&mut cmd, "vt2", Path::new("/tmp/d.img"));
        let line: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let line = line.join(" ");
        assert!(line.contains(
            "-netdev tap,id=net0,ifname=vt2,script=no,downscript=no \
             -device virtio-net-device,netdev=net0"
        ));
        assert!(line.contains("file=/tmp/d.img,if=none,id=disk0,format=raw,cache=none,aio=native"));
        assert!(
            line.ends_with("-device virtio-blk-device,drive=disk0"),
            "{line}"
        );
        let e = reach(Path::new("/nonexistent")).unwrap_err();
        assert!(e.0.contains("manifest") || e.0.contains("images"), "{e}");
    }
}
