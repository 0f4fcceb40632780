//! The non-OCI peers: bubblewrap over the rootfs directory, QEMU's microvm
//! machine and Firecracker with the cached guest kernel and the workload
//! initramfs. Like the OCI runtimes, each is timed from its spawn to the
//! workload's ready line on its stdout (the serial console for the VMs) and
//! to its reaping.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use vmlab_reports::model::KvmKind;

use super::backend::{Backend, Prepared, Sample, SkipReason};
use super::private;
use super::probe::HostView;
use crate::id::BackendId;
use crate::io::Link;

/// The isolation flags compare gives bwrap: every namespace it can make,
/// no seccomp filter, every capability dropped (bwrap started by root
/// keeps root's capabilities otherwise, which the attack battery showed:
/// `/proc/sys/kernel/core_pattern`, host-wide, opened for writing).
pub const BWRAP_ISOLATION: [&str; 4] = ["--unshare-all", "--die-with-parent", "--cap-drop", "ALL"];

/// The kernel command line of the peer VMs (before `--` and the workload's
/// arguments). No `VMLAB_PORT`: the workload reports on the console only.
pub const VM_CMDLINE: &str = "console=ttyS0 reboot=k panic=-1 quiet tsc=reliable";

/// Guest memory of the peer VMs, MiB (as `vmlab run`'s default).
const VM_MEM_MIB: u32 = 256;

/// bubblewrap with every namespace over the built rootfs.
#[derive(Debug, Clone)]
pub struct Bwrap {
    images: PathBuf,
    path: Option<PathBuf>,
}

impl Bwrap {
    /// bwrap as `host` found it, on the rootfs in `images`.
    pub fn new(images: PathBuf, host: &HostView) -> Self {
        Bwrap {
            images,
            path: path_of(host, BackendId::Bwrap),
        }
    }
}

/// Where `host` found peer `id`'s program.
pub fn path_of(host: &HostView, id: BackendId) -> Option<PathBuf> {
    host.peer(id).and_then(|p| p.path.clone())
}

impl Backend for Bwrap {
    fn id(&self) -> BackendId {
        BackendId::Bwrap
    }

    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>> {
        self.prepare(args, None)
    }

    fn io(&self) -> Result<super::io::Reach, SkipReason> {
        Ok(super::io::Reach::ALL)
    }

    fn io_command(&self, args: &[String], disk: &std::path::Path) -> anyhow::Result<Prepared<'_>> {
        self.prepare(args, Some(disk))
    }

    fn new_netns(&self) -> bool {
        true
    }
}

impl Bwrap {
    /// A boot with `args`; with `io`, for the I/O kernels: the network
    /// namespace it is spawned in shared (`--share-net`), the disk file
    /// `io` bound read-write on the tmpfs.
    fn prepare(
        &self,
        args: &[String],
        io: Option<&std::path::Path>,
    ) -> anyhow::Result<Prepared<'_>> {
        let path = self.path.as_ref().context("bwrap is not installed")?;
        let rootfs = std::path::absolute(self.images.join("rootfs"))?;
        let mut cmd = Command::new(path);
        cmd.args(BWRAP_ISOLATION)
            .arg("--ro-bind")
            .arg(&rootfs)
            .args(["/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]);
        if let Some(disk) = io {
            cmd.arg("--share-net")
                .arg("--bind")
                .arg(disk)
                .arg(crate::io::disk::INSIDE);
        }
        cmd.arg("/init").args(args);
        if io.is_some() {
            cmd.args(["--disk", crate::io::disk::INSIDE]);
        }
        Ok(Prepared::new(cmd))
    }
}

/// The guest kernel and initramfs the peer VMs boot, from the images' manifest.
#[derive(Debug, Clone)]
pub struct VmImage {
    /// bzImage (QEMU) or vmlinux.
    pub bzimage: PathBuf,
    /// The uncompressed kernel ELF (Firecracker).
    pub vmlinux: PathBuf,
    /// The initramfs (gzip).
    pub initramfs: PathBuf,
}

impl VmImage {
    /// The kernel recorded in the manifest of `images`, with its initramfs.
    pub fn of(images: &std::path::Path) -> Result<VmImage, SkipReason> {
        let m = vmlab_images::manifest::Manifest::read(images)
            .map_err(|e| SkipReason(e.to_string()))?;
        let k = m.kernel.ok_or_else(|| {
            SkipReason(format!(
                "no guest kernel in the images; {}",
                vmlab_images::kernel::HOW_TO_GET_ONE
            ))
        })?;
        Ok(VmImage {
            bzimage: k.bzimage.map_or(k.vmlinux.path.clone(), |b| b.path),
            vmlinux: k.vmlinux.path,
            initramfs: images.join(&m.initramfs_gz.path),
        })
    }
}

/// QEMU's microvm machine: KVM when it is hardware, else TCG (emulated).
#[derive(Debug, Clone)]
pub struct Qemu {
    pub(super) images: PathBuf,
    pub(super) path: Option<PathBuf>,
    kvm: KvmKind,
    quick: bool,
}

impl Qemu {
    /// qemu-system-x86_64 as `host` found it; `quick` shortens the timeout.
    pub fn new(images: PathBuf, host: &HostView, quick: bool) -> Self {
        Qemu {
            images,
            path: path_of(host, BackendId::Qemu),
            kvm: host.host.kvm,
            quick,
        }
    }

