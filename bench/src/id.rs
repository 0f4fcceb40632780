//! Every backend vmlab knows, by one name: ours and the peers. `vmlab run`,
//! `vmlab compare`, `vmlab doctor` and the results all name a backend with a
//! [`BackendId`]; clap parses and lists the names from it.
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use vmlab_reports::model::BackendKind;

/// One backend, in report order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ValueEnum, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
#[value(rename_all = "kebab-case")]
pub enum BackendId {
    /// The workload as a plain process (the baseline).
    Process,
    /// vmlab's namespace sandbox.
    Sandbox,
    /// vmlab's VMM with the bare guest.
    VmBare,
    /// vmlab's VMM with a Linux guest and the workload initramfs.
    VmLinux,
    /// crun on the OCI bundle.
    Crun,
    /// runc on the OCI bundle.
    Runc,
    /// bubblewrap over the rootfs directory.
    Bwrap,
    /// gVisor's runsc on the OCI bundle.
    Runsc,
    /// QEMU's microvm machine with the Linux guest.
    Qemu,
    /// QEMU's microvm machine with the bare guest (through PVH), on the
    /// same KVM as vm-bare: what the VMM itself costs.
    QemuBare,
    /// Firecracker with the Linux guest.
    Firecracker,
    /// Firecracker with the bare guest (through PVH).
    FirecrackerBare,
    /// Cloud Hypervisor with the Linux guest.
    CloudHypervisor,
    /// Cloud Hypervisor with the bare guest (through PVH).
    CloudHypervisorBare,
}

impl BackendId {
    /// Every backend, in report order.
    pub const ALL: [BackendId; 14] = [
        BackendId::Process,
        BackendId::Sandbox,
        BackendId::VmBare,
        BackendId::VmLinux,
        BackendId::Crun,
        BackendId::Runc,
        BackendId::Bwrap,
        BackendId::Runsc,
        BackendId::Qemu,
        BackendId::QemuBare,
        BackendId::Firecracker,
        BackendId::FirecrackerBare,
        BackendId::CloudHypervisor,
        BackendId::CloudHypervisorBare,
    ];

    /// Its name on the command line and in results.
    pub fn name(self) -> &'static str {
        match self {
            BackendId::Process => "process",
            BackendId::Sandbox => "sandbox",
            BackendId::VmBare => "vm-bare",
            BackendId::VmLinux => "vm-linux",
            BackendId::Crun => "crun",
            BackendId::Runc => "runc",
            BackendId::Bwrap => "bwrap",
            BackendId::Runsc => "runsc",
            BackendId::Qemu => "qemu",
            BackendId::QemuBare => "qemu-bare",
            BackendId::Firecracker => "firecracker",
            BackendId::FirecrackerBare => "firecracker-bare",
            BackendId::CloudHypervisor => "cloud-hypervisor",
            BackendId::CloudHypervisorBare => "cloud-hypervisor-bare",
        }
    }

    /// Whether vmlab itself boots it (`vmlab run` knows it).
    pub fn is_ours(self) -> bool {
        matches!(
            self,
            BackendId::Process | BackendId::Sandbox | BackendId::VmBare | BackendId::VmLinux
        )
    }

    /// Ours, in report order.
    pub fn ours() -> impl Iterator<Item = BackendId> {
        BackendId::ALL.into_iter().filter(|b| b.is_ours())
    }

    /// The peers, in report order.
    pub fn peers() -> impl Iterator<Item = BackendId> {
        BackendId::ALL.into_iter().filter(|b| !b.is_ours())
    }

    /// Process, container or VM, as the results record it.
    pub fn kind(self) -> BackendKind {
        match self {
            BackendId::Process => BackendKind::Process,
            BackendId::Sandbox
            | BackendId::Crun
            | BackendId::Runc
            | BackendId::Bwrap
            | BackendId::Runsc => BackendKind::Container,
            BackendId::VmBare
            | BackendId::VmLinux
            | BackendId::Qemu
            | BackendId::QemuBare
            | BackendId::Firecracker
            | BackendId::FirecrackerBare
            | BackendId::CloudHypervisor
            | BackendId::CloudHypervisorBare => BackendKind::Vm,
        }
    }

    /// A peer's program, as looked up on PATH (None for ours).
    pub fn program(self) -> Option<&'static str> {
        match self {
            BackendId::Qemu | BackendId::QemuBare => Some("qemu-system-x86_64"),
            BackendId::FirecrackerBare => Some("firecracker"),
            BackendId::CloudHypervisor | BackendId::CloudHypervisorBare => Some("cloud-hypervisor"),
            b if b.is_ours() => None,
            b => Some(b.name()),
        }
    }

    /// Whether it boots a Linux guest kernel (which the images must hold).
    pub fn boots_linux_guest(self) -> bool {
        matches!(
            self,
            BackendId::VmLinux
                | BackendId::Qemu
                | BackendId::Firecracker
                | BackendId::CloudHypervisor
        )
    }

    /// Whether it can run emulated here rather than fail: the bare guest on
    /// software nested KVM (on any VMM), QEMU under TCG without hardware KVM.
    pub fn can_be_emulated(self) -> bool {
        matches!(
            self,
            BackendId::VmBare
                | BackendId::Qemu
                | BackendId::QemuBare
                | BackendId::FirecrackerBare
                | BackendId::CloudHypervisorBare
        )
    }

    /// How to install a peer (None for ours).
    pub fn install_hint(self) -> Option<&'static str> {
        Some(match self {
            BackendId::Crun => "apt-get install crun",
            BackendId::Runc => "apt-get install runc",
            BackendId::Bwrap => "apt-get install bubblewrap",
            BackendId::Runsc => "install gVisor's runsc (see gvisor.dev) and put it on PATH",
            BackendId::Qemu | BackendId::QemuBare => "apt-get install qemu-system-x86",
            BackendId::Firecracker | BackendId::FirecrackerBare => {
                "put a firecracker release binary on PATH"
            }
            BackendId::CloudHypervisor | BackendId::CloudHypervisorBare => {
                "put a cloud-hypervisor release binary (static) on PATH"
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for BackendId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_for_clap_serde_and_results() {
        for b in BackendId::ALL {
            let clap = b.to_possible_value().unwrap();
            assert_eq!(clap.get_name(), b.name());
            assert_eq!(serde_json::to_value(b).unwrap(), b.name());
            let back: BackendId = serde_json::from_value(b.name().into()).unwrap();
            assert_eq!(back, b);
            assert_eq!(BackendId::from_str(b.name(), false), Ok(b));
        }
        assert_eq!(BackendId::value_variants(), BackendId::ALL);
        assert!(BackendId::from_str("docker", false).is_err());
    }

    #[test]
    fn ours_and_peers_split_the_list() {
        let ours: Vec<_> = BackendId::ours().map(BackendId::name).collect();
        assert_eq!(ours, ["process", "sandbox", "vm-bare", "vm-linux"]);
        assert_eq!(BackendId::peers().count(), 10);
        for b in BackendId::ALL {
            assert_eq!(b.program().is_none(), b.is_ours(), "{b}");
            assert_eq!(b.install_hint().is_none(), b.is_ours(), "{b}");
        }
        assert_eq!(BackendId::Qemu.program(), Some("qemu-system-x86_64"));
        assert_eq!(BackendId::Bwrap.program(), Some("bwrap"));
        assert_eq!(BackendId::Sandbox.kind(), BackendKind::Container);
        assert_eq!(BackendId::Firecracker.kind(), BackendKind::Vm);
    }
}
