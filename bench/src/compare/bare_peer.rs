//! The bare guest on stock VMMs: QEMU's microvm machine, Firecracker and
//! Cloud Hypervisor load the same ELF vm-bare boots (`guest.elf`, through
//! its PVH note) on the same KVM, so that they differ from vm-bare only in
//! the VMM. Timed like the other peers, from the spawn to the ready line on
//! the VMM's stdout (the guest's COM1). The guest's exit code comes back
//! through QEMU's `isa-debug-exit` device (QEMU then ends with status
//! `code << 1 | 1`); Firecracker and Cloud Hypervisor end the VM when the
//! guest resets through the i8042 or powers off through ACPI, and the code
//! is read from the guest's exit line on the console.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use vmlab_reports::model::KvmKind;
use vmlab_workload_host::protocol::Line;

use super::backend::{sample_of, Backend, Prepared, Sample, SkipReason};
use super::launch::{launch_with, Launched};
use super::peers::{path_of, write_config};
use super::probe::HostView;
use crate::id::BackendId;

/// Guest memory, MiB (as `vmlab run --backend vm-bare`'s default).
const MEM_MIB: u32 = 256;

/// QEMU's debug-exit device: the guest's exit port (0xf4, 4 bytes wide).
const DEBUG_EXIT: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";

/// Which stock VMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockVmm {
    /// qemu-system-x86_64 -M microvm.
    Qemu,
    /// firecracker --no-api --config-file.
    Firecracker,
    /// cloud-hypervisor --kernel.
    CloudHypervisor,
}

impl StockVmm {
    /// The backend it is.
    pub fn id(self) -> BackendId {
        match self {
            StockVmm::Qemu => BackendId::QemuBare,
            StockVmm::Firecracker => BackendId::FirecrackerBare,
            StockVmm::CloudHypervisor => BackendId::CloudHypervisorBare,
        }
    }
}

/// A stock VMM with the bare guest.
#[derive(Debug, Clone)]
pub struct BarePeer {
    vmm: StockVmm,
    images: PathBuf,
    path: Option<PathBuf>,
    kvm: KvmKind,
    kvm_usable: bool,
}

impl BarePeer {
    /// `vmm` as `host` found it, on the guest in `images`.
    pub fn new(vmm: StockVmm, images: PathBuf, host: &HostView) -> Self {
        BarePeer {
            vmm,
            images,
            path: path_of(host, vmm.id()),
            kvm: host.host.kvm,
            kvm_usable: host.host.kvm != KvmKind::None && host.kvm_open_error.is_none(),
        }
    }

    fn guest(&self) -> PathBuf {
        std::path::absolute(self.images.join(vmlab_images::manifest::GUEST))
            .unwrap_or_else(|_| self.images.join(vmlab_images::manifest::GUEST))
    }

    /// QEMU's accelerator and CPU model: KVM wherever vm-bare has it (`-cpu
    /// host` on hardware; `qemu64` on software nested KVM, whose MSRs abort
    /// `host` and `max`), TCG without a usable /dev/kvm. (Firecracker and
    /// Cloud Hypervisor run on KVM only.)
    fn qemu_accel(&self) -> (&'static str, &'static str) {
        match (self.kvm_usable, self.kvm) {
            (false, _) => ("tcg", "max"),
            (true, KvmKind::Hardware) => ("kvm", "host"),
            (true, _) => ("kvm", "qemu64"),
        }
    }

