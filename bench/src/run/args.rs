//! The arguments of `vmlab run`.
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, ValueEnum};
use serde::Serialize;
use vmlab_bench::BackendId;

/// `--backend`: one of ours, by the name [`BackendId`] gives it.
fn ours() -> impl TypedValueParser<Value = BackendId> {
    let names = BackendId::ours().filter_map(|b| b.to_possible_value());
    PossibleValuesParser::new(names).try_map(|name| BackendId::from_str(&name, false))
}

/// Network setup for the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Net {
    /// A new network namespace with nothing in it.
    None,
    /// A new network namespace with `lo` up.
    Loopback,
    /// The host's network namespace.
    Host,
}

/// Arguments of `vmlab run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Which backend boots the workload (one of vmlab's own).
    #[arg(long, value_parser = ours())]
    pub backend: BackendId,
    /// Directory of built images (see `vmlab images build`).
    #[arg(long, default_value = "target/vmlab/images")]
    pub images: PathBuf,
    /// Guest kernel (vm-linux): bzImage or vmlinux ELF. Default: $VMLAB_KERNEL, then the cache.
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Initramfs for vm-linux. Default: the one in the images directory.
    #[arg(long)]
    pub initramfs: Option<PathBuf>,
    /// Guest memory in MiB (vm-*).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=vmlab_vmm::memory::MAX_MIB))]
    pub mem: u64,
    /// Give up after this many seconds (at most a day); the VM or sandbox is killed.
    #[arg(long, default_value_t = 30.0, value_parser = parse_timeout)]
    pub timeout: f64,
    /// Print one JSON object with timings, exit counts and results.
    #[arg(long)]
    pub json: bool,
    /// Sandbox: no user namespace, so the workload is real root on the host
    /// (weaker isolation; labelled so in the results). By default root
    /// inside the sandbox is an unprivileged id outside.
    #[arg(long)]
    pub host_root: bool,
    /// Sandbox: network namespace setup.
    #[arg(long, value_enum, default_value_t = Net::None)]
    pub net: Net,
    /// Sandbox: memory limit (e.g. 256M, or `max`). Default: a quarter of
    /// the host's memory.
    #[arg(long)]
    pub memory: Option<String>,
    /// Sandbox: maximum number of processes (or `max`). Default: 1024.
    #[arg(long)]
    pub pids: Option<String>,
    /// Sandbox: CPU limit in cores (e.g. 0.5).
    #[arg(long)]
    pub cpus: Option<f64>,
    /// vm-*: run the VMM without its jail (in this process, as the caller,
    /// with every capability and no seccomp filter; labelled `jail: off`).
    /// By default the VMM runs in a forked child in its own namespaces and
    /// an empty root, unprivileged, under a seccomp allow-list.
    #[arg(long)]
    pub no_jail: bool,
    /// vm-bare, vm-linux: boot from this snapshot (written by `vmlab snapshot`)
    /// instead of cold; the workload's arguments and the guest memory
    /// size are the snapshot's (--mem does not apply).
    /// `to_ready` counts from the start of the restore.
    #[arg(long, value_name = "FILE")]
    pub restore: Option<PathBuf>,
    /// With --restore: also read the whole memory image and check its
    /// checksum first (by default only the header and the state are
    /// checked, so that memory stays demand-paged).
    #[arg(long, requires = "restore")]
    pub verify_snapshot: bool,
    /// The blk kernels' disk, a raw file (its contents are overwritten).
    /// Sandbox: bound read-write (`nosuid,nodev,noexec`) at
    /// /tmp/vmlab-disk inside (give the workload `--disk /tmp/vmlab-disk`);
    /// a regular file, never a link; with the user namespace it must be
    /// readable and writable by the host id the sandbox runs as (nobody
    /// when started by root, else the caller). vm-*: a virtio-blk disk on
    /// it (read-write, opened with O_DIRECT like the process's disk).
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
    /// vm-*: a virtio-net device on the TAP interface NAME in the current
    /// network namespace (attached, or created and gone after the run;
    /// needs root). Its addresses, bridge and link state are the caller's.
    #[arg(long, value_name = "NAME")]
    pub tap: Option<String>,
    /// Arguments for the workload (after `--`): kernels and options.
    #[arg(last = true)]
    pub workload: Vec<String>,
}

impl RunArgs {
    /// The arguments `vmlab run --backend B` has (every other flag at its default).
    pub fn for_backend(backend: BackendId) -> RunArgs {
        use clap::{Command, FromArgMatches};
        let name = backend.to_string();
        let m = RunArgs::augment_args(Command::new("run")).get_matches_from([
            "run",
            "--backend",
            name.as_str(),
        ]);
        RunArgs::from_arg_matches(&m).expect("the defaults parse")
    }
}

/// The longest timeout any command accepts, in seconds: a day.
pub const MAX_TIMEOUT_S: u64 = 86_400;

/// Checks a timeout in seconds: finite, positive and at most
/// [`MAX_TIMEOUT_S`]; returns it as a duration.
pub fn timeout_of(secs: f64) -> Result<Duration, String> {
    if !(secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT_S as f64) {
        return Err(format!(
            "{secs} is not a timeout: give a number of seconds above 0 and at most \
             {MAX_TIMEOUT_S} (a day)"
        ));
    }
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{secs} s is too short a timeout"))
}

/// `--timeout` as clap parses it (see [`timeout_of`]).
pub(super) fn parse_timeout(arg: &str) -> Result<f64, String> {
    let secs: f64 = arg
        .trim()
        .parse()
        .map_err(|_| format!("{arg:?} is not a number of seconds"))?;
    timeout_of(secs).map(|_| secs)
}

/// `--timeout` as a duration, for the backends (clap checked it already;
/// this keeps a caller that builds [`RunArgs`] by hand just as safe).
pub fn timeout(secs: f64) -> anyhow::Result<Duration> {
    timeout_of(secs).map_err(|e| anyhow::anyhow!("--timeout: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_finite_positive_and_at_most_a_day() {
        for bad in [
            "0",
            "-1",
            "nan",
            "inf",
            "-inf",
            "1e20",
            "1e19",
            "18446744074",
            "86400.5",
            "x",
            "",
            "1e-30",
        ] {
            assert!(parse_timeout(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(parse_timeout("30"), Ok(30.0));
        assert_eq!(parse_timeout("0.25"), Ok(0.25));
        assert_eq!(parse_timeout("86400"), Ok(86400.0));
        assert_eq!(timeout(1.5).unwrap(), Duration::from_millis(1500));
        assert!(timeout(f64::MAX)
            .unwrap_err()
            .to_string()
            .contains("--timeout"));
    }
}
