//! Host facts: CPU, memory, kernel, what /dev/kvm is, how cgroups are
//! mounted, user namespaces, the peers on PATH, the kernel cache and the
//! git revision. Everything is read from /proc, /sys and the file system or
//! asked of the tools themselves (with a timeout); parsing is split from
//! reading so it is unit-tested on sample text.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;
use vmlab_reports::model::{CgroupMode, HostFacts, KvmKind, Tool};

/// The peers vmlab compares against, by command name.
pub const PEERS: &[&str] = &[
    "crun",
    "runc",
    "bwrap",
    "runsc",
    "qemu-system-x86_64",
    "firecracker",
];

/// How long a `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(3);

/// Collects the host facts that go into `results.json`.
pub fn facts() -> HostFacts {
    let cgroups = cgroups();
    HostFacts {
        cpu_model: cpu_model(&read("/proc/cpuinfo")),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
        mem_bytes: mem_total(&read("/proc/meminfo")),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        kvm: kvm_kind(),
        cgroup_mode: cgroups.mode,
        controllers: cgroups.controllers,
        userns: userns().0,
        ..HostFacts::default()
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `model name` from /proc/cpuinfo text ("unknown" when absent).
pub fn cpu_model(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// MemTotal from /proc/meminfo text, in bytes (0 when absent).
pub fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What /dev/kvm is: software nested when the kvm_pvm module is loaded,
/// hardware otherwise (kvm_intel, kvm_amd or a built-in KVM).
pub fn kvm_kind() -> KvmKind {
    let module = |m: &str| Path::new("/sys/module").join(m).exists();
    classify_kvm(Path::new("/dev/kvm").exists(), module("kvm_pvm"))
}

/// The KVM kind from the device's presence and whether kvm_pvm is loaded.
pub fn classify_kvm(dev_kvm: bool, pvm: bool) -> KvmKind {
    match (dev_kvm, pvm) {
        (false, _) => KvmKind::None,
        (true, true) => KvmKind::PvmSoftwareNested,
        (true, false) => KvmKind::Hardware,
    }
}

/// Whether /dev/kvm can be opened for reading and writing, and if not, why.
pub fn kvm_openable() -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(drop)
        .map_err(|e| e.to_string())
}

/// How cgroups are mounted and which controllers are usable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cgroups {
    /// v1, v2 or hybrid.
    pub mode: CgroupMode,
    /// Usable controllers (v1 hierarchies, or the v2 root's).
    pub controllers: Vec<String>,
    /// Controllers of the v2 hierarchy (all of them in v2 mode, few in hybrid mode).
    pub v2_controllers: Vec<String>,
}

/// Reads the cgroup setup of this host.
pub fn cgroups() -> Cgroups {
    let mode = cgroup_mode(&read("/proc/self/mountinfo"));
    let v2_root = match mode {
        CgroupMode::V2 => Some("/sys/fs/cgroup/cgroup.controllers"),
        CgroupMode::Hybrid => Some("/sys/fs/cgroup/unified/cgroup.controllers"),
        CgroupMode::V1 => None,
    };
    let v2_controllers: Vec<String> = v2_root
        .map(|p| read(p).split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let controllers = match mode {
        CgroupMode::V2 => v2_controllers.clone(),
        _ => v1_controllers(&read("/proc/cgroups")),
    };
    Cgroups {
        mode,
        controllers,
        v2_controllers,
    }
}

/// The cgroup mode from /proc/self/mountinfo text: cgroup2 at /sys/fs/cgroup
/// is v2; a cgroup2 at /sys/fs/cgroup/unified next to v1 hierarchies is
/// hybrid; anything else is v1.
pub fn cgroup_mode(mountinfo: &str) -> CgroupMode {
    let mut root = None;
    let mut unified = false;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        let (Some(mount_point), Some(fs_type)) = (fields.get(4), fields.get(dash + 1)) else {
            continue;
        };
        match *mount_point {
            // The last mount at a point wins (it hides the earlier ones).
            "/sys/fs/cgroup" => root = Some(fs_type.to_string()),
            "/sys/fs/cgroup/unified" if *fs_type == "cgroup2" => unified = true,
            _ => {}
        }
    }
    match root.as_deref() {
        Some("cgroup2") => CgroupMode::V2,
        _ if unified => CgroupMode::Hybrid,
        _ => CgroupMode::V1,
    }
}

/// Enabled v1 controllers bound to a hierarchy, from /proc/cgroups text.
pub fn v1_controllers(proc_cgroups: &str) -> Vec<String> {
    proc_cgroups
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [name, hierarchy, _, enabled] if *hierarchy != "0" && *enabled == "1" => {
                    Some(name.to_string())
                }
                _ => None,
            }
        })
        .collect()
}