    /// The command for one boot with the workload's `args`, and the
    /// directory it needs kept (Firecracker's config file).
    pub fn command_line(
        &self,
        path: &Path,
        args: &[String],
    ) -> anyhow::Result<(Command, Option<tempfile::TempDir>)> {
        let mut cmd = Command::new(path);
        let cmdline = args.join(" ");
        match self.vmm {
            StockVmm::Qemu => {
                let (accel, cpu) = self.qemu_accel();
                cmd.arg("-M")
                    .arg(format!("microvm,accel={accel}"))
                    .args(["-cpu", cpu, "-smp", "1", "-m"])
                    .arg(MEM_MIB.to_string())
                    .args(["-nodefaults", "-no-user-config", "-display", "none"])
                    .args(["-no-reboot", "-serial", "stdio", "-device", DEBUG_EXIT])
                    .arg("-kernel")
                    .arg(self.guest())
                    .arg("-append")
                    .arg(cmdline);
                Ok((cmd, None))
            }
            StockVmm::Firecracker => {
                let config = serde_json::json!({
                    "boot-source": {
                        "kernel_image_path": self.guest(),
                        "boot_args": cmdline,
                    },
                    "drives": [],
                    "machine-config": { "vcpu_count": 1, "mem_size_mib": MEM_MIB },
                });
                let (dir, file) = write_config(&config)?;
                cmd.args(["--no-api", "--config-file"]).arg(&file);
                Ok((cmd, Some(dir)))
            }
            StockVmm::CloudHypervisor => {
                cmd.arg("--kernel")
                    .arg(self.guest())
                    .arg("--cmdline")
                    .arg(cmdline)
                    .args(["--cpus", "boot=1", "--memory"])
                    .arg(format!("size={MEM_MIB}M"))
                    .args(["--serial", "tty", "--console", "off"]);
                Ok((cmd, None))
            }
        }
    }
}

/// The guest's exit code from QEMU's status under `isa-debug-exit`; `None`
/// when QEMU ended otherwise (status 0: it quit or the guest reset, as
/// `-no-reboot` turns a reset into an exit). A status has 8 bits, so codes
/// above 127 come back modulo 128 (compare's boots exit 0).
pub fn guest_code(qemu_status: i32) -> Option<i32> {
    (qemu_status & 1 == 1).then_some(qemu_status >> 1)
}

/// The code of the guest's exit line among `lines`.
fn exit_line_code(lines: &[Line]) -> Option<i32> {
    lines.iter().rev().find_map(|l| match l {
        Line::Exit { code } => Some(i32::from(*code)),
        _ => None,
    })
}

/// `l` with the VMM's status turned into the guest's exit code.
fn with_guest_code(vmm: StockVmm, mut l: Launched) -> anyhow::Result<Launched> {
    let name = vmm.id().name();
    let Some(status) = l.code else {
        return Ok(l);
    };
    let code = match vmm {
        StockVmm::Qemu => guest_code(status),
        // These end with status 0 when the guest resets or powers off; a
        // non-zero status is the VMM's own failure, kept as it is.
        StockVmm::Firecracker | StockVmm::CloudHypervisor if status != 0 => Some(status),
        StockVmm::Firecracker | StockVmm::CloudHypervisor => exit_line_code(&l.vmlab_lines()),
    };
    match code {
        Some(code) => l.code = Some(code),
        None => anyhow::bail!(
            "{name}: the VMM exited with status {status} without the guest's exit code \
             (the guest reset before its exit line, or the VMM stopped on its own); \
             console: {}",
            l.stdout.lines().last().unwrap_or("")
        ),
    }
    Ok(l)
}

impl Backend for BarePeer {
    fn id(&self) -> BackendId {
        self.vmm.id()
    }

    fn check_images(&self) -> Result<(), SkipReason> {
        if self.guest().is_file() {
            Ok(())
        } else {
            Err(SkipReason(format!(
                "no bare guest at {} (run `vmlab images build`)",
                self.guest().display()
            )))
        }
    }

    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>> {
        let program = self.id().program().unwrap_or(self.name());
        let path = self
            .path
            .as_ref()
            .with_context(|| format!("{program} is not installed"))?;
        let (cmd, dir) = self.command_line(path, args)?;
        let prepared = Prepared::new(cmd);
        Ok(match dir {
            Some(dir) => prepared.keeping(dir),
            None => prepared,
        })
    }

