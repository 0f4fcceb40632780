//! Our backends (process, sandbox, vm-bare, vm-linux), measured end to end
//! like the peers: `vmlab run --backend X --json -- ARGS` is spawned and
//! timed from the spawn. The child reports its in-process timings and the
//! CLOCK_MONOTONIC instant it started the backend; the gap from the spawn
//! to that instant (exec, loader, argument parsing) becomes a first phase,
//! `launch`, and is added to the in-process to-ready figure. To-exit is
//! measured by the parent (the child reaped). In-process figures, without
//! the launch, are what `cargo bench --bench boot` measures.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use super::backend::{launch_error, outcome_lines, Backend, Prepared, Sample, SkipReason};
use super::launch::{launch_opts, Launched, Options, JSON_CAP};
use crate::id::BackendId;
use crate::record::{RunRecord, START_FACT};

/// One of our backends, run through the `vmlab` binary.
#[derive(Debug, Clone)]
pub struct Ours {
    id: BackendId,
    /// The `vmlab` binary.
    exe: PathBuf,
    /// The images directory.
    images: PathBuf,
}

impl Ours {
    /// How an I/O run reaches the disk and the link: adds to the
    /// workload's `args` and returns `vmlab run`'s own flags.
    fn io_devices(&self, args: &mut Vec<String>, disk: &Path, tap: String) -> Vec<String> {
        let host_disk = disk.display().to_string();
        match self.id {
            // The process opens the file itself.
            BackendId::Process => {
                args.extend(["--disk".into(), host_disk]);
                Vec::new()
            }
            // The sandbox binds the disk in (`vmlab run --disk`) at the
            // containers' inside path.
            BackendId::Sandbox => {
                args.extend(["--disk".into(), crate::io::disk::INSIDE.into()]);
                vec!["--disk".into(), host_disk]
            }
            // vm-bare: jailed, the disk as virtio-blk, the link's TAP as
            // virtio-net.
            _ => vec!["--disk".into(), host_disk, "--tap".into(), tap],
        }
    }

    /// `id` (one of ours), launched through `exe` on the images in `images`.
    pub fn new(id: BackendId, exe: PathBuf, images: PathBuf) -> Self {
        debug_assert!(id.is_ours(), "{id} is not one of ours");
        Ours { id, exe, images }
    }
}

impl Backend for Ours {
    fn id(&self) -> BackendId {
        self.id
    }

    fn check_images(&self) -> Result<(), SkipReason> {
        if self.id != BackendId::VmLinux {
            return Ok(());
        }
        let manifest = vmlab_images::manifest::Manifest::read(&self.images)
            .map_err(|e| SkipReason(e.to_string()))?;
        if manifest.kernel.is_none() {
            return Err(SkipReason(format!(
                "no guest kernel in the images; {}",
                vmlab_images::kernel::HOW_TO_GET_ONE
            )));
        }
        Ok(())
    }

    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>> {
        Ok(Prepared::new(self.run_command(args, false, &[])))
    }

    fn io(&self) -> Result<super::io::Reach, SkipReason> {
        match self.id {
            BackendId::Process | BackendId::Sandbox => Ok(super::io::Reach::ALL),
            BackendId::VmBare => Ok(super::io::Reach::VM),
            _ => Err(SkipReason(super::io::NO_VIRTIO.into())),
        }
    }

    fn io_boot(
        &self,
        args: &[String],
        disk: &std::path::Path,
        link: &crate::io::Link,
    ) -> anyhow::Result<Sample> {
        let timeout = self.timeout();
        let mut args = args.to_vec();
        let devices = self.io_devices(&mut args, disk, link.subnet().tap_if());
        let mut cmd = self.run_command(&args, true, &devices);
        link.enter_on_spawn(&mut cmd)?;
        let l = launch_opts(&mut cmd, Options::vmlab_run(timeout, false))?;
        end_to_end(self.id.name(), &l, timeout)
    }

    fn boot(&self, args: &[String], memory: bool) -> anyhow::Result<Sample> {
        let timeout = self.timeout();
        let mut prepared = self.command(args)?;
        let l = launch_opts(&mut prepared.cmd, Options::vmlab_run(timeout, memory))?;
        end_to_end(self.id.name(), &l, timeout)
    }

    fn linux_kernels(&self) -> bool {
        self.id != BackendId::VmBare
    }

    fn new_netns(&self) -> bool {
        self.id == BackendId::Sandbox
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }
}

impl Ours {
    /// `vmlab run` for `args`; `io`: inside a prepared network namespace,
    /// which the sandbox then shares (`--net host`) instead of making one;
    /// `flags`: more of `vmlab run`'s own (the sandbox's or a VM's disk, a
    /// VM's TAP).
    fn run_command(&self, args: &[String], io: bool, flags: &[String]) -> Command {
        let mut cmd = Command::new(&self.exe);
        cmd.args(["run", "--backend", self.id.name(), "--json", "--timeout"])
            .arg(format!("{}", self.timeout().as_secs_f64() * 0.9))
            .arg("--images")
            .arg(&self.images);
        if self.id == BackendId::Sandbox {
            // Like the peers (crun, runc, bwrap bring `lo` up), so that the
            // tcp kernel runs and boot figures include the same work.
            cmd.args(["--net", if io { "host" } else { "loopback" }]);
        }
        cmd.args(flags).arg("--").args(args);
        cmd
    }
}

