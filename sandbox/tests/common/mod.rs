//! Shared helpers of the sandbox integration tests: a temporary rootfs with
//! the probe as `/init`, and host-state snapshots (the root gates are in
//! `vmlab_test_util`).
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

/// The workload's JSON lines from stdout.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("{\"vmlab\":"))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Host state that no run may change. Only what this test process could
/// leave behind is counted (other work on the machine may mount, create
/// cgroups and network namespaces meanwhile).
#[derive(Debug, PartialEq, Eq)]
pub struct HostState {
    /// Mount points in /proc/self/mountinfo with "vmlab" in their path
    /// (every test rootfs has).
    pub mounts: Vec<String>,
    /// Directories `.../vmlab/<our pid>-*` in any cgroup hierarchy.
    pub cgroups: Vec<String>,
    /// Our child processes.
    pub children: usize,
    /// Network namespaces other than ours held by our descendants.
    pub netns: usize,
    /// Mount namespaces other than ours held by our descendants.
    pub mntns: usize,
    /// The hostname.
    pub hostname: String,
}

/// Cgroup directories a run by process `pid` created and did not remove.
pub fn cgroups_of(pid: u32) -> Vec<String> {
    let prefix = format!("{pid}-");
    let mut out = Vec::new();
    let Ok(top) = std::fs::read_dir("/sys/fs/cgroup") else {
        return out;
    };
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(top.flatten().map(|e| e.path()));
    for r in roots {
        if let Ok(d) = std::fs::read_dir(r.join("vmlab")) {
            for e in d.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    out.push(e.path().display().to_string());
                }
            }
        }
    }
    out.sort();
    out
}

/// `(pid, ppid)` of every process.
fn processes() -> Vec<(u32, u32)> {
    let Ok(d) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    d.flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_string_lossy().parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let after = stat.rsplit_once(')')?.1.to_string();
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect()
}

fn descendants(of: u32) -> Vec<u32> {
    let procs = processes();
    let mut out = vec![of];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(procs.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out.remove(0);
    out
}

impl HostState {
    /// Takes a snapshot.
    pub fn now() -> HostState {
        let me = std::process::id();
        let kids = descendants(me);
        let others = |ns: &str| {
            let mine = std::fs::read_link(format!("/proc/self/ns/{ns}")).ok();
            kids.iter()
                .filter_map(|p| std::fs::read_link(format!("/proc/{p}/ns/{ns}")).ok())
                .filter(|n| Some(n) != mine.as_ref())
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        HostState {
            mounts: std::fs::read_to_string("/proc/self/mountinfo")
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
                .filter(|m| m.contains("vmlab"))
                .collect(),
            cgroups: cgroups_of(me),
            children: processes().iter().filter(|(_, pp)| *pp == me).count(),
            netns: others("net"),
            mntns: others("mnt"),
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        }
    }

    /// Waits (up to 5 s) for dying processes to go, then takes a snapshot.
    pub fn settled(expected: &HostState) -> HostState {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let now = HostState::now();
            if now == *expected || std::time::Instant::now() > deadline {
                return now;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
