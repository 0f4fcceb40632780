//! Facts into capabilities, without touching the system, so the rules are
//! unit-tested for a software-nested and a hardware host alike. Whether a
//! backend can run is [`probe`]'s answer, the one `vmlab compare` acts on;
//! doctor adds why, and how to fix it.
use serde::Serialize;
use vmlab_reports::model::{CgroupMode, KvmKind};

use super::facts::Facts;
use crate::compare::backend::{Probe, SkipReason};
use crate::compare::probe::probe;
use crate::id::BackendId;

/// One thing the host can or cannot do.
#[derive(Debug, Clone, Serialize)]
pub struct Capability {
    /// What (a backend, a peer, a feature).
    pub name: String,
    /// Whether it works here.
    pub ok: bool,
    /// Why (always given).
    pub why: String,
    /// How to make it work, when it does not (or caveats when it does).
    pub fix: Option<String>,
    /// Whether `--strict` requires it.
    pub core: bool,
}

fn cap(
    name: &str,
    ok: bool,
    why: impl Into<String>,
    fix: Option<String>,
    core: bool,
) -> Capability {
    Capability {
        name: name.to_string(),
        ok,
        why: why.into(),
        fix,
        core,
    }
}

/// Turns facts into capabilities: every backend, then the sandbox's
/// features and the kernel cache.
pub fn assess(f: &Facts) -> Vec<Capability> {
    let mut out: Vec<Capability> = BackendId::ours().map(|id| backend(id, f)).collect();
    let userns = f.view.host.userns;
    out.insert(
        2,
        cap(
            "sandbox as a non-root user",
            userns,
            f.view.userns_reason.clone(),
            (!userns).then(|| {
                "allow unprivileged user namespaces: sysctl user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 where it exists)".into()
            }),
            false,
        ),
    );
    out.insert(3, limits(f));
    let kernel = kernel_source(f);
    out.push(cap(
        "kernel cache",
        kernel.is_ok(),
        match &kernel {
            Ok(k) => k.clone(),
            Err(why) => why.clone(),
        },
        kernel.is_err().then(|| {
            "`vmlab images build` fills it; only vm-linux, qemu and firecracker need a kernel"
                .into()
        }),
        false,
    ));
    out.extend(BackendId::peers().map(|id| backend(id, f)));
    out
}

/// The capability of one backend: the probe's verdict, explained.
fn backend(id: BackendId, f: &Facts) -> Capability {
    let name = if id.is_ours() {
        id.name().to_string()
    } else {
        format!("peer {id}")
    };
    let core = id.is_ours();
    // vm-linux boots the guest kernel the images are built with.
    let kernel = (id == BackendId::VmLinux).then(|| kernel_source(f));
    match (probe(id, &f.view), kernel) {
        (Err(why), _) => cap(&name, false, why.0.clone(), Some(fix(id, f, &why)), core),
        (Ok(_), Some(Err(why))) => cap(
            &name,
            false,
            why,
            Some("`vmlab images build` fetches Debian's cloud kernel into the cache, or set VMLAB_KERNEL=/path/to/bzImage".into()),
            core,
        ),
        (Ok(p), kernel) => {
            let (why, note) = works(id, f, &p, kernel.and_then(Result::ok));
            cap(&name, true, why, note, core)
        }
    }
}

/// Why `id` works here, and a caveat if there is one.
fn works(id: BackendId, f: &Facts, p: &Probe, kernel: Option<String>) -> (String, Option<String>) {
    match id {
        BackendId::Process => ("a plain process needs nothing".into(), None),
        BackendId::Sandbox if f.view.root() => ("running as root".into(), None),
        BackendId::Sandbox => (
            "not root, but user namespaces work (limits need a delegated cgroup)".into(),
            None,
        ),
        BackendId::VmBare if p.emulated => (
            "/dev/kvm is software nested KVM (kvm_pvm): the bare guest runs, but every guest instruction is emulated (about 1 µs per simple loop iteration)".into(),
            Some("its figures measure emulation, not hardware virtualisation; the report marks them".into()),
        ),
        BackendId::VmBare => ("/dev/kvm is hardware KVM".into(), None),
        BackendId::VmLinux => (
            format!("hardware KVM; guest kernel: {}", kernel.unwrap_or_default()),
            None,
        ),
        peer => {
            let tool = f.view.peer(peer);
            let path = tool.and_then(|t| t.path.as_ref());
            let what = format!(
                "{} ({})",
                p.version.as_deref().unwrap_or("version unknown"),
                path.map_or(String::new(), |p| p.display().to_string())
            );
            // The first note says how ready is seen; the others are caveats.
            let caveats = p.notes.get(1..).unwrap_or_default().join("; ");
            (what, (!caveats.is_empty()).then_some(caveats))
        }
    }
}