/// The end-to-end sample from a `vmlab run --json` launch.
fn end_to_end(name: &str, l: &Launched, timeout: Duration) -> anyhow::Result<Sample> {
    if l.stdout_dropped > 0 {
        anyhow::bail!(
            "`vmlab run --backend {name} --json` wrote {} bytes to stdout, more than the {} MiB \
             compare keeps for its report; the workload's own output must not reach that stdout",
            JSON_CAP as u64 + l.stdout_dropped,
            JSON_CAP >> 20
        );
    }
    let report: Option<RunRecord> = serde_json::from_str(&l.stdout).ok();
    let report = match report {
        Some(r) if !l.timed_out && (r.exit_code == 0 || r.kernel_failed()) => r,
        _ => {
            let message = format!("`vmlab run --backend {name}` {}", l.describe(timeout));
            return Err(launch_error(l, timeout, message));
        }
    };
    let started = report
        .started()
        .with_context(|| format!("`vmlab run --json` output has no {START_FACT} fact"))?;
    let gap = started.saturating_sub(l.spawned_at_ns);
    let to_ready = report
        .to_ready_ns
        .with_context(|| format!("{name} never signalled ready"))?;
    let mut phases = vec![("launch".to_string(), gap)];
    phases.extend(report.phases.into_iter().map(|(n, t)| (n, gap + t)));
    Ok(Sample {
        to_ready_ns: Some(gap + to_ready),
        to_exit_ns: l.to_exit_ns,
        phases,
        results: outcome_lines(report.results),
        max_rss_bytes: l.max_rss_bytes,
        tree_hwm_bytes: l.tree_hwm_bytes,
        tree_pss_bytes: l.tree_pss_bytes,
        dropped_bytes: l.stderr_dropped,
        ..Sample::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launched(stdout: &str) -> Launched {
        Launched {
            spawned_at_ns: 1_000,
            to_exit_ns: 9_000,
            code: Some(0),
            stdout: stdout.into(),
            max_rss_bytes: 4096,
            ..Launched::default()
        }
    }

    #[test]
    fn the_sandbox_binds_the_disk_and_its_workload_is_told_where() {
        let ours = |id| Ours {
            id,
            exe: "/vmlab".into(),
            images: "/img".into(),
        };
        let args = |c: &Command| -> Vec<String> {
            c.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let disk = Path::new("/d.img");
        let mut w = vec!["blk-rand".to_string()];
        let flags = ours(BackendId::Sandbox).io_devices(&mut w, disk, "vt1".into());
        let c = ours(BackendId::Sandbox).run_command(&w, true, &flags);
        let a = args(&c);
        let dash = a.iter().position(|x| x == "--").unwrap();
        let bind = a.iter().position(|x| x == "--disk").unwrap();
        assert!(bind < dash && a[bind + 1] == "/d.img", "{a:?}");
        assert_eq!(a[dash + 1..], ["blk-rand", "--disk", "/tmp/vmlab-disk"]);
        assert!(a.windows(2).any(|w| w == ["--net", "host"]), "{a:?}");
        assert_eq!(
            ours(BackendId::Sandbox).io(),
            Ok(super::super::io::Reach::ALL)
        );
        // The process gets no bind: it opens the file itself.
        let mut w = Vec::new();
        assert!(ours(BackendId::Process)
            .io_devices(&mut w, disk, "vt1".into())
            .is_empty());
        assert_eq!(w, ["--disk", "/d.img"]);
        // A VM: the disk as virtio-blk and the link's TAP.
        let mut w = Vec::new();
        let flags = ours(BackendId::VmBare).io_devices(&mut w, disk, "vt1".into());
        assert_eq!(flags, ["--disk", "/d.img", "--tap", "vt1"]);
        assert!(w.is_empty());
    }

    #[test]
    fn adds_the_launch_gap() {
        let out = r#"{"backend":"process","exit_code":0,"to_ready_ns":500,"to_exit_ns":700,
            "phases":[["clone",100],["exec",300]],"marks":[],"counters":{},
            "results":[{"vmlab":"result","kernel":"cpu","iters":1,"total_ns":2,"ns_per_iter":2.0,"bytes":0}],
            "facts":{"start_monotonic_ns":"3000"}}"#;
        let s = end_to_end("process", &launched(out), Duration::from_secs(1)).unwrap();
        assert_eq!(s.to_ready_ns, Some(2_500));
        assert_eq!(s.to_exit_ns, 9_000);
        assert_eq!(
            s.phases,
            vec![
                ("launch".to_string(), 2_000),
                ("clone".to_string(), 2_100),
                ("exec".to_string(), 2_300)
            ]
        );
        assert_eq!(s.kernel_timings(), vec![("cpu".to_string(), 2.0)]);
    }

    #[test]
    fn failures_say_what_happened() {
        let mut l = launched("");
        l.code = Some(1);
        l.stderr = "vmlab: error: no rootfs\n".into();
        let e = end_to_end("sandbox", &l, Duration::from_secs(1)).unwrap_err();
        assert!(
            e.to_string()
                .contains("exited with code 1: vmlab: error: no rootfs"),
            "{e}"
        );
        let mut flooded = launched(r#"{"exit_code":0"#);
        flooded.stdout_dropped = 10;
        let e = end_to_end("process", &flooded, Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("more than the 4 MiB"), "{e}");
        let no_start =
            r#"{"backend":"sandbox","exit_code":0,"to_ready_ns":5,"to_exit_ns":9,"facts":{}}"#;
        let e = end_to_end("sandbox", &launched(no_start), Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains(START_FACT), "{e}");
    }
}
