//! `vmlab doctor`: what this host can run, why not, and how to fix it.
//!
//! Facts are gathered once (see [`crate::host`]); [`assess`] turns them into
//! capabilities without touching the system, so the rules are unit-tested
//! for a software-nested and a hardware host alike.
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;
use vmlab_reports::model::{CgroupMode, HostFacts, KvmKind, Tool};

use crate::host::{self, CacheEntry, Cgroups};

/// Arguments of `vmlab doctor`.
#[derive(Args, Debug, Clone)]
pub struct DoctorArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when a vmlab backend (process, sandbox, vm-bare, vm-linux) cannot run.
    #[arg(long)]
    pub strict: bool,
}

/// Everything doctor looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// Host facts as `results.json` records them.
    pub host: HostFacts,
    /// Effective uid.
    pub euid: Option<u32>,
    /// Why user namespaces are (not) allowed.
    pub userns_reason: String,
    /// cgroup details.
    pub cgroups: Cgroups,
    /// Why /dev/kvm does not open read-write (None when it does).
    pub kvm_open_error: Option<String>,
    /// Peers and versions.
    pub tools: Vec<Tool>,
    /// The kernel cache directory.
    pub kernel_cache_dir: Option<PathBuf>,
    /// What is in it.
    pub kernel_cache: Vec<CacheEntry>,
    /// $VMLAB_KERNEL, when set.
    pub vmlab_kernel: Option<PathBuf>,
    /// The vmlab git revision.
    pub git_revision: String,
}

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

/// Gathers the facts from this host.
pub fn gather() -> Facts {
    let (_, userns_reason) = host::userns();
    let kernel_cache_dir = host::kernel_cache_dir();
    Facts {
        host: host::facts(),
        euid: host::euid(),
        userns_reason,
        cgroups: host::cgroups(),
        kvm_open_error: host::kvm_openable().err(),
        tools: host::tools(),
        kernel_cache: kernel_cache_dir
            .as_deref()
            .map(host::kernel_cache)
            .unwrap_or_default(),
        kernel_cache_dir,
        vmlab_kernel: std::env::var_os("VMLAB_KERNEL").map(PathBuf::from),
        git_revision: host::git_revision(),
    }
}

