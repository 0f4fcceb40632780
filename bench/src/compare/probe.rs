//! "Can this backend run here?", decided once: [`probe`] looks at a
//! [`HostView`] gathered once and says, for every [`BackendId`], whether the
//! host can run it and how. `vmlab compare` probes with it before booting
//! anything (each backend then checks its images), and `vmlab doctor`
//! builds its table from it, so the two cannot disagree.
use serde::Serialize;
use vmlab_reports::model::{BackendKind, CgroupMode, HostFacts, KvmKind, Tool};

use super::backend::{Probe, SkipReason};
use crate::host::{self, Peer};
use crate::id::BackendId;

/// What the probes look at.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    /// Host facts as `results.json` records them (KVM, cgroups, user namespaces).
    pub host: HostFacts,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Why user namespaces are (not) allowed.
    pub userns_reason: String,
    /// Why /dev/kvm does not open read-write (None when it does).
    pub kvm_open_error: Option<String>,
    /// Every peer, as found on PATH.
    #[serde(skip)]
    pub peers: Vec<Peer>,
}

impl HostView {
    /// Looks at this host (each peer's `--version` is asked, with a timeout).
    pub fn gather() -> HostView {
        HostView {
            host: host::facts(),
            euid: host::euid(),
            userns_reason: host::userns().1,
            kvm_open_error: host::kvm_openable().err(),
            peers: host::peers(),
        }
    }

    /// Whether vmlab runs as root.
    pub fn root(&self) -> bool {
        self.euid == Some(0)
    }

    /// What was found of peer `id`.
    pub fn peer(&self, id: BackendId) -> Option<&Peer> {
        self.peers.iter().find(|p| p.id == id)
    }

    /// The peers as the results record them.
    pub fn tools(&self) -> Vec<Tool> {
        let mut tools: Vec<Tool> = Vec::new();
        for t in self.peers.iter().map(Peer::tool) {
            // qemu and qemu-bare share one program.
            if !tools.iter().any(|have| have.name == t.name) {
                tools.push(t);
            }
        }
        tools
    }
}

/// Whether `id` can run on `host`, and what is worth knowing about how.
/// What a backend needs beyond the host (its images) it checks itself.
pub fn probe(id: BackendId, host: &HostView) -> Result<Probe, SkipReason> {
    if id.is_ours() {
        let mut p = ours(id, host)?;
        p.notes.push(
            "end to end: spawn of `vmlab run` to the ready mark (launch + in-process)".into(),
        );
        return Ok(p);
    }
    let peer = host.peer(id);
    let path = peer.and_then(|p| p.path.as_ref());
    if path.is_none() {
        let program = id.program().unwrap_or(id.name());
        return Err(SkipReason(format!(
            "{program} is not installed (not on PATH)"
        )));
    }
    if matches!(id, BackendId::Crun | BackendId::Runc | BackendId::Runsc) && !host.root() {
        return Err(SkipReason(format!(
            "{id} runs here as root only (vmlab compare is not root)"
        )));
    }
    if id.boots_linux_guest() && id != BackendId::Qemu {
        linux_guest(host.host.kvm)?;
    }
    if matches!(
        id,
        BackendId::FirecrackerBare | BackendId::CloudHypervisorBare
    ) {
        if host.host.kvm == KvmKind::None {
            return Err(SkipReason("/dev/kvm does not exist".into()));
        }
        if let Some(e) = &host.kvm_open_error {
            return Err(SkipReason(format!("cannot open /dev/kvm: {e}")));
        }
    }
    let version = match peer.map(|p| &p.version) {
        Some(Ok(v)) => v.clone(),
        Some(Err(why)) => return Err(SkipReason(why.clone())),
        None => return Err(SkipReason(format!("{id} was not looked up"))),
    };
    let tcg = match id {
        BackendId::Qemu => host.host.kvm != KvmKind::Hardware,
        BackendId::QemuBare => host.host.kvm == KvmKind::None || host.kvm_open_error.is_some(),
        _ => false,
    };
    let emulated = tcg || (id.kind() == BackendKind::Vm && host.host.kvm.is_software());
    Ok(Probe {
        version: Some(version),
        emulated,
        notes: peer_notes(id, host, tcg),
    })
}

