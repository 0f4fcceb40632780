//! The bare guest on a stock VMM: QEMU's microvm machine loads the same ELF
//! vm-bare boots (`guest.elf`, through its PVH note) on the same KVM, so the
//! two differ only in the VMM. Timed like the other peers, from the spawn
//! to the ready line on QEMU's stdout (the guest's COM1); the guest's exit
//! code comes back through QEMU's `isa-debug-exit` device, which ends QEMU
//! with status `code << 1 | 1`.
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use vmlab_reports::model::KvmKind;

use super::backend::{sample_of, Backend, Prepared, Sample, SkipReason};
use super::launch::{launch_with, Launched};
use super::peers::path_of;
use super::probe::HostView;
use crate::id::BackendId;

/// Guest memory, MiB (as `vmlab run --backend vm-bare`'s default).
const MEM_MIB: u32 = 256;

/// The debug-exit device: the guest's exit port (0xf4, 4 bytes wide).
const DEBUG_EXIT: &str = "isa-debug-exit,iobase=0xf4,iosize=0x04";

/// QEMU microvm with the bare guest.
#[derive(Debug, Clone)]
pub struct QemuBare {
    images: PathBuf,
    path: Option<PathBuf>,
    kvm: KvmKind,
    kvm_usable: bool,
}

impl QemuBare {
    /// qemu-system-x86_64 as `host` found it, on the guest in `images`.
    pub fn new(images: PathBuf, host: &HostView) -> Self {
        QemuBare {
            images,
            path: path_of(host, BackendId::QemuBare),
            kvm: host.host.kvm,
            kvm_usable: host.host.kvm != KvmKind::None && host.kvm_open_error.is_none(),
        }
    }

    fn guest(&self) -> PathBuf {
        self.images.join(vmlab_images::manifest::GUEST)
    }

    /// The accelerator and CPU model: KVM wherever vm-bare has it (`-cpu
    /// host` on hardware; `qemu64` on software nested KVM, whose MSRs abort
    /// `host` and `max`), TCG without a usable /dev/kvm.
    fn accel(&self) -> (&'static str, &'static str) {
        match (self.kvm_usable, self.kvm) {
            (false, _) => ("tcg", "max"),
            (true, KvmKind::Hardware) => ("kvm", "host"),
            (true, _) => ("kvm", "qemu64"),
        }
    }

    /// The command line for one boot with the workload's `args`.
    pub fn command_line(&self, path: &std::path::Path, args: &[String]) -> Command {
        let (accel, cpu) = self.accel();
        let mut cmd = Command::new(path);
        cmd.arg("-M")
            .arg(format!("microvm,accel={accel}"))
            .args(["-cpu", cpu, "-smp", "1", "-m"])
            .arg(MEM_MIB.to_string())
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot", "-serial", "stdio", "-device", DEBUG_EXIT])
            .arg("-kernel")
            .arg(self.guest())
            .arg("-append")
            .arg(args.join(" "));
        cmd
    }
}

/// The guest's exit code from QEMU's status under `isa-debug-exit`; `None`
/// when QEMU ended otherwise (status 0: it quit or the guest reset, as
/// `-no-reboot` turns a reset into an exit). A status has 8 bits, so codes
/// above 127 come back modulo 128 (compare's boots exit 0).
pub fn guest_code(qemu_status: i32) -> Option<i32> {
    (qemu_status & 1 == 1).then_some(qemu_status >> 1)
}

/// `l` with QEMU's status turned into the guest's exit code.
fn with_guest_code(mut l: Launched) -> anyhow::Result<Launched> {
    if let Some(status) = l.code {
        match guest_code(status) {
            Some(code) => l.code = Some(code),
            None => anyhow::bail!(
                "qemu-bare: QEMU exited with status {status} without the guest's exit code \
                 (the guest reset, or QEMU stopped on its own); console: {}",
                l.stdout.lines().last().unwrap_or("")
            ),
        }
    }
    Ok(l)
}

impl Backend for QemuBare {
    fn id(&self) -> BackendId {
        BackendId::QemuBare
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
        let path = self
            .path
            .as_ref()
            .context("qemu-system-x86_64 is not installed")?;
        Ok(Prepared::new(self.command_line(path, args)))
    }

    fn boot(&self, args: &[String], memory: bool) -> anyhow::Result<Sample> {
        let timeout = self.timeout();
        let mut prepared = Backend::command(self, args)?;
        let l = with_guest_code(launch_with(&mut prepared.cmd, timeout, memory)?)?;
        sample_of("qemu-bare", l, timeout)
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

    fn qemu(kvm: KvmKind, kvm_usable: bool) -> QemuBare {
        QemuBare {
            images: "/i".into(),
            path: None,
            kvm,
            kvm_usable,
        }
    }

    fn line(q: &QemuBare) -> String {
        let cmd = q.command_line(
            "/usr/bin/qemu".as_ref(),
            &["cpu".into(), "--exit".into(), "0".into()],
        );
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn the_same_kvm_as_vm_bare_and_the_same_guest() {
        let pvm = line(&qemu(KvmKind::PvmSoftwareNested, true));
        assert!(
            pvm.contains("microvm,accel=kvm") && pvm.contains("-cpu qemu64"),
            "{pvm}"
        );
        assert!(pvm.contains("-kernel /i/guest.elf") && pvm.ends_with("-append cpu --exit 0"));
        assert!(pvm.contains(DEBUG_EXIT), "{pvm}");
        let hw = line(&qemu(KvmKind::Hardware, true));
        assert!(hw.contains("accel=kvm") && hw.contains("-cpu host"), "{hw}");
        let none = line(&qemu(KvmKind::None, false));
        assert!(none.contains("accel=tcg"), "{none}");
        // A /dev/kvm that does not open is no KVM for QEMU either.
        let closed = line(&qemu(KvmKind::Hardware, false));
        assert!(closed.contains("accel=tcg"), "{closed}");
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
