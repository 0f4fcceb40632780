//! Shared helpers of the sandbox integration tests: a temporary rootfs with
//! the probe as `/init`, the root gate, and host-state snapshots.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The probe binary cargo built for these tests.
pub const PROBE: &str = env!("CARGO_BIN_EXE_vmlab-probe");

/// Serialises the tests of one binary: a rootfs file being written while
/// another test clones would be inherited open for writing (`ETXTBSY` at
/// exec), and the leftover counts need a quiet host.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A rootfs directory in /tmp, removed on drop.
pub struct Rootfs {
    top: PathBuf,
    /// The rootfs itself.
    pub path: PathBuf,
}

impl Rootfs {
    /// A rootfs whose `/init` is `init` (mode 755), with the usual mount points.
    pub fn with_init(init: &[u8]) -> Rootfs {
        static N: AtomicU32 = AtomicU32::new(0);
        let top = std::env::temp_dir().join(format!(
            "vmlab-sandbox-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let path = top.join("rootfs");
        for d in ["proc", "dev", "sys", "tmp"] {
            std::fs::create_dir_all(path.join(d)).unwrap();
        }
        // Readable by the rootless sandbox user (nobody) too.
        use std::os::unix::fs::PermissionsExt;
        for d in [&top, &path] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let init_path = path.join("init");
        std::fs::write(&init_path, init).unwrap();
        std::fs::set_permissions(&init_path, std::fs::Permissions::from_mode(0o755)).unwrap();
        Rootfs { top, path }
    }

    /// A rootfs with the probe as `/init`.
    pub fn probe() -> Rootfs {
        Rootfs::with_init(&std::fs::read(PROBE).unwrap())
    }

    /// The directory around the rootfs (for host-only files).
    pub fn top(&self) -> &Path {
        &self.top
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.top);
    }
}

/// True when running as root; otherwise skips (prints why) or, with
/// `VMLAB_REQUIRE_ROOT=1`, fails.
pub fn have_root(test: &str) -> bool {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("VMLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: needs root and VMLAB_REQUIRE_ROOT=1 is set");
    }
    eprintln!("{test}: SKIPPED (needs root; set VMLAB_REQUIRE_ROOT=1 to make this a failure)");
    false
}

/// The workload's JSON lines from stdout.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("{\"vmlab\":"))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Host state that no run may change.
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    /// Lines of /proc/self/mountinfo.
    pub mounts: usize,
    /// Directories under every `.../vmlab` cgroup parent (and whether they exist).
    pub cgroups: Vec<String>,
    /// Our child processes.
    pub children: usize,
    /// The hostname.
    pub hostname: String,
}

fn vmlab_cgroups() -> Vec<String> {
    let mut out = Vec::new();
    let Ok(top) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(top.flatten().map(|e| e.path()));
    for r in roots {
        let p = r.join("vmlab");
        if p.exists() {
            out.push(p.display().to_string());
            if let Ok(d) = std::fs::read_dir(&p) {
                for e in d.flatten() {
                    if e.path().is_dir() {
                        out.push(e.path().display().to_string());
                    }
                }
            }
        }
    }
    out.sort();
    out
}

fn children() -> usize {
    let me = std::process::id().to_string();
    let Ok(d) = std::fs::read_dir("/proc") else {
        return 0;
    };
    d.flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| {
                    let after = s.rsplit_once(')')?.1.to_string();
                    after.split_whitespace().nth(1).map(|pp| pp == me)
                })
                .unwrap_or(false)
        })
        .count()
}

impl HostState {
    /// Takes a snapshot.
    pub fn now() -> HostState {
        HostState {
            mounts: std::fs::read_to_string("/proc/self/mountinfo")
                .map(|s| s.lines().count())
                .unwrap_or(0),
            cgroups: vmlab_cgroups(),
            children: children(),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        }
    }
}

/// Network namespaces alive on the host (distinct `ns/net` of all processes).
pub fn netns_count() -> usize {
    let mut set = std::collections::BTreeSet::new();
    if let Ok(d) = std::fs::read_dir("/proc") {
        for e in d.flatten() {
            if let Ok(l) = std::fs::read_link(e.path().join("ns/net")) {
                set.insert(l);
            }
        }
    }
    set.len()
}