    fn tcg(&self) -> bool {
        self.kvm != KvmKind::Hardware
    }

    /// The command line for one boot.
    pub fn command(&self, path: &std::path::Path, image: &VmImage, args: &[String]) -> Command {
        let (accel, cpu) = if self.tcg() {
            ("tcg", "max")
        } else {
            ("kvm", "host")
        };
        let mut cmd = Command::new(path);
        cmd.arg("-M")
            .arg(format!("microvm,accel={accel}"))
            .args(["-cpu", cpu, "-smp", "1", "-m"])
            .arg(VM_MEM_MIB.to_string())
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot", "-serial", "stdio", "-kernel"])
            .arg(&image.bzimage)
            .arg("-initrd")
            .arg(&image.initramfs)
            .arg("-append")
            .arg(self.cmdline(args));
        cmd
    }

    /// The kernel command line. Under TCG the guest's TSC runs at the
    /// host's rate, and the kernel is told so: its PIT calibration fails
    /// now and then on a loaded host, and the boot then stalls.
    fn cmdline(&self, args: &[String]) -> String {
        let mut line = VM_CMDLINE.to_string();
        if let Some(khz) = self.tcg().then(host_tsc_khz).flatten() {
            line.push_str(&format!(" tsc_early_khz={khz}"));
        }
        with_args(line, args)
    }
}

/// The host CPU's clock in kHz, from /proc/cpuinfo's `cpu MHz`.
fn host_tsc_khz() -> Option<u64> {
    cpu_mhz_khz(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// `cpu MHz` of /proc/cpuinfo text, in kHz.
fn cpu_mhz_khz(cpuinfo: &str) -> Option<u64> {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "cpu MHz").then(|| v.trim().parse::<f64>().ok())?
        })
        .map(|mhz| (mhz * 1000.0).round() as u64)
}

/// The guest kernel command line for `args`.
pub fn cmdline(args: &[String]) -> String {
    with_args(VM_CMDLINE.to_string(), args)
}

/// `line`, then `--` and the workload's arguments, if any.
fn with_args(mut line: String, args: &[String]) -> String {
    if !args.is_empty() {
        line.push_str(" -- ");
        line.push_str(&args.join(" "));
    }
    line
}

impl Backend for Qemu {
    fn id(&self) -> BackendId {
        BackendId::Qemu
    }

    fn check_images(&self) -> Result<(), SkipReason> {
        VmImage::of(&self.images).map(drop)
    }

    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>> {
        let path = self
            .path
            .as_ref()
            .context("qemu-system-x86_64 is not installed")?;
        let image = VmImage::of(&self.images).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Prepared::new(Qemu::command(self, path, &image, args)))
    }

    fn io(&self) -> Result<super::io::Reach, SkipReason> {
        super::qemu_io::reach(&self.images)
    }

    fn io_boot(&self, a: &[String], disk: &Path, link: &Link) -> anyhow::Result<Sample> {
        super::qemu_io::boot(self, a, disk, link)
    }

    fn untraceable(&self) -> Option<String> {
        self.tcg()
            .then(|| "QEMU runs the guest under TCG here: no KVM_RUN to count from".to_string())
    }

    fn max_runs(&self) -> Option<u32> {
        self.tcg().then_some(3)
    }

    fn timeout(&self) -> Duration {
        if self.tcg() {
            Duration::from_secs(if self.quick { 45 } else { 120 })
        } else {
            Duration::from_secs(30)
        }
    }
}

