//! What each backend really ran with, for the report's protections table:
//! read from the configuration `vmlab run` builds for ours, from the OCI
//! bundle the runtimes were given, and from the command lines compare
//! passes to the other peers. Counts come from the seccomp tables
//! themselves (the sandbox's and the VMM jail's), never from a constant.
use std::path::Path;

use vmlab_reports::model::Protections;
use vmlab_sandbox::Config;

use super::peers::BWRAP_ISOLATION;
use crate::id::BackendId;

/// The protections of `id` as compare runs it; `bundle_config` is the
/// built OCI bundle's `config.json` (for crun, runc and runsc), `emulated`
/// whether a VM's guest code is emulated.
pub fn of(id: BackendId, bundle_config: Option<&serde_json::Value>) -> Protections {
    match id {
        BackendId::Process => of_config(&Config::process("/init")),
        BackendId::Sandbox => of_config(&sandbox_config()),
        BackendId::VmBare | BackendId::VmLinux => jailed_vmm(),
        BackendId::Crun | BackendId::Runc => bundle_config.map(of_bundle).unwrap_or_default(),
        BackendId::Runsc => Protections {
            jail: Some(
                "gVisor: the workload's calls go to the Sentry (a kernel in user space), \
                 itself under gVisor's own seccomp filter"
                    .into(),
            ),
            ..bundle_config.map(of_bundle).unwrap_or_default()
        },
        BackendId::Bwrap => bwrap(),
        BackendId::Qemu
        | BackendId::QemuBare
        | BackendId::Firecracker
        | BackendId::FirecrackerBare
        | BackendId::CloudHypervisor
        | BackendId::CloudHypervisorBare => Protections {
            seccomp: None,
            jail: Some(format!(
                "off (compare runs {} as the caller, without a jailer)",
                id.name()
            )),
            ..Protections::default()
        },
    }
}

/// The sandbox's configuration as `vmlab run --backend sandbox` builds it
/// with compare's arguments (no `--host-root`, default limits).
fn sandbox_config() -> Config {
    let mut c = Config::sandbox("/rootfs");
    if nix::unistd::geteuid().as_raw() != 0 {
        c.cgroup = c.limits.any();
    }
    c
}

/// Protections of a sandbox configuration.
pub fn of_config(c: &Config) -> Protections {
    let ns = &c.ns;
    let mut namespaces = Vec::new();
    for (on, name) in [
        (ns.pid, "pid"),
        (ns.mount, "mount"),
        (ns.uts, "uts"),
        (ns.ipc, "ipc"),
        (ns.cgroup, "cgroup"),
        (ns.net != vmlab_sandbox::Net::Host, "net"),
    ] {
        if on {
            namespaces.push(name.to_string());
        }
    }
    let mut limits = Vec::new();
    if c.cgroup {
        if let Some(p) = c.limits.pids {
            limits.push(format!("pids {p}"));
        }
        if let Some(m) = c.limits.memory {
            limits.push(format!("memory {} MiB", m >> 20));
        }
        if let Some(cpus) = c.limits.cpus {
            limits.push(format!("cpus {cpus}"));
        }
    }
    Protections {
        seccomp: Some(c.seccomp),
        seccomp_allowed: c.seccomp.then(|| vmlab_sandbox::seccomp::allowed() as u32),
        user_namespace: Some(ns.user.is_some()),
        namespaces,
        capabilities: Some(
            if c.drop_caps {
                "reduced"
            } else {
                "the caller's"
            }
            .into(),
        ),
        cgroup_limits: Some(if limits.is_empty() {
            "none".into()
        } else {
            limits.join(", ")
        }),
        jail: None,
    }
}

/// Our VMs: the VMM's jail (see `vmlab_vmm::jail`).
fn jailed_vmm() -> Protections {
    let calls = vmlab_vmm::jail::seccomp::TABLE.len();
    Protections {
        seccomp: Some(true),
        seccomp_allowed: Some(calls as u32),
        user_namespace: Some(true),
        namespaces: ["mount", "ipc", "uts", "net", "cgroup"]
            .map(String::from)
            .to_vec(),
        capabilities: Some("none".into()),
        cgroup_limits: None,
        jail: Some(format!(
            "on: user, mount, ipc, uts, net and cgroup namespaces, an empty read-only root, \
             uid/gid {} when started by root, no capabilities, a {calls}-call seccomp allow-list",
            vmlab_vmm::jail::NOBODY
        )),
    }
}

