//! Boot benches of the namespace sandbox, the plain process, and the peers
//! that start the same rootfs (crun, bubblewrap), in one run.
//!
//! In `boot/call_to_ready` (the clock starts at the library call):
//!
//! - `sandbox`: `to_ready` of the vmlab sandbox with everything on:
//!   user (rootless mapping), pid, mount, uts, ipc, cgroup and net
//!   namespaces, pivot_root, cgroup limits (memory 256M, pids 64), seccomp,
//!   reduced capabilities, no_new_privs, rlimits. Timed from the library
//!   call (in-process) to the ready word on the protocol pipe.
//! - `sandbox-root`: the same without the user namespace.
//! - `process`: the workload as a plain child process, same launcher.
//!
//! In `boot/spawn_to_ready` (the clock starts at the spawn of the tool):
//!
//! - `crun`, `bwrap`: the same rootfs started by those tools
//!   (spawn of the tool to the ready word; crun through the `unshare`
//!   wrapper that hides the hybrid cgroup2 mount from crun 1.8). Skipped,
//!   with the reason printed, when the tool is missing or not root.
//!
//! Between iterations the bench sleeps (untimed) so that the kernel's
//! asynchronous network-namespace teardown does not land in the next sample.
//! Each backend also prints the median and spread of its own samples.
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::mode::Timing;
use super::{record, Group, CALL_TO_READY, SPAWN_TO_READY};
use criterion::SamplingMode;
use vmlab_sandbox::{Config, Limits, UserNs};
use vmlab_workload::protocol::Event;

/// Untimed pause between iterations (netns teardown is asynchronous).
const COOL_DOWN: Duration = Duration::from_millis(5);

/// A temporary rootfs and OCI bundle of the embedded workload.
struct Images {
    /// A directory made new under a random name (so nothing can be planted
    /// there), removed on drop. Not 0700: launched by root, the sandbox
    /// runs the workload as `nobody`, which must reach the rootfs.
    top: tempfile::TempDir,
}

