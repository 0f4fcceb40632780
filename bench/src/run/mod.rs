//! `vmlab run`: boot the workload once in one backend.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Serialize;
// CLOCK_MONOTONIC in ns: the clock every backend's timings use.
use vmlab_sandbox::sys::monotonic_ns;

mod hint;
mod process;
mod sandbox;
mod vm;

/// The backends `vmlab run` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The workload as a plain process.
    Process,
    /// The vmlab namespace sandbox.
    Sandbox,
    /// The tiny VMM with the bare guest.
    VmBare,
    /// The tiny VMM with a Linux guest and the workload initramfs.
    VmLinux,
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
    /// Which backend boots the workload.
    #[arg(long, value_enum)]
    pub backend: Backend,
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
    /// Arguments for the workload (after `--`): kernels and options.
    #[arg(last = true)]
    pub workload: Vec<String>,
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
fn parse_timeout(arg: &str) -> Result<f64, String> {
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

/// What one run produced; `--json` prints it.
#[derive(Debug, Default, Serialize)]
pub struct RunOutput {
    /// Backend name.
    pub backend: String,
    /// The workload's exit code (also the process exit code).
    pub exit_code: u8,
    /// Start to the ready mark, in ns.
    pub to_ready_ns: Option<u64>,
    /// Start to everything gone and reaped, in ns.
    pub to_exit_ns: u64,
    /// Named phases, each as ns since start, in order.
    pub phases: Vec<(String, u64)>,
    /// Protocol marks (id, ns since start).
    pub marks: Vec<(u32, u64)>,
    /// Exit counts by kind (VM) or other counters.
    pub counters: BTreeMap<String, u64>,
    /// The workload's JSON result lines.
    pub results: Vec<serde_json::Value>,
    /// Facts about this run worth keeping (KVM kind, limits, ...).
    pub facts: BTreeMap<String, String>,
}

/// The fact holding CLOCK_MONOTONIC (ns) just before the backend started.
pub const START_FACT: &str = "start_monotonic_ns";

/// Runs `vmlab run` and returns the process exit code.
pub fn main(args: RunArgs) -> anyhow::Result<u8> {
    let started = monotonic_ns();
    let mut out = match args.backend {
        Backend::Process => process::run(&args)?,
        Backend::Sandbox => sandbox::run(&args)?,
        Backend::VmBare | Backend::VmLinux => vm::run(&args)?,
    };
    // A parent that spawned `vmlab run` (`vmlab compare`) turns the
    // in-process figures into end-to-end ones with this.
    out.facts
        .insert(START_FACT.to_string(), started.to_string());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_summary(&out);
    }
    Ok(out.exit_code)
}

/// The human-readable summary of one run, on stderr (stdout is the workload's).
fn print_summary(out: &RunOutput) {
    let ms = |ns: u64| ns as f64 / 1e6;
    match out.to_ready_ns {
        Some(r) => eprintln!(
            "{}: ready after {:.3} ms, exit {} after {:.3} ms",
            out.backend,
            ms(r),
            out.exit_code,
            ms(out.to_exit_ns)
        ),
        None => eprintln!(
            "{}: never signalled ready; exit {} after {:.3} ms",
            out.backend,
            out.exit_code,
            ms(out.to_exit_ns)
        ),
    }
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