/// bwrap as compare runs it ([`BWRAP_ISOLATION`]: `--unshare-all`, no
/// `--seccomp`, `--cap-drop ALL`).
fn bwrap() -> Protections {
    let has = |flag: &str| BWRAP_ISOLATION.contains(&flag);
    let all = [
        "user (if allowed)",
        "pid",
        "mount",
        "uts",
        "ipc",
        "net",
        "cgroup (if allowed)",
    ];
    Protections {
        seccomp: Some(has("--seccomp")),
        seccomp_allowed: None,
        user_namespace: None,
        namespaces: if has("--unshare-all") {
            all.map(String::from).to_vec()
        } else {
            vec!["mount".into()]
        },
        capabilities: Some(if has("--cap-drop") {
            "none (--cap-drop ALL)".into()
        } else {
            "root's, when started by root (bwrap's default)".into()
        }),
        cgroup_limits: Some("none".into()),
        jail: None,
    }
}

/// Protections an OCI `config.json` asks for.
pub fn of_bundle(config: &serde_json::Value) -> Protections {
    let linux = &config["linux"];
    let seccomp = linux.get("seccomp").filter(|s| !s.is_null());
    let namespaces: Vec<String> = linux["namespaces"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["type"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let bounding = config["process"]["capabilities"]["bounding"]
        .as_array()
        .map_or(0, Vec::len);
    let mut limits = Vec::new();
    if let Some(p) = linux["resources"]["pids"]["limit"].as_i64() {
        limits.push(format!("pids {p}"));
    }
    if let Some(m) = linux["resources"]["memory"]["limit"].as_i64() {
        limits.push(format!("memory {} MiB", m >> 20));
    }
    Protections {
        seccomp: Some(seccomp.is_some()),
        seccomp_allowed: seccomp.map(allowed_by),
        user_namespace: Some(namespaces.iter().any(|n| n == "user")),
        capabilities: Some(format!("{bounding} in the bounding set")),
        cgroup_limits: Some(if limits.is_empty() {
            "none".into()
        } else {
            limits.join(", ")
        }),
        namespaces,
        jail: None,
    }
}

/// How many system calls an OCI seccomp section allows by name.
fn allowed_by(seccomp: &serde_json::Value) -> u32 {
    let Some(rules) = seccomp["syscalls"].as_array() else {
        return 0;
    };
    let names: std::collections::BTreeSet<&str> = rules
        .iter()
        .filter(|r| r["action"].as_str() == Some("SCMP_ACT_ALLOW"))
        .filter_map(|r| r["names"].as_array())
        .flatten()
        .filter_map(|n| n.as_str())
        .collect();
    names.len() as u32
}

/// The built bundle's `config.json` in `images`, when readable.
pub fn read_bundle(images: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read(images.join("bundle").join("config.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_has_none_and_the_sandbox_its_table() {
        let p = of(BackendId::Process, None);
        assert_eq!((p.seccomp, p.seccomp_allowed), (Some(false), None));
        assert_eq!(p.user_namespace, Some(false));
        assert!(p.namespaces.is_empty());
        assert_eq!(p.cgroup_limits.as_deref(), Some("none"));
        let s = of(BackendId::Sandbox, None);
        assert_eq!(s.seccomp, Some(true));
        assert_eq!(
            s.seccomp_allowed,
            Some(vmlab_sandbox::seccomp::allowed() as u32)
        );
        assert!(s.seccomp_allowed.unwrap() > 0);
        assert_eq!(s.user_namespace, Some(true));
        assert!(s.namespaces.contains(&"pid".to_string()));
    }

    #[test]
    fn vms_count_the_jail_table() {
        let v = of(BackendId::VmBare, None);
        let n = vmlab_vmm::jail::seccomp::TABLE.len();
        assert_eq!(v.seccomp_allowed, Some(n as u32));
        assert!(v.jail.unwrap().contains(&format!("{n}-call")));
        assert!(of(BackendId::Qemu, None).jail.unwrap().starts_with("off"));
    }

    #[test]
    fn a_bundle_is_read_as_written() {
        let bare = serde_json::json!({
            "process": {"capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"]}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        });
        let p = of(BackendId::Crun, Some(&bare));
        assert_eq!((p.seccomp, p.seccomp_allowed), (Some(false), None));
        assert_eq!(p.namespaces, ["pid", "mount"]);
        assert_eq!(p.user_namespace, Some(false));
        assert_eq!(p.capabilities.as_deref(), Some("2 in the bounding set"));
        let strict = serde_json::json!({
            "linux": {
                "namespaces": [{"type": "user"}],
                "resources": {"pids": {"limit": 1024}},
                "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                    {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["write", "exit"], "action": "SCMP_ACT_ALLOW"},
                    {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}
                ]}
            }
        });
        let p = of(BackendId::Runc, Some(&strict));
        assert_eq!((p.seccomp, p.seccomp_allowed), (Some(true), Some(3)));
        assert_eq!(p.user_namespace, Some(true));
        assert_eq!(p.cgroup_limits.as_deref(), Some("pids 1024"));
        assert!(of(BackendId::Runsc, Some(&strict))
            .jail
            .unwrap()
            .contains("Sentry"));
        assert_eq!(of(BackendId::Crun, None), Protections::default());
    }
}