/// Turns facts into capabilities.
pub fn assess(f: &Facts) -> Vec<Capability> {
    let root = f.euid == Some(0);
    let mut out = vec![cap(
        "process",
        true,
        "a plain process needs nothing",
        None,
        true,
    )];

    // The namespace sandbox.
    out.push(if root {
        cap("sandbox", true, "running as root", None, true)
    } else if f.host.userns {
        cap(
            "sandbox",
            true,
            "not root, but user namespaces work (limits need a delegated cgroup)",
            None,
            true,
        )
    } else {
        cap(
            "sandbox",
            false,
            format!("not root and {}", f.userns_reason),
            Some(
                "run as root, or allow user namespaces (sysctl user.max_user_namespaces=15000)"
                    .into(),
            ),
            true,
        )
    });
    out.push(cap(
        "sandbox as a non-root user",
        f.host.userns,
        f.userns_reason.clone(),
        (!f.host.userns).then(|| {
            "allow unprivileged user namespaces: sysctl user.max_user_namespaces=15000 (and kernel.unprivileged_userns_clone=1 where it exists)".into()
        }),
        false,
    ));
    let wanted = ["memory", "pids", "cpu"];
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !f.cgroups.controllers.iter().any(|have| have == c))
        .collect();
    let layout = match f.cgroups.mode {
        CgroupMode::V2 => format!(
            "cgroup v2, controllers: {}",
            f.cgroups.controllers.join(" ")
        ),
        CgroupMode::V1 => format!(
            "cgroup v1, controllers: {}",
            f.cgroups.controllers.join(" ")
        ),
        CgroupMode::Hybrid => format!(
            "hybrid cgroups: v1 controllers {}; the v2 hierarchy at /sys/fs/cgroup/unified has {}",
            f.cgroups.controllers.join(" "),
            if f.cgroups.v2_controllers.is_empty() {
                "no controllers".to_string()
            } else {
                format!("only {}", f.cgroups.v2_controllers.join(" "))
            }
        ),
    };
    out.push(match (missing.is_empty(), root) {
        (true, true) => cap("sandbox limits", true, layout, None, false),
        (true, false) => cap(
            "sandbox limits",
            false,
            format!("{layout}; not root"),
            Some("run as root, or from a delegated cgroup (systemd-run --user --scope -p Delegate=yes)".into()),
            false,
        ),
        (false, _) => cap(
            "sandbox limits",
            false,
            format!("{layout}; missing: {}", missing.join(" ")),
            Some("enable the missing controllers (v2: cgroup.subtree_control; v1: mount their hierarchies)".into()),
            false,
        ),
    });

    // The tiny VMM.
    let kvm_err = f.kvm_open_error.as_ref();
    out.push(match (f.host.kvm, kvm_err) {
        (KvmKind::None, _) => cap(
            "vm-bare",
            false,
            "/dev/kvm does not exist",
            Some("load kvm_intel or kvm_amd, or use a host (or VM) with virtualisation enabled".into()),
            true,
        ),
        (_, Some(e)) => cap(
            "vm-bare",
            false,
            format!("cannot open /dev/kvm: {e}"),
            Some("run as root or join the group that owns /dev/kvm (usually kvm)".into()),
            true,
        ),
        (KvmKind::PvmSoftwareNested, None) => cap(
            "vm-bare",
            true,
            "/dev/kvm is software nested KVM (kvm_pvm): the bare guest runs, but every guest instruction is emulated (about 1 µs per simple loop iteration)",
            Some("its figures measure emulation, not hardware virtualisation; the report marks them".into()),
            true,
        ),
        (KvmKind::Hardware, None) => cap("vm-bare", true, "/dev/kvm is hardware KVM", None, true),
    });
    let kernel = kernel_source(f);
    out.push(match (f.host.kvm, kvm_err, &kernel) {
        (KvmKind::None, _, _) => cap("vm-linux", false, "/dev/kvm does not exist", Some("see vm-bare".into()), true),
        (KvmKind::PvmSoftwareNested, _, _) => cap(
            "vm-linux",
            false,
            "/dev/kvm is software nested KVM (kvm_pvm): an unmodified Linux guest does not boot on it",
            Some("use `vmlab rig` to test the Linux path (nested under QEMU TCG), or run on hardware KVM".into()),
            true,
        ),
        (KvmKind::Hardware, Some(e), _) => cap(
            "vm-linux",
            false,
            format!("cannot open /dev/kvm: {e}"),
            Some("see vm-bare".into()),
            true,
        ),
        (KvmKind::Hardware, None, Err(why)) => cap(
            "vm-linux",
            false,
            why.clone(),
            Some("`vmlab images build` fetches Debian's cloud kernel into the cache, or set VMLAB_KERNEL=/path/to/bzImage".into()),
            true,
        ),
        (KvmKind::Hardware, None, Ok(k)) => cap("vm-linux", true, format!("hardware KVM; guest kernel: {k}"), None, true),
    });
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

    // Peers.
    for t in &f.tools {
        out.push(peer(t, f));
    }
    out
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

fn peer(t: &Tool, f: &Facts) -> Capability {
    let name = format!("peer {}", t.name);
    let install = match t.name.as_str() {
        "crun" => "apt-get install crun",
        "runc" => "apt-get install runc",
        "bwrap" => "apt-get install bubblewrap",
        "runsc" => "install gVisor's runsc (see gvisor.dev) and put it on PATH",
        "qemu-system-x86_64" => "apt-get install qemu-system-x86",
        "firecracker" => "put a firecracker release binary on PATH",
        _ => "install it and put it on PATH",
    };
    let Some(path) = &t.path else {
        return cap(
            &name,
            false,
            "not found on PATH",
            Some(install.into()),
            false,
        );
    };
    let what = format!(
        "{} ({path})",
        t.version.as_deref().unwrap_or("version unknown")
    );
    let hybrid = f.cgroups.mode == CgroupMode::Hybrid;
    match t.name.as_str() {
        "crun" if hybrid => cap(
            &name,
            true,
            what,
            Some("this crun refuses hybrid cgroups: vmlab runs it in a private mount namespace with /sys/fs/cgroup/unified unmounted".into()),
            false,
        ),
        "runsc" => cap(&name, true, what, Some("vmlab runs it with --network=none --platform=ptrace".into()), false),
        "qemu-system-x86_64" if f.host.kvm != KvmKind::Hardware => cap(
            &name,
            true,
            what,
            Some("no hardware KVM here: QEMU runs its guest under TCG (emulated); its figures are marked emulated".into()),
            false,
        ),
        "firecracker" if f.host.kvm != KvmKind::Hardware => cap(
            &name,
            false,
            format!("{what}; firecracker boots Linux guests and needs hardware KVM, which this host lacks"),
            Some("run on a host with hardware KVM".into()),
            false,
        ),
        _ => cap(&name, true, what, None, false),
    }
}