/// Firecracker with the same kernel (vmlinux) and initramfs, when installed.
#[derive(Debug, Clone)]
pub struct Firecracker {
    images: PathBuf,
    path: Option<PathBuf>,
}

impl Firecracker {
    /// firecracker as `host` found it.
    pub fn new(images: PathBuf, host: &HostView) -> Self {
        Firecracker {
            images,
            path: path_of(host, BackendId::Firecracker),
        }
    }
}

/// Firecracker's `--config-file` for one boot.
pub fn firecracker_config(image: &VmImage, args: &[String]) -> serde_json::Value {
    serde_json::json!({
        "boot-source": {
            "kernel_image_path": image.vmlinux,
            "initrd_path": image.initramfs,
            "boot_args": cmdline(args),
        },
        "drives": [],
        "machine-config": { "vcpu_count": 1, "mem_size_mib": VM_MEM_MIB },
    })
}

/// `config` written as `config.json` in a new private directory: the
/// directory's guard (keep it until firecracker has exited) and the file.
pub fn write_config(config: &serde_json::Value) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
    let dir = private::dir()?;
    let file = dir.path().join("config.json");
    private::write_new(&file, config.to_string().as_bytes())?;
    Ok((dir, file))
}

impl Backend for Firecracker {
    fn id(&self) -> BackendId {
        BackendId::Firecracker
    }

    fn check_images(&self) -> Result<(), SkipReason> {
        VmImage::of(&self.images).map(drop)
    }

    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>> {
        let path = self.path.as_ref().context("firecracker is not installed")?;
        let image = VmImage::of(&self.images).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (dir, file) = write_config(&firecracker_config(&image, args))?;
        let mut cmd = Command::new(path);
        cmd.args(["--no-api", "--config-file"]).arg(&file);
        Ok(Prepared::new(cmd).keeping(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> VmImage {
        VmImage {
            bzimage: "/k/vmlinuz".into(),
            vmlinux: "/k/vmlinux".into(),
            initramfs: "/i/initramfs.cpio.gz".into(),
        }
    }

    #[test]
    fn qemu_uses_tcg_without_hardware_kvm() {
        let q = Qemu {
            images: "/i".into(),
            path: None,
            kvm: KvmKind::PvmSoftwareNested,
            quick: true,
        };
        let c = q.command("/q".as_ref(), &image(), &["cpu".into()]);
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.contains(&"microvm,accel=tcg".to_string()));
        let line = args.last().unwrap();
        assert!(
            line.starts_with(VM_CMDLINE) && line.ends_with(" -- cpu"),
            "{line}"
        );
        assert_eq!(
            cpu_mhz_khz("model name\t: X\ncpu MHz\t\t: 2596.150\n"),
            Some(2_596_150)
        );
        assert_eq!(cpu_mhz_khz(""), None);
        assert_eq!(q.max_runs(), Some(3));
        assert!(q.check_images().is_err(), "no manifest in /i");
    }

    #[test]
    fn firecracker_configs_ignore_links_planted_at_the_old_paths() {
        let old: Vec<PathBuf> = (0..16)
            .map(|n| std::env::temp_dir().join(format!("vmlab-fc-{}-{n}.json", std::process::id())))
            .collect();
        let planted = private::planted::Planted::links(&old);
        let config = firecracker_config(&image(), &["cpu".into()]);
        let (dir, file) = write_config(&config).unwrap();
        assert!(!planted.covers(&file), "{}", file.display());
        assert_eq!(file, dir.path().join("config.json"));
        private::planted::assert_private(dir.path(), &["config.json"]);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), config.to_string());
        planted.untouched().unwrap();
        drop(dir);
        assert!(!file.exists());
        // Positive control: the old `fs::write` at the old path follows the link.
        std::fs::write(&old[3], config.to_string()).unwrap();
        assert!(planted.untouched().is_err());
    }

    #[test]
    fn firecracker_boots_the_same_kernel() {
        let c = firecracker_config(&image(), &[]);
        assert_eq!(c["boot-source"]["kernel_image_path"], "/k/vmlinux");
        assert_eq!(c["boot-source"]["boot_args"], VM_CMDLINE);
    }
}
