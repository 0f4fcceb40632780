//! Cloud Hypervisor with the cached guest kernel (its uncompressed ELF) and
//! the workload initramfs, when installed: timed like QEMU and Firecracker,
//! from the spawn to the ready line on its serial console. The workload
//! powers the guest off at the end, which Cloud Hypervisor turns into its
//! own exit.
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use super::backend::{Backend, Prepared, SkipReason};
use super::peers::{cmdline, path_of, VmImage};
use super::probe::HostView;
use crate::id::BackendId;

/// Guest memory, MiB (as the other peer VMs).
const MEM_MIB: u32 = 256;

/// cloud-hypervisor with the Linux guest.
#[derive(Debug, Clone)]
pub struct CloudHypervisor {
    images: PathBuf,
    path: Option<PathBuf>,
}

impl CloudHypervisor {
    /// cloud-hypervisor as `host` found it.
    pub fn new(images: PathBuf, host: &HostView) -> Self {
        CloudHypervisor {
            images,
            path: path_of(host, BackendId::CloudHypervisor),
        }
    }

    /// The command line for one boot of `image` with the workload's `args`.
    pub fn command_line(path: &std::path::Path, image: &VmImage, args: &[String]) -> Command {
        let mut cmd = Command::new(path);
        cmd.arg("--kernel")
            .arg(&image.vmlinux)
            .arg("--initramfs")
            .arg(&image.initramfs)
            .arg("--cmdline")
            .arg(cmdline(args))
            .args(["--cpus", "boot=1", "--memory"])
            .arg(format!("size={MEM_MIB}M"))
            .args(["--serial", "tty", "--console", "off"]);
        cmd
    }
}

impl Backend for CloudHypervisor {
    fn id(&self) -> BackendId {
        BackendId::CloudHypervisor
    }

    fn check_images(&self) -> Result<(), SkipReason> {
        VmImage::of(&self.images).map(drop)
    }

    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>> {
        let path = self
            .path
            .as_ref()
            .context("cloud-hypervisor is not installed")?;
        let image = VmImage::of(&self.images).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Prepared::new(Self::command_line(path, &image, args)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_elf_the_initramfs_and_the_workload_arguments() {
        let image = VmImage {
            bzimage: "/k/vmlinuz".into(),
            vmlinux: "/k/vmlinux".into(),
            initramfs: "/i/initramfs.cpio.gz".into(),
        };
        let cmd = CloudHypervisor::command_line("/ch".as_ref(), &image, &["cpu".into()]);
        let l: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let l = l.join(" ");
        assert!(l.starts_with("--kernel /k/vmlinux --initramfs /i/initramfs.cpio.gz --cmdline "));
        assert!(l.contains("console=ttyS0") && l.contains(" -- cpu "), "{l}");
        assert!(
            l.contains("--memory size=256M --serial tty --console off"),
            "{l}"
        );
    }
}