/// Whether unprivileged user namespaces are allowed, and why not.
pub fn userns() -> (bool, String) {
    let max = read("/proc/sys/user/max_user_namespaces");
    let clone = std::fs::read_to_string("/proc/sys/kernel/unprivileged_userns_clone").ok();
    let apparmor =
        std::fs::read_to_string("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").ok();
    userns_allowed(&max, clone.as_deref(), apparmor.as_deref())
}

/// The user-namespace verdict from the sysctl values (None = not present).
pub fn userns_allowed(
    max_user_namespaces: &str,
    unprivileged_clone: Option<&str>,
    apparmor_restrict: Option<&str>,
) -> (bool, String) {
    match max_user_namespaces.trim().parse::<u64>() {
        Ok(0) => return (false, "user.max_user_namespaces is 0".into()),
        Ok(_) => {}
        Err(_) => {
            return (
                false,
                "/proc/sys/user/max_user_namespaces is missing: the kernel has no user namespaces"
                    .into(),
            )
        }
    }
    if unprivileged_clone.is_some_and(|v| v.trim() == "0") {
        return (false, "kernel.unprivileged_userns_clone is 0".into());
    }
    if apparmor_restrict.is_some_and(|v| v.trim() == "1") {
        return (
            false,
            "kernel.apparmor_restrict_unprivileged_userns is 1".into(),
        );
    }
    (
        true,
        format!("user.max_user_namespaces = {}", max_user_namespaces.trim()),
    )
}