/// The host checks of our backends.
fn ours(id: BackendId, host: &HostView) -> Result<Probe, SkipReason> {
    let mut probe = Probe::default();
    match id {
        BackendId::Sandbox => {
            if !host.root() && !host.host.userns {
                return Err(SkipReason(format!(
                    "not root and no unprivileged user namespaces ({})",
                    host.userns_reason
                )));
            }
            probe
                .notes
                .push("network namespace with loopback up, like the peers".into());
            probe.notes.push(
                "default mode: a user namespace (root inside is an unprivileged id outside), nosuid/nodev rootfs, seccomp allow-list, 1024 tasks and a quarter of RAM at most"
                    .into(),
            );
        }
        BackendId::VmBare | BackendId::VmLinux => {
            if id == BackendId::VmLinux {
                linux_guest(host.host.kvm)?;
            } else if host.host.kvm == KvmKind::None {
                return Err(SkipReason("/dev/kvm does not exist".into()));
            }
            if let Some(e) = &host.kvm_open_error {
                return Err(SkipReason(format!("cannot open /dev/kvm: {e}")));
            }
            probe.emulated = host.host.kvm.is_software();
        }
        _ => {}
    }
    Ok(probe)
}

/// Why a Linux guest cannot boot on a host with this KVM.
fn linux_guest(kvm: KvmKind) -> Result<(), SkipReason> {
    match kvm {
        KvmKind::Hardware => Ok(()),
        KvmKind::None => Err(SkipReason("no usable /dev/kvm on this host".into())),
        KvmKind::PvmSoftwareNested => Err(SkipReason(
            "software nested KVM (kvm_pvm): Linux guests do not boot; see `vmlab rig`".into(),
        )),
    }
}

/// What is worth knowing about how a peer runs here.
fn peer_notes(id: BackendId, host: &HostView, tcg: bool) -> Vec<String> {
    let mut notes: Vec<String> = Vec::new();
    match id {
        BackendId::Crun | BackendId::Runc | BackendId::Runsc => {
            notes.push("ready = the workload's ready line on the runtime's stdout".into());
            if id == BackendId::Crun && host.host.cgroup_mode == CgroupMode::Hybrid {
                notes.push(
                    "hybrid cgroups: run in a private mount namespace without the v2 mount".into(),
                );
            }
            if id == BackendId::Runsc {
                notes.push("--network=none --platform=ptrace".into());
            }
        }
        BackendId::Bwrap => {
            notes.push("--unshare-all --die-with-parent --cap-drop ALL, read-only rootfs".into());
        }
        BackendId::Qemu => {
            notes.push(
                "microvm machine, Linux guest, ready = ready line on the serial console".into(),
            );
            if tcg {
                notes.push(format!(
                    "TCG (emulated): KVM here is {}; tsc_early_khz from the host's cpu MHz",
                    host.host.kvm.label()
                ));
            }
        }
        BackendId::QemuBare => {
            notes.push(
                "microvm machine, the bare guest through PVH (the vm-bare ELF), ready = ready line on the serial console, exit code through isa-debug-exit".into(),
            );
            notes.push(if tcg {
                "TCG (emulated): /dev/kvm is not usable here".to_string()
            } else {
                format!("KVM ({}), as vm-bare", host.host.kvm.label())
            });
        }
        BackendId::Firecracker => {
            notes.push("--no-api --config-file; ready = ready line on the serial console".into());
        }
        BackendId::FirecrackerBare | BackendId::CloudHypervisorBare => {
            notes.push(format!(
                "the bare guest through PVH (the vm-bare ELF) on KVM ({}), ready = ready line on the serial console, exit code from the guest's exit line (the VM ends at the guest's i8042 reset or ACPI power-off)",
                host.host.kvm.label()
            ));
        }
        BackendId::CloudHypervisor => {
            notes.push("--kernel vmlinux --initramfs --serial tty; ready = ready line on the serial console".into());
        }
        _ => {}
    }
    notes
}

/// Host views for tests: root on a v2 host with `kvm`, every peer installed.
#[cfg(test)]
pub mod sample {
    use super::*;