impl Images {
    fn new() -> Images {
        let top = tempfile::Builder::new()
            .prefix("vmlab-bench-boot-")
            .tempdir()
            .expect("temp dir");
        let rootfs = vmlab_images::rootfs::Rootfs::new(vmlab_images::embedded::WORKLOAD);
        rootfs.write_to(&top.path().join("rootfs")).expect("rootfs");
        let bundle = top.path().join("bundle");
        vmlab_images::oci::bundle::write_bundle(&bundle, &rootfs).expect("bundle");
        // The workload finds its protocol fd through VMLAB_FD.
        let cfg_path = bundle.join("config.json");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cfg_path).expect("config")).expect("json");
        if let Some(env) = cfg["process"]["env"].as_array_mut() {
            env.push(serde_json::Value::from("VMLAB_FD=3"));
        }
        std::fs::write(&cfg_path, serde_json::to_vec(&cfg).expect("json")).expect("config");
        Images { top }
    }

    fn rootfs(&self) -> PathBuf {
        self.top.path().join("rootfs")
    }

    fn bundle(&self) -> PathBuf {
        self.top.path().join("bundle")
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// Median, 10th and 90th percentile of `samples`, printed.
fn summary(name: &str, samples: &mut [Duration]) {
    if samples.is_empty() {
        return;
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "{name}: to_ready median {:.3} ms (p10 {:.3}, p90 {:.3}, min {:.3}, max {:.3}, n={})",
        ms(at(0.5)),
        ms(at(0.1)),
        ms(at(0.9)),
        ms(samples[0]),
        ms(samples[samples.len() - 1]),
        samples.len()
    );
}

/// Phase end times of the library runs, by phase name.
type Phases = std::collections::BTreeMap<&'static str, Vec<u64>>;

/// Prints each phase's median end time, in order.
fn phase_summary(name: &str, phases: &mut Phases) {
    let mut rows: Vec<(u64, &str)> = phases
        .iter_mut()
        .map(|(n, v)| {
            v.sort_unstable();
            (v[v.len() / 2], *n)
        })
        .collect();
    rows.sort_unstable();
    let text: Vec<String> = rows
        .iter()
        .map(|(t, n)| format!("{n} {:.3}", *t as f64 / 1e6))
        .collect();
    eprintln!("{name}: median end of each phase, ms: {}", text.join(", "));
}

/// One library run; returns start-to-ready and records the phases.
fn library_boot(config: &Config, phases: &mut Phases) -> Duration {
    let out = vmlab_sandbox::run(config, None).expect("sandbox run");
    for (n, t) in &out.phases {
        phases.entry(n).or_default().push(*t);
    }
    assert_eq!(
        out.status,
        vmlab_sandbox::ExitStatus::Code(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Duration::from_nanos(out.ready.expect("never ready"))
}

/// Spawns `cmd` with a protocol pipe as its fd 3 and returns spawn-to-ready
/// (the tool must pass fd 3 on to the workload).
fn tool_boot(mut cmd: Command) -> Duration {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two fds pipe2 returns.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 returned two new fds that nothing else owns.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let w_raw = w.as_raw_fd();
    // SAFETY: between fork and exec only dup2/fcntl (async-signal-safe) run.
    unsafe {
        cmd.pre_exec(move || {
            let rc = if w_raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(w_raw, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    drop(w);
    let ready = read_ready(r).map(|t| t - start);
    let status = child.wait().expect("wait");
    assert!(status.success(), "{cmd:?}: {status}");
    ready.expect("never signalled ready")
}

fn read_ready(r: OwnedFd) -> Option<Instant> {
    use std::io::Read;
    let mut word = [0u8; 4];
    std::fs::File::from(r).read_exact(&mut word).ok()?;
    let at = Instant::now();
    (Event::decode(u32::from_le_bytes(word)) == Some(Event::Ready)).then_some(at)
}

fn crun_command(bundle: &Path, id: &str) -> Command {
    let script = format!(
        "umount /sys/fs/cgroup/unified 2>/dev/null; exec crun run --preserve-fds 1 --bundle {} {id}",
        bundle.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    cmd
}

fn bwrap_command(rootfs: &Path) -> Command {
    let mut cmd = Command::new("bwrap");
    cmd.args(["--unshare-all", "--die-with-parent", "--ro-bind"])
        .arg(rootfs)
        .args(["/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"])
        .args(["--setenv", "VMLAB_FD", "3", "--hostname", "vmlab", "/init"]);
    cmd
}

/// The sandbox's timing in full mode: 10 samples, 3 s of measurement after
/// 1 s of warm-up.
const TIMING: Timing = Timing {
    sample_size: 10,
    warm_up: Duration::from_secs(1),
    measurement: Duration::from_secs(3),
    sampling: SamplingMode::Auto,
    nresamples: 100_000,
};

/// Benches `name` in `g` (named `group`) with the sandbox's timing,
/// recording every sample.
fn bench_each(
    g: &mut Group<'_>,
    group: &str,
    name: &str,
    samples: &mut Vec<Duration>,
    mut boot: impl FnMut(u64) -> Duration,
) {
    let mut n = 0u64;
    TIMING.apply(g).bench_function(name, |b| {
        record::ran(group, name);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                std::thread::sleep(COOL_DOWN);
                n += 1;
                let d = boot(n);
                samples.push(d);
                total += d;
            }
            total
        })
    });
}

/// The sandbox's, the process's and the peers' boots, benched into the
/// callers' groups, with what each printed summary needs.
pub struct Boots {
    images: Images,
    report: Vec<(&'static str, Vec<Duration>)>,
    phase_report: Vec<(&'static str, Phases)>,
}

impl Boots {
    /// The rootfs and bundle, written to a new temp dir.
    pub fn new() -> Boots {
        if !is_root() {
            for what in ["boot/sandbox", "boot/sandbox-root"] {
                record::skipped(what, "needs root (cgroups)");
            }
        }
        Boots {
            images: Images::new(),
            report: Vec::new(),
            phase_report: Vec::new(),
        }
    }

    /// `sandbox`, `sandbox-root` (as root) and `process` in `g`: from the
    /// library call to the ready word.
    pub fn bench_in_process(&mut self, g: &mut Group<'_>) {
        let mut sandbox = Config::sandbox(self.images.rootfs());
        sandbox.ns.user = Some(UserNs::rootless());
        sandbox.limits = Limits {
            memory: Some(256 << 20),
            pids: Some(64),
            cpus: None,
        };
        if is_root() {
            let (mut s, mut p) = (Vec::new(), Phases::new());
            bench_each(g, CALL_TO_READY, "sandbox", &mut s, |_| {
                library_boot(&sandbox, &mut p)
            });
            self.report.push(("boot/sandbox", s));
            self.phase_report.push(("boot/sandbox", p));
            let mut root = sandbox.clone();
            root.ns.user = None;
            let (mut s, mut p) = (Vec::new(), Phases::new());
            bench_each(g, CALL_TO_READY, "sandbox-root", &mut s, |_| {
                library_boot(&root, &mut p)
            });
            self.report.push(("boot/sandbox-root", s));
            self.phase_report.push(("boot/sandbox-root", p));
        }
        let process = Config::process(self.images.rootfs().join("init"));
        let (mut s, mut p) = (Vec::new(), Phases::new());
        bench_each(g, CALL_TO_READY, "process", &mut s, |_| {
            library_boot(&process, &mut p)
        });
        self.report.push(("boot/process", s));
    }

    /// `crun` and `bwrap` in `g`: from the spawn of the tool to the ready
    /// word. Each is skipped, with the reason printed, where it cannot run.
    pub fn bench_spawned(&mut self, g: &mut Group<'_>) {
        match (is_root(), which("crun"), which("unshare")) {
            (true, Some(_), Some(_)) => {
                let bundle = self.images.bundle();
                let mut s = Vec::new();
                bench_each(g, SPAWN_TO_READY, "crun", &mut s, |n| {
                    tool_boot(crun_command(
                        &bundle,
                        &format!("vmlab-bench-{}-{n}", std::process::id()),
                    ))
                });
                self.report.push(("boot/crun (via unshare + sh)", s));
            }
            _ => record::skipped("boot/crun", "needs root, crun and unshare on PATH"),
        }
        match which("bwrap") {
            Some(_) => {
                let rootfs = self.images.rootfs();
                let mut s = Vec::new();
                bench_each(g, SPAWN_TO_READY, "bwrap", &mut s, |_| {
                    tool_boot(bwrap_command(&rootfs))
                });
                self.report.push(("boot/bwrap", s));
            }
            None => record::skipped("boot/bwrap", "bwrap not on PATH"),
        }
    }

    /// Prints each backend's to-ready summary and phase medians.
    pub fn print(self) {
        for (name, mut s) in self.report {
            summary(name, &mut s);
        }
        for (name, mut p) in self.phase_report {
            phase_summary(name, &mut p);
        }
    }
}