/// The effective uid, from /proc/self/status (None when unreadable).
pub fn euid() -> Option<u32> {
    read("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Finds `name` on PATH (plus /usr/sbin and /sbin, where runc may live).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

/// The first line of `path --version`, killed after a few seconds.
pub fn version(path: &Path) -> Result<String, String> {
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{} --version` did not answer within {VERSION_TIMEOUT:?}",
                    path.display()
                ));
            }
            Err(e) => return Err(format!("waiting for {}: {e}", path.display())),
        }
    };
    // --version output is far below a pipe's capacity, so reading after exit cannot block.
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    first_line(&out)
        .or_else(|| first_line(&err))
        .ok_or_else(|| {
            format!(
                "`{} --version` printed nothing (exit {status})",
                path.display()
            )
        })
}

fn first_line(s: &str) -> Option<String> {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// Every peer: path and version when installed.
pub fn tools() -> Vec<Tool> {
    PEERS
        .iter()
        .map(|name| {
            let path = which(name);
            let version = path.as_deref().and_then(|p| version(p).ok());
            Tool {
                name: name.to_string(),
                version,
                path: path.map(|p| p.display().to_string()),
            }
        })
        .collect()
}

/// The guest-kernel cache directory: $XDG_CACHE_HOME/vmlab, else ~/.cache/vmlab.
pub fn kernel_cache_dir() -> Option<PathBuf> {
    match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) => Some(PathBuf::from(x).join("vmlab")),
        None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vmlab")),
    }
}

/// One entry of the kernel cache.
#[derive(Debug, Clone, Serialize)]
pub struct CacheEntry {
    /// File or directory name.
    pub name: String,
    /// Total bytes (recursive for directories).
    pub bytes: u64,
    /// Number of files.
    pub files: u64,
}

/// The entries of the kernel cache (empty when it does not exist). A
/// top-level directory of directories (like `kernels/`) is listed by its
/// children (`kernels/6.1.0-...`).
pub fn kernel_cache(dir: &Path) -> Vec<CacheEntry> {
    let entry = |path: &Path, name: String| {
        let (bytes, files) = du(path);
        CacheEntry { name, bytes, files }
    };
    let mut out = Vec::new();
    for top in sorted_dir(dir) {
        let name = top
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let children = if top.is_dir() {
            sorted_dir(&top)
        } else {
            Vec::new()
        };
        if !children.is_empty() && children.iter().all(|c| c.is_dir()) {
            for c in children {
                let child = c
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.push(entry(&c, format!("{name}/{child}")));
            }
        } else {
            out.push(entry(&top, name));
        }
    }
    out
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn du(path: &Path) -> (u64, u64) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return (0, 0);
    };
    if !meta.is_dir() {
        return (meta.len(), 1);
    }
    std::fs::read_dir(path)
        .map(|rd| {
            rd.flatten().fold((0, 0), |(b, f), e| {
                let (b2, f2) = du(&e.path());
                (b + b2, f + f2)
            })
        })
        .unwrap_or((0, 0))
}

/// `git rev-parse --short HEAD` of the current directory's repository, or "unknown".
pub fn git_revision() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let rev = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let dirty = Command::new("git")
                .args(["status", "--porcelain", "--untracked-files=no"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|s| s.status.success() && !s.stdout.is_empty());
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        _ => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_and_meminfo() {
        let cpu = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(cpu_model(cpu), "Intel(R) Xeon(R) CPU @ 2.20GHz");
        assert_eq!(cpu_model(""), "unknown");
        assert_eq!(
            mem_total("MemTotal:       25165824 kB\nMemFree: 1 kB\n"),
            25_769_803_776
        );
        assert_eq!(mem_total(""), 0);
    }

    #[test]
    fn kvm_kinds() {
        assert_eq!(classify_kvm(false, true), KvmKind::None);
        assert_eq!(classify_kvm(true, true), KvmKind::PvmSoftwareNested);
        assert_eq!(classify_kvm(true, false), KvmKind::Hardware);
    }

    #[test]
    fn cgroup_modes() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                      32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(cgroup_mode(hybrid), CgroupMode::Hybrid);
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(cgroup_mode(v2), CgroupMode::V2);
        let v1 = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
        assert_eq!(cgroup_mode(v1), CgroupMode::V1);
    }

    #[test]
    fn v1_controller_list() {
        let text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpu\t1\t1\t1\nnet_cls\t0\t1\t1\nmemory\t4\t22\t1\npids\t8\t1\t0\n";
        assert_eq!(v1_controllers(text), vec!["cpu", "memory"]);
    }

    #[test]
    fn userns_rules() {
        assert!(userns_allowed("96365\n", None, None).0);
        assert!(!userns_allowed("0\n", None, None).0);
        assert!(!userns_allowed("100", Some("0\n"), None).0);
        assert!(!userns_allowed("100", Some("1"), Some("1")).0);
        assert!(!userns_allowed("", None, None).0);
    }

    #[test]
    fn kernel_cache_listing() {
        let dir = std::env::temp_dir().join(format!("vmlab-host-cache-{}", std::process::id()));
        let k = dir.join("kernels/6.1.0-test");
        std::fs::create_dir_all(&k).unwrap();
        std::fs::write(k.join("vmlinuz"), [0u8; 100]).unwrap();
        std::fs::write(k.join("kernel.json"), b"{}").unwrap();
        std::fs::write(dir.join("note"), b"x").unwrap();
        let list = kernel_cache(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        let names: Vec<(&str, u64, u64)> = list
            .iter()
            .map(|e| (e.name.as_str(), e.bytes, e.files))
            .collect();
        assert_eq!(names, vec![("kernels/6.1.0-test", 102, 2), ("note", 1, 1)]);
        assert!(kernel_cache(&dir).is_empty());
    }

    #[test]
    fn version_of_a_missing_binary_is_an_error() {
        assert!(version(Path::new("/nonexistent/vmlab-no-such-tool")).is_err());
        assert!(which("vmlab-no-such-tool-anywhere").is_none());
    }
}