/// How to make `id` work, given why it does not.
fn fix(id: BackendId, f: &Facts, why: &SkipReason) -> String {
    let kvm = f.view.host.kvm;
    match id {
        BackendId::Sandbox => {
            "run as root, or allow user namespaces (sysctl user.max_user_namespaces=15000)".into()
        }
        BackendId::VmBare | BackendId::VmLinux if kvm == KvmKind::None => {
            "load kvm_intel or kvm_amd, or use a host (or VM) with virtualisation enabled".into()
        }
        BackendId::VmLinux if kvm == KvmKind::PvmSoftwareNested => {
            "use `vmlab rig` to test the Linux path (nested under QEMU TCG), or run on hardware KVM"
                .into()
        }
        BackendId::VmBare | BackendId::VmLinux => {
            "run as root or join the group that owns /dev/kvm (usually kvm)".into()
        }
        peer if why.0.contains("not installed") => peer
            .install_hint()
            .unwrap_or("install it and put it on PATH")
            .into(),
        _ if why.0.contains("root only") => "run vmlab as root".into(),
        BackendId::Firecracker | BackendId::CloudHypervisor if kvm != KvmKind::Hardware => {
            "run on a host with hardware KVM".into()
        }
        peer => format!(
            "check that `{} --version` works",
            peer.program().unwrap_or(peer.name())
        ),
    }
}

/// Whether the sandbox can set its limits (memory, pids, cpu).
fn limits(f: &Facts) -> Capability {
    let c = &f.cgroups;
    let missing: Vec<&str> = ["memory", "pids", "cpu"]
        .into_iter()
        .filter(|w| !c.controllers.iter().any(|have| have == w))
        .collect();
    let layout = match c.mode {
        CgroupMode::V2 => format!("cgroup v2, controllers: {}", c.controllers.join(" ")),
        CgroupMode::V1 => format!("cgroup v1, controllers: {}", c.controllers.join(" ")),
        CgroupMode::Hybrid => format!(
            "hybrid cgroups: v1 controllers {}; the v2 hierarchy at /sys/fs/cgroup/unified has {}",
            c.controllers.join(" "),
            if c.v2_controllers.is_empty() {
                "no controllers".to_string()
            } else {
                format!("only {}", c.v2_controllers.join(" "))
            }
        ),
    };
    let name = "sandbox limits";
    match (missing.is_empty(), f.view.root()) {
        (true, true) => cap(name, true, layout, None, false),
        (true, false) => cap(
            name,
            false,
            format!("{layout}; not root"),
            Some("run as root, or from a delegated cgroup (systemd-run --user --scope -p Delegate=yes)".into()),
            false,
        ),
        (false, _) => cap(
            name,
            false,
            format!("{layout}; missing: {}", missing.join(" ")),
            Some("enable the missing controllers (v2: cgroup.subtree_control; v1: mount their hierarchies)".into()),
            false,
        ),
    }
}

