//! The OCI runtimes (crun, runc, runsc) on the images' runtime bundle.
//!
//! Each boot gets its own bundle directory (a copy of the built
//! `config.json` with the workload's arguments and an absolute path to the
//! built rootfs) and a unique container id; the container is deleted
//! (`delete -f`) and the directory removed on every path. The directory is
//! private ([`super::private`]): new, random, mode 0700, so no other user
//! can choose what the runtime runs as root. To-ready is when
//! the workload's `{"vmlab":"ready"}` line arrives on the runtime's piped
//! stdout; to-exit is when `RUNTIME run` is reaped.
//!
//! Host quirks handled here: Debian's crun 1.8 refuses hybrid cgroups, so
//! on a hybrid host it runs in a private mount namespace with the v2 mount
//! removed; runsc needs `--network=none --platform=ptrace`.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use vmlab_reports::model::CgroupMode;

use super::backend::{Backend, Prepared, SkipReason};
use super::peers::path_of;
use super::private;
use super::probe::HostView;
use crate::id::BackendId;

/// Container ids: unique per process and boot.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Global options of `runtime` that go before the subcommand.
fn global_args(runtime: BackendId) -> &'static [&'static str] {
    match runtime {
        BackendId::Runsc => &["--network=none", "--platform=ptrace"],
        _ => &[],
    }
}

/// Where `runtime` keeps a container's state (None: not known, always delete).
fn state_dir(runtime: BackendId, id: &str) -> Option<PathBuf> {
    match runtime {
        BackendId::Crun => Some(Path::new("/run/crun").join(id)),
        BackendId::Runc => Some(Path::new("/run/runc").join(id)),
        _ => None,
    }
}

/// An OCI runtime on the images' bundle.
#[derive(Debug, Clone)]
pub struct Oci {
    /// crun, runc or runsc.
    runtime: BackendId,
    /// The images directory.
    images: PathBuf,
    /// The runtime binary, when installed.
    path: Option<PathBuf>,
    /// Whether crun needs the hybrid-cgroup wrapper.
    hybrid: bool,
}

impl Oci {
    /// `runtime` (crun, runc or runsc) as `host` found it, on the bundle
    /// in `images`.
    pub fn new(runtime: BackendId, images: PathBuf, host: &HostView) -> Self {
        debug_assert!(
            matches!(
                runtime,
                BackendId::Crun | BackendId::Runc | BackendId::Runsc
            ),
            "{runtime} is not an OCI runtime"
        );
        Oci {
            runtime,
            images,
            path: path_of(host, runtime),
            hybrid: host.host.cgroup_mode == CgroupMode::Hybrid,
        }
    }

    /// The command for `args` (e.g. `run --bundle B ID`), wrapped when needed.
    fn command(&self, path: &Path, args: &[&str]) -> Command {
        if self.runtime == BackendId::Crun && self.hybrid {
            let mut c = Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg("umount /sys/fs/cgroup/unified && exec \"$@\"")
                .arg("sh")
                .arg(path)
                .args(args);
            c
        } else {
            let mut c = Command::new(path);
            c.args(global_args(self.runtime)).args(args);
            c
        }
    }