    fn boot(&self, args: &[String], memory: bool) -> anyhow::Result<Sample> {
        let timeout = self.timeout();
        let mut prepared = Backend::command(self, args)?;
        let l = launch_with(&mut prepared.cmd, timeout, memory);
        drop(prepared);
        sample_of(self.name(), with_guest_code(self.vmm, l?)?, timeout)
    }

    fn untraceable(&self) -> Option<String> {
        (!self.kvm_usable)
            .then(|| "QEMU runs the guest under TCG here: no KVM_RUN to count from".to_string())
    }

    fn linux_kernels(&self) -> bool {
        false
    }

    fn max_runs(&self) -> Option<u32> {
        (!self.kvm_usable).then_some(5)
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(vmm: StockVmm, kvm: KvmKind, kvm_usable: bool) -> BarePeer {
        BarePeer {
            vmm,
            images: "/i".into(),
            path: None,
            kvm,
            kvm_usable,
        }
    }

    fn line(p: &BarePeer) -> String {
        let args = ["cpu".into(), "--exit".into(), "0".into()];
        let (cmd, _dir) = p.command_line("/usr/bin/vmm".as_ref(), &args).unwrap();
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn qemu_uses_the_same_kvm_as_vm_bare_and_the_same_guest() {
        let q = |kvm, usable| line(&peer(StockVmm::Qemu, kvm, usable));
        let pvm = q(KvmKind::PvmSoftwareNested, true);
        assert!(
            pvm.contains("microvm,accel=kvm") && pvm.contains("-cpu qemu64"),
            "{pvm}"
        );
        assert!(pvm.contains("-kernel /i/guest.elf") && pvm.ends_with("-append cpu --exit 0"));
        assert!(pvm.contains(DEBUG_EXIT), "{pvm}");
        let hw = q(KvmKind::Hardware, true);
        assert!(hw.contains("accel=kvm") && hw.contains("-cpu host"), "{hw}");
        assert!(q(KvmKind::None, false).contains("accel=tcg"));
        // A /dev/kvm that does not open is no KVM for QEMU either.
        assert!(q(KvmKind::Hardware, false).contains("accel=tcg"));
    }

    #[test]
    fn firecracker_gets_the_guest_and_the_arguments_in_its_config() {
        let p = peer(StockVmm::Firecracker, KvmKind::Hardware, true);
        let (cmd, dir) = p.command_line("/fc".as_ref(), &["cpu".into()]).unwrap();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        assert_eq!(args[..2], ["--no-api", "--config-file"]);
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&args[2]).unwrap()).unwrap();
        assert_eq!(config["boot-source"]["kernel_image_path"], "/i/guest.elf");
        assert_eq!(config["boot-source"]["boot_args"], "cpu");
        assert_eq!(config["machine-config"]["mem_size_mib"], MEM_MIB);
        drop(dir);
        assert!(
            !Path::new(&args[2]).exists(),
            "the config outlived its boot"
        );
    }

    #[test]
    fn cloud_hypervisor_gets_the_guest_memory_and_a_serial_tty() {
        let l = line(&peer(StockVmm::CloudHypervisor, KvmKind::Hardware, true));
        assert!(
            l.starts_with("--kernel /i/guest.elf --cmdline cpu --exit 0"),
            "{l}"
        );
        assert!(
            l.contains("--memory size=256M") && l.contains("--serial tty"),
            "{l}"
        );
    }

    #[test]
    fn the_guest_code_comes_from_an_odd_status_only() {
        assert_eq!(guest_code(1), Some(0));
        assert_eq!(guest_code(7), Some(3));
        assert_eq!(guest_code(255), Some(127));
        // QEMU's own exit (or a reset under -no-reboot) is not the guest's 0.
        assert_eq!(guest_code(0), None);
        assert_eq!(guest_code(2), None);
    }
}