/// Where vm-linux would get its kernel, or why it has none.
fn kernel_source(f: &Facts) -> Result<String, String> {
    if let Some(k) = &f.vmlab_kernel {
        return if k.is_file() {
            Ok(format!("$VMLAB_KERNEL = {}", k.display()))
        } else {
            Err(format!("$VMLAB_KERNEL = {} is not a file", k.display()))
        };
    }
    let Some(dir) = &f.kernel_cache_dir else {
        return Err("neither XDG_CACHE_HOME nor HOME is set, so there is no kernel cache".into());
    };
    if f.kernel_cache.is_empty() {
        return Err(format!(
            "the kernel cache {} is empty or missing",
            dir.display()
        ));
    }
    let list: Vec<String> = f
        .kernel_cache
        .iter()
        .map(|e| {
            format!(
                "{} ({}, {} file(s))",
                e.name,
                vmlab_reports::charts::fmt_bytes(e.bytes as f64),
                e.files
            )
        })
        .collect();
    Ok(format!("{}: {}", dir.display(), list.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::probe::{sample, HostView};
    use crate::host::{CacheEntry, Cgroups};

    fn facts(view: HostView, mode: CgroupMode) -> Facts {
        let mut view = view;
        view.host.cgroup_mode = mode;
        Facts {
            tools: view.tools(),
            view,
            cgroups: Cgroups {
                mode,
                controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
                v2_controllers: vec!["hugetlb".into()],
            },
            kernel_cache_dir: Some("/nonexistent/vmlab".into()),
            kernel_cache: vec![],
            vmlab_kernel: None,
            git_revision: "abc".into(),
        }
    }

    fn get<'a>(caps: &'a [Capability], name: &str) -> &'a Capability {
        caps.iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no capability {name}"))
    }

    fn name(id: BackendId) -> String {
        if id.is_ours() {
            id.name().to_string()
        } else {
            format!("peer {id}")
        }
    }

    #[test]
    fn doctor_and_compare_agree_on_every_backend() {
        let kernel = CacheEntry {
            name: "kernels/6.1.0-test".into(),
            bytes: 100,
            files: 2,
        };
        for view in sample::views() {
            for cached in [false, true] {
                let mut f = facts(view.clone(), CgroupMode::V2);
                if cached {
                    f.kernel_cache.push(kernel.clone());
                }
                let caps = assess(&f);
                for id in BackendId::ALL {
                    let compare = probe(id, &f.view);
                    let needs_kernel = id == BackendId::VmLinux && !cached;
                    let c = get(&caps, &name(id));
                    assert_eq!(c.ok, compare.is_ok() && !needs_kernel, "{id}: {c:?}");
                    if let Err(why) = compare {
                        assert_eq!(c.why, why.0, "{id}");
                        assert!(c.fix.is_some(), "{id}: {c:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn software_nested_host() {
        let mut v = sample::view(KvmKind::PvmSoftwareNested);
        v.peers.retain(|p| p.id != BackendId::Runsc);
        let caps = assess(&facts(v, CgroupMode::Hybrid));
        let linux = get(&caps, "vm-linux");
        assert!(!linux.ok);
        assert!(linux.why.contains("kvm_pvm"));
        assert!(linux.fix.as_deref().unwrap().contains("vmlab rig"));
        let bare = get(&caps, "vm-bare");
        assert!(bare.ok && bare.why.contains("emulated"));
        assert!(get(&caps, "peer crun")
            .fix
            .as_deref()
            .unwrap()
            .contains("hybrid"));
        let qemu = get(&caps, "peer qemu");
        assert!(
            qemu.ok && qemu.fix.as_deref().unwrap().contains("TCG"),
            "{qemu:?}"
        );
        let runsc = get(&caps, "peer runsc");
        assert!(
            !runsc.ok && runsc.why.contains("not installed"),
            "{runsc:?}"
        );
        assert!(runsc.fix.as_deref().unwrap().contains("gvisor.dev"));
        assert!(get(&caps, "sandbox limits").why.contains("only hugetlb"));
        assert!(!get(&caps, "peer firecracker").ok);
    }

    #[test]
    fn hardware_host_needs_a_kernel_for_linux() {
        let mut f = facts(sample::view(KvmKind::Hardware), CgroupMode::V2);
        let caps = assess(&f);
        let linux = get(&caps, "vm-linux");
        assert!(
            !linux.ok && linux.why.contains("empty or missing"),
            "{linux:?}"
        );
        let exe = std::env::current_exe().unwrap();
        f.vmlab_kernel = Some(exe);
        let caps = assess(&f);
        assert!(get(&caps, "vm-linux").ok);
        assert!(get(&caps, "kernel cache").ok);
        assert!(get(&caps, "peer firecracker").ok);
    }

    #[test]
    fn unopenable_kvm_and_no_userns() {
        let mut f = facts(sample::view(KvmKind::Hardware), CgroupMode::V2);
        f.view.kvm_open_error = Some("Permission denied (os error 13)".into());
        f.view.euid = Some(1000);
        f.view.host.userns = false;
        f.view.userns_reason = "user.max_user_namespaces is 0".into();
        let caps = assess(&f);
        let bare = get(&caps, "vm-bare");
        assert!(
            !bare.ok && bare.why.contains("Permission denied"),
            "{bare:?}"
        );
        assert!(!get(&caps, "sandbox").ok);
        assert!(!get(&caps, "sandbox limits").ok);
        let crun = get(&caps, "peer crun");
        assert!(
            !crun.ok && crun.fix.as_deref() == Some("run vmlab as root"),
            "{crun:?}"
        );
        assert!(get(&caps, "sandbox")
            .fix
            .as_deref()
            .unwrap()
            .starts_with("run as root"));
    }
}
