//! The launcher configurations of `vmlab run --backend sandbox` and
//! `--backend process`, built in one place: `vmlab run` builds them from
//! its flags, and `vmlab scale`'s in-driver holders build the very same
//! ones for held instances (see [`crate::scale::indriver`]).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use vmlab_sandbox::config::parse_size;
use vmlab_sandbox::{Config, Limits, Net, SysMount};

/// What `vmlab run` lets a user choose about a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The rootfs directory.
    pub rootfs: PathBuf,
    /// The workload's arguments.
    pub workload: Vec<String>,
    /// Kill the workload after this long.
    pub timeout: Duration,
    /// Network namespace setup.
    pub net: Net,
    /// No user namespace: the workload is real root on the host.
    pub host_root: bool,
    /// Memory limit as given (`256M`, `max`); `None`: the default.
    pub memory: Option<String>,
    /// Process limit as given (a number, `max`); `None`: the default.
    pub pids: Option<String>,
    /// CPU limit in cores.
    pub cpus: Option<f64>,
    /// A host file bound read-write at [`crate::io::disk::INSIDE`] (the
    /// blk kernels' disk).
    pub disk: Option<PathBuf>,
}

impl SandboxOptions {
    /// `vmlab run`'s defaults for `workload` on `rootfs`.
    pub fn new(rootfs: PathBuf, workload: Vec<String>, timeout: Duration) -> SandboxOptions {
        SandboxOptions {
            rootfs,
            workload,
            timeout,
            net: Net::None,
            host_root: false,
            memory: None,
            pids: None,
            cpus: None,
            disk: None,
        }
    }
}

/// Whether the workload is held (`--hold`): it then gets the caller's
/// stdin (closing it releases the workload) and stdout (its ready line
/// shows as it happens), so that a driver can hold many instances.
pub fn holds(workload: &[String]) -> bool {
    workload.iter().any(|a| a == "--hold")
}

/// The sandbox configuration `o` describes.
pub fn sandbox(o: &SandboxOptions) -> anyhow::Result<Config> {
    let mut c = Config::sandbox(&o.rootfs);
    c.args = o.workload.clone();
    c.timeout = o.timeout;
    c.pass_stdio = holds(&o.workload);
    c.ns.net = o.net;
    c.bind_file = o.disk.as_ref().map(|host| vmlab_sandbox::FileBind {
        host: host.clone(),
        inside: crate::io::disk::INSIDE.into(),
    });
    if o.net == Net::Host {
        // A sysfs mount in a user namespace needs a network namespace that
        // namespace owns; the one the sandbox shares here (the host's, or
        // the one `vmlab compare` spawned it in for the I/O kernels) is
        // not. The workload reads nothing in /sys.
        c.sys = SysMount::Absent;
    }
    let root = nix::unistd::geteuid().as_raw() == 0;
    if o.host_root {
        if !root {
            anyhow::bail!("--host-root needs root (it runs the workload as real root on the host)");
        }
        c.ns.user = None;
    }
    let defaults = c.limits;
    let memory = match o.memory.as_deref() {
        None => defaults.memory,
        Some("max") => None,
        Some(m) => Some(parse_size(m).context("--memory")?),
    };
    let pids = match o.pids.as_deref() {
        None => defaults.pids,
        Some("max") => None,
        Some(p) => Some(p.parse::<u64>().map_err(|_| {
            anyhow::anyhow!("--pids {p:?} is not a number of processes (or `max`)")
        })?),
    };
    c.limits = Limits {
        memory,
        pids,
        cpus: o.cpus,
    };
    if !root {
        // Without root, a cgroup needs delegation: only try when asked to limit.
        c.cgroup = c.limits.any();
        // Only root may set a device policy (v1 devices files, v2 BPF); a
        // user without root cannot make device nodes for a rootfs either.
        c.devices = false;
    }
    Ok(c)
}

/// The plain-process configuration: `binary` with `workload`, every
/// isolation off (the caller adds `TMPDIR` where it has one).
pub fn process(binary: PathBuf, workload: Vec<String>, timeout: Duration) -> Config {
    let mut c = Config::process(binary);
    c.pass_stdio = holds(&workload);
    c.args = workload;
    c.timeout = timeout;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_workload_is_given_stdio_and_the_options_apply() {
        let mut o = SandboxOptions::new(
            "/nonexistent/rootfs".into(),
            vec!["--hold".into()],
            Duration::from_secs(5),
        );
        o.memory = Some("64M".into());
        o.pids = Some("max".into());
        o.net = Net::Host;
        let c = sandbox(&o).unwrap();
        assert!(c.pass_stdio && c.seccomp && c.drop_caps && c.ns.pid);
        assert_eq!((c.limits.memory, c.limits.pids), (Some(64 << 20), None));
        assert_eq!((c.ns.net, c.sys), (Net::Host, SysMount::Absent));
        o.workload = vec!["boot".into()];
        o.pids = Some("lots".into());
        let e = sandbox(&o).unwrap_err().to_string();
        assert!(e.contains("--pids"), "{e}");
        o.pids = None;
        assert!(!sandbox(&o).unwrap().pass_stdio);
        let p = process(
            "/bin/true".into(),
            vec!["--hold".into()],
            Duration::from_secs(1),
        );
        assert!(p.pass_stdio && !p.seccomp && !p.ns.pid && !p.cgroup);
    }
}