    /// Deletes container `id` if the runtime still knows it.
    fn delete(&self, path: &Path, id: &str) {
        if state_dir(self.runtime, id).is_some_and(|d| !d.exists()) {
            return;
        }
        let force = if self.runtime == BackendId::Runsc {
            "--force"
        } else {
            "-f"
        };
        let _ = self
            .command(path, &["delete", force, id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A new private bundle directory holding `config` as `config.json`
/// (removed when the guard is dropped).
pub fn write_bundle(config: &serde_json::Value) -> anyhow::Result<tempfile::TempDir> {
    let dir = private::dir()?;
    private::write_new(
        &dir.path().join("config.json"),
        config.to_string().as_bytes(),
    )?;
    Ok(dir)
}

/// `config.json` of the built bundle with `args` for the workload and the
/// rootfs at `rootfs`.
pub fn bundle_config(
    built: &serde_json::Value,
    rootfs: &Path,
    args: &[String],
) -> anyhow::Result<serde_json::Value> {
    let mut config = built.clone();
    let root = config
        .get_mut("root")
        .and_then(|r| r.as_object_mut())
        .context("the bundle's config.json has no root")?;
    root.insert("path".into(), rootfs.display().to_string().into());
    let process = config
        .get_mut("process")
        .and_then(|p| p.as_object_mut())
        .context("the bundle's config.json has no process")?;
    let mut argv = vec![serde_json::Value::from("/init")];
    argv.extend(args.iter().map(|a| serde_json::Value::from(a.as_str())));
    process.insert("args".into(), argv.into());
    Ok(config)
}

impl Oci {
    /// A boot with `args`; with `io`, for the I/O kernels: in the network
    /// namespace it is spawned in, the disk file `io` bound in.
    fn prepare(&self, args: &[String], io: Option<&Path>) -> anyhow::Result<Prepared<'_>> {
        let path = self
            .path
            .as_ref()
            .with_context(|| format!("{} is not installed", self.runtime.name()))?;
        let built = self.images.join("bundle");
        let text = std::fs::read(built.join("config.json"))
            .with_context(|| format!("cannot read {}/config.json", built.display()))?;
        let built_config: serde_json::Value = serde_json::from_slice(&text)
            .with_context(|| format!("{}/config.json is not JSON", built.display()))?;
        let rootfs = std::path::absolute(built.join("rootfs"))?;
        let mut config = bundle_config(&built_config, &rootfs, args)?;
        if let Some(disk) = io {
            super::io::oci_config(&mut config, disk)?;
        }

        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let id = format!("vmlab-{}-{n}", std::process::id());
        // Kept until the container is deleted: the runtime reads it until then.
        let dir = write_bundle(&config)?;
        let bundle = dir.path().display().to_string();
        let mut cmd = self.command(path, &["run", "--bundle", &bundle, &id]);
        if io.is_some() && self.runtime == BackendId::Runsc {
            // gVisor's host networking: the Sentry's sockets are host
            // sockets in the namespace it was started in (the link's).
            let argv: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
            cmd = Command::new(path);
            cmd.args(argv.iter().map(|a| {
                if a == "--network=none" {
                    "--network=host".into()
                } else {
                    a.clone()
                }
            }));
        }
        Ok(Prepared::new(cmd)
            .keeping(dir)
            .then(move || self.delete(path, &id)))
    }
}

impl Backend for Oci {
    fn id(&self) -> BackendId {
        self.runtime
    }

    fn command(&self, args: &[String]) -> anyhow::Result<Prepared<'_>> {
        self.prepare(args, None)
    }

    fn io(&self) -> Result<super::io::Reach, SkipReason> {
        Ok(super::io::Reach::ALL)
    }

    fn io_command(&self, args: &[String], disk: &Path) -> anyhow::Result<Prepared<'_>> {
        self.prepare(args, Some(disk))
    }

    fn untraceable(&self) -> Option<String> {
        (self.runtime == BackendId::Runsc).then(|| {
            "runsc cannot run under strace here: its ptrace platform traces the workload itself"
                .to_string()
        })
    }

    fn own_kernel(&self) -> bool {
        // gVisor serves the workload's calls in its Sentry.
        self.runtime == BackendId::Runsc
    }

    fn new_netns(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_gets_args_and_an_absolute_rootfs() {
        let built = serde_json::json!({
            "process": {"args": ["/init"], "cwd": "/"},
            "root": {"path": "rootfs", "readonly": true}
        });
        let c = bundle_config(
            &built,
            Path::new("/x/rootfs"),
            &["cpu".into(), "--time".into(), "5ms".into()],
        )
        .unwrap();
        assert_eq!(c["root"]["path"], "/x/rootfs");
        assert_eq!(c["root"]["readonly"], true);
        assert_eq!(
            c["process"]["args"],
            serde_json::json!(["/init", "cpu", "--time", "5ms"])
        );
        assert_eq!(c["process"]["cwd"], "/");
        assert!(bundle_config(&serde_json::json!({}), Path::new("/r"), &[]).is_err());
    }

    /// Where the old code put the bundles of this process: `vmlab-PID-N.bundle`.
    fn old_bundle_paths() -> Vec<PathBuf> {
        (0..16)
            .map(|n| std::env::temp_dir().join(format!("vmlab-{}-{n}.bundle", std::process::id())))
            .collect()
    }

    #[test]
    fn bundles_ignore_what_is_planted_at_the_old_paths() {
        let planted = private::planted::Planted::dirs(&old_bundle_paths());
        let config = serde_json::json!({"process": {"args": ["/init"]}});
        let mut seen = Vec::new();
        for _ in 0..4 {
            let b = write_bundle(&config).unwrap();
            assert!(!planted.covers(b.path()), "{}", b.path().display());
            private::planted::assert_private(b.path(), &["config.json"]);
            let written: serde_json::Value =
                serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap())
                    .unwrap();
            assert_eq!(written, config);
            assert!(!seen.contains(&b.path().to_path_buf()));
            seen.push(b.path().to_path_buf());
        }
        planted.untouched().unwrap();
        assert!(seen.iter().all(|p| !p.exists()), "removed on drop");
        // Positive control: the old writer at the old path is caught.
        private::planted::naive_write_in(&old_bundle_paths()[1], "config.json", b"{}").unwrap();
        assert!(planted.untouched().is_err());
    }

    #[test]
    fn crun_is_wrapped_on_hybrid_hosts_only() {
        let crun = |mode| Oci {
            runtime: BackendId::Crun,
            images: PathBuf::from("/i"),
            path: Some(PathBuf::from("/usr/bin/crun")),
            hybrid: mode == CgroupMode::Hybrid,
        };
        let c = crun(CgroupMode::Hybrid).command(Path::new("/usr/bin/crun"), &["run", "x"]);
        assert_eq!(c.get_program(), "unshare");
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args
            .iter()
            .any(|a| a.contains("umount /sys/fs/cgroup/unified")));
        assert_eq!(&args[args.len() - 3..], ["/usr/bin/crun", "run", "x"]);
        let c = crun(CgroupMode::V2).command(Path::new("/usr/bin/crun"), &["run", "x"]);
        assert_eq!(c.get_program(), "/usr/bin/crun");
    }

    #[test]
    fn runsc_gets_its_flags() {
        let r = Oci {
            runtime: BackendId::Runsc,
            images: PathBuf::from("/i"),
            path: None,
            hybrid: true,
        };
        let c = r.command(Path::new("/usr/bin/runsc"), &["run"]);
        let args: Vec<_> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["--network=none", "--platform=ptrace", "run"]);
    }
}