    /// A host with `kvm`, root, cgroup v2, user namespaces, every peer.
    pub fn view(kvm: KvmKind) -> HostView {
        HostView {
            host: HostFacts {
                cpu_model: "test".into(),
                cores: 2,
                mem_bytes: 1 << 30,
                kernel: "6.1".into(),
                kvm,
                cgroup_mode: CgroupMode::V2,
                controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
                userns: true,
                ..HostFacts::default()
            },
            euid: Some(0),
            userns_reason: "user.max_user_namespaces = 100".into(),
            kvm_open_error: None,
            peers: BackendId::peers()
                .map(|id| Peer {
                    id,
                    path: Some(format!("/usr/bin/{}", id.program().unwrap_or("x")).into()),
                    version: Ok(format!("{id} version 1.0")),
                })
                .collect(),
        }
    }

    /// Variations of [`view`]: every KVM kind, root or not, user namespaces
    /// or not, /dev/kvm openable or not, peers installed, missing or broken.
    pub fn views() -> Vec<HostView> {
        let mut out = Vec::new();
        for kvm in [KvmKind::None, KvmKind::Hardware, KvmKind::PvmSoftwareNested] {
            for (euid, userns) in [(Some(0), true), (Some(1000), true), (Some(1000), false)] {
                for open_error in [None, Some("Permission denied (os error 13)".to_string())] {
                    let mut v = view(kvm);
                    v.euid = euid;
                    v.host.userns = userns;
                    v.kvm_open_error = open_error;
                    out.push(v.clone());
                    v.peers.truncate(3);
                    v.peers[0].version = Err("`crun --version` printed nothing".into());
                    v.peers[1].path = None;
                    out.push(v);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_guests_need_hardware_kvm() {
        let v = sample::view(KvmKind::Hardware);
        for id in BackendId::ALL {
            assert!(probe(id, &v).is_ok(), "{id}");
        }
        let pvm = sample::view(KvmKind::PvmSoftwareNested);
        for id in [BackendId::VmLinux, BackendId::Firecracker] {
            assert!(probe(id, &pvm).unwrap_err().0.contains("kvm_pvm"), "{id}");
        }
        assert!(probe(BackendId::VmBare, &pvm).unwrap().emulated);
        let qemu = probe(BackendId::Qemu, &pvm).unwrap();
        assert!(qemu.emulated && qemu.notes[1].contains("TCG"), "{qemu:?}");
        let none = sample::view(KvmKind::None);
        assert!(probe(BackendId::VmBare, &none).is_err());
        assert!(probe(BackendId::VmLinux, &none).is_err());
    }

    #[test]
    fn only_backends_that_can_be_emulated_are() {
        for v in sample::views() {
            for id in BackendId::ALL {
                if let Ok(p) = probe(id, &v) {
                    assert!(!p.emulated || id.can_be_emulated(), "{id}: {p:?}");
                }
            }
        }
    }

    #[test]
    fn what_a_user_without_root_can_run() {
        let mut v = sample::view(KvmKind::Hardware);
        v.euid = Some(1000);
        assert!(probe(BackendId::Sandbox, &v).is_ok());
        assert!(probe(BackendId::Bwrap, &v).is_ok());
        let crun = probe(BackendId::Crun, &v).unwrap_err();
        assert!(crun.0.contains("root only"), "{crun}");
        v.host.userns = false;
        v.userns_reason = "user.max_user_namespaces is 0".into();
        let sandbox = probe(BackendId::Sandbox, &v).unwrap_err();
        assert!(sandbox.0.contains("max_user_namespaces is 0"), "{sandbox}");
        v.kvm_open_error = Some("Permission denied".into());
        let bare = probe(BackendId::VmBare, &v).unwrap_err();
        assert_eq!(bare.0, "cannot open /dev/kvm: Permission denied");
    }

    #[test]
    fn missing_and_broken_peers_say_why() {
        let mut v = sample::view(KvmKind::Hardware);
        v.peers.retain(|p| p.id != BackendId::Qemu);
        let e = probe(BackendId::Qemu, &v).unwrap_err();
        assert!(e.0.contains("qemu-system-x86_64 is not installed"), "{e}");
        v.peers[0].path = None;
        assert!(probe(v.peers[0].id, &v)
            .unwrap_err()
            .0
            .contains("not installed"));
        v.peers[1].version = Err("`runc --version` printed nothing (exit 1)".into());
        let e = probe(v.peers[1].id, &v).unwrap_err();
        assert!(e.0.contains("printed nothing"), "{e}");
        let ours = probe(BackendId::Process, &v).unwrap();
        assert!(
            ours.notes.last().unwrap().contains("end to end"),
            "{ours:?}"
        );
    }
}