/// Runs `vmlab doctor` and returns the exit code.
pub fn main(args: DoctorArgs) -> anyhow::Result<u8> {
    let facts = gather();
    let caps = assess(&facts);
    if args.json {
        #[derive(Serialize)]
        struct Out<'a> {
            facts: &'a Facts,
            capabilities: &'a [Capability],
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&Out {
                facts: &facts,
                capabilities: &caps
            })?
        );
    } else {
        print!("{}", table(&facts, &caps));
    }
    let failed = caps.iter().any(|c| c.core && !c.ok);
    Ok(if args.strict && failed { 1 } else { 0 })
}

/// The human-readable diagnosis.
fn table(f: &Facts, caps: &[Capability]) -> String {
    let h = &f.host;
    let mut s = format!(
        "host: {}, {} CPUs, {}, kernel {}\nKVM: {}   cgroups: {}   user namespaces: {}   vmlab: {}\n\n",
        h.cpu_model,
        h.cores,
        vmlab_reports::charts::fmt_bytes(h.mem_bytes as f64),
        h.kernel,
        h.kvm.label(),
        h.cgroup_mode.label(),
        if h.userns { "allowed" } else { "not allowed" },
        f.git_revision,
    );
    let width = caps.iter().map(|c| c.name.len()).max().unwrap_or(8);
    for c in caps {
        s.push_str(&format!(
            "{:<width$}  {:<3}  {}\n",
            c.name,
            if c.ok { "yes" } else { "no" },
            c.why
        ));
        if let Some(fix) = &c.fix {
            let label = if c.ok { "note" } else { "fix" };
            s.push_str(&format!("{:<width$}       {label}: {fix}\n", ""));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kvm: KvmKind, mode: CgroupMode) -> Facts {
        Facts {
            host: HostFacts {
                cpu_model: "test".into(),
                cores: 2,
                mem_bytes: 1 << 30,
                kernel: "6.1".into(),
                kvm,
                cgroup_mode: mode,
                controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
                userns: true,
                ..HostFacts::default()
            },
            euid: Some(0),
            userns_reason: "user.max_user_namespaces = 100".into(),
            cgroups: Cgroups {
                mode,
                controllers: vec!["cpu".into(), "memory".into(), "pids".into()],
                v2_controllers: vec!["hugetlb".into()],
            },
            kvm_open_error: None,
            tools: vec![
                Tool {
                    name: "crun".into(),
                    version: Some("crun version 1.8.1".into()),
                    path: Some("/usr/bin/crun".into()),
                },
                Tool {
                    name: "runsc".into(),
                    version: None,
                    path: None,
                },
            ],
            kernel_cache_dir: Some("/nonexistent/vmlab".into()),
            kernel_cache: vec![],
            vmlab_kernel: None,
            git_revision: "abc".into(),
        }
    }

    fn get<'a>(caps: &'a [Capability], name: &str) -> &'a Capability {
        caps.iter().find(|c| c.name == name).unwrap()
    }

    #[test]
    fn software_nested_host() {
        let caps = assess(&facts(KvmKind::PvmSoftwareNested, CgroupMode::Hybrid));
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
        let runsc = get(&caps, "peer runsc");
        assert!(!runsc.ok && runsc.why == "not found on PATH");
        assert!(get(&caps, "sandbox limits").why.contains("only hugetlb"));
    }

    #[test]
    fn hardware_host_needs_a_kernel_for_linux() {
        let mut f = facts(KvmKind::Hardware, CgroupMode::V2);
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
    }

    #[test]
    fn unopenable_kvm_and_no_userns() {
        let mut f = facts(KvmKind::Hardware, CgroupMode::V2);
        f.kvm_open_error = Some("Permission denied (os error 13)".into());
        f.euid = Some(1000);
        f.host.userns = false;
        f.userns_reason = "user.max_user_namespaces is 0".into();
        let caps = assess(&f);
        assert!(!get(&caps, "vm-bare").ok);
        assert!(get(&caps, "vm-bare").why.contains("Permission denied"));
        assert!(!get(&caps, "sandbox").ok);
        assert!(!get(&caps, "sandbox limits").ok);
        let text = table(&f, &caps);
        assert!(text.contains("fix: run as root"));
    }
}
