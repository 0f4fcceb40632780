//! `vmlab rig`: prove the Linux-guest path on hardware-style KVM without
//! VT-x or AMD-V, through nested virtualisation under emulation.
//!
//! 1. L1 is QEMU in TCG mode with an emulated AMD SVM CPU, booting the same
//!    Debian cloud kernel the VMM boots, from an uncompressed initramfs that
//!    holds busybox, that kernel's `irqbypass`, `kvm` and `kvm-amd` modules,
//!    this (static) `vmlab` binary and the L2 artifacts.
//! 2. L1's `/init` waits for its TSC clocksource to be final, loads the
//!    modules, then runs each check (`vmlab run --backend vm-linux|vm-bare`)
//!    and frames its output on a second serial port (see [`outcome`]).
//! 3. The host runs QEMU under a timeout, parses that channel and judges
//!    every check (see [`check`]).
//!
//! Every time the rig reports is emulated time: it proves behaviour, never
//! performance.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;

mod check;
mod image;
mod outcome;
mod qemu;

use check::{Check, Expect};

/// Arguments of `vmlab rig`.
#[derive(Args, Debug, Clone)]
pub struct RigArgs {
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Kill L1 after this many seconds (1 to 86400).
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..=crate::run::MAX_TIMEOUT_S))]
    pub timeout: u64,
    /// Guest kernel (bzImage) for L1 and L2. Default: $VMLAB_KERNEL, then the cache.
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Also run checks that must fail cleanly (corrupt initramfs, too little memory).
    #[arg(long)]
    pub negative: bool,
    /// Keep L1's console log and results channel in this directory.
    #[arg(long)]
    pub keep: Option<PathBuf>,
    /// Workload arguments for the L2 guests (after `--`).
    #[arg(last = true)]
    pub workload: Vec<String>,
}

/// L1's memory: room for its initramfs (~20 MiB), the L2 guest and slack.
const L1_MEM_MIB: u64 = 1024;
/// L2 guest memory for the Linux checks.
const L2_MEM_MIB: u64 = 256;
/// Each check inside L1 is killed after this many seconds.
const CHECK_TIMEOUT_S: u64 = 90;

/// What `vmlab rig --json` prints.
#[derive(Debug, Serialize)]
struct RigReport {
    passed: bool,
    /// Always true: nothing here is a performance figure.
    emulated: bool,
    note: &'static str,
    wall_s: f64,
    l1_timed_out: bool,
    l1_milestones_s: Vec<(String, f64)>,
    l1_failures: Vec<String>,
    checks: Vec<CheckReport>,
}

#[derive(Debug, Serialize)]
struct CheckReport {
    #[serde(flatten)]
    check: Check,
    passed: bool,
    reason: Option<String>,
    exit_code: Option<i32>,
    l1_seconds: Option<f64>,
    /// `vmlab run --json`'s output, when it printed one.
    run: Option<serde_json::Value>,
    stderr: Option<String>,
}

const NOTE: &str = "L1 runs under QEMU TCG emulation: times prove behaviour, not performance";

/// Runs the rig; the exit code is 0 when every check passed.
pub fn main(args: RigArgs) -> anyhow::Result<u8> {
    let spec = vmlab_workload::args::Spec::parse(args.workload.iter().map(String::as_str))
        .map_err(|e| anyhow::anyhow!("bad workload arguments: {e}"))?;
    let code = spec.exit.unwrap_or(0);
    let kernels: Vec<String> = spec.kernels().iter().map(|k| k.name().into()).collect();
    let checks = checks(&args, code, kernels);

    let inputs = image::Inputs::resolve(args.kernel.as_deref())?;
    // Private (new, 0700, random name): the L1 image and its logs.
    let work = tempfile::Builder::new()
        .prefix("vmlab-rig-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .context("cannot create a scratch directory for the rig in the temp dir (set TMPDIR?)")?;
    let l1_initramfs = image::build_l1(&inputs, &checks, CHECK_TIMEOUT_S, work.path())?;
    let console = work.path().join("console.log");
    let results = work.path().join("results.log");
    if !args.json {
        eprintln!(
            "rig: booting L1 (QEMU TCG, emulated SVM) with {} checks, timeout {} s ...",
            checks.len(),
            args.timeout
        );
    }
    let exit = qemu::run_l1(
        &inputs.kernel,
        &l1_initramfs,
        &console,
        &results,
        L1_MEM_MIB,
        Duration::from_secs(args.timeout),
    )?;
    let channel = std::fs::read_to_string(&results).unwrap_or_default();
    if let Some(keep) = &args.keep {
        std::fs::create_dir_all(keep)
            .with_context(|| format!("cannot create {}", keep.display()))?;
        for f in [&console, &results] {
            let to = keep.join(f.file_name().expect("named file"));
            std::fs::copy(f, &to).with_context(|| format!("cannot copy to {}", to.display()))?;
        }
    }
    let l1 = outcome::parse(&channel);
    let mut reports = Vec::new();
    for c in checks {
        let run = l1.checks.iter().find(|r| r.name == c.name);
        let verdict = check::judge(&c, run);
        reports.push(CheckReport {
            passed: verdict.is_ok(),
            reason: verdict.err(),
            exit_code: run.map(|r| r.rc),
            l1_seconds: run.map(|r| r.t1 - r.t0),
            run: run.and_then(|r| serde_json::from_str(&r.stdout).ok()),
            stderr: run.map(|r| r.stderr.clone()).filter(|s| !s.is_empty()),
            check: c,
        });
    }
    let report = RigReport {
        passed: !exit.timed_out && l1.done && reports.iter().all(|r| r.passed),
        emulated: true,
        note: NOTE,
        wall_s: exit.wall.as_secs_f64(),
        l1_timed_out: exit.timed_out,
        l1_milestones_s: l1.milestones,
        l1_failures: l1.failures,
        checks: reports,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report, &console);
    }
    if report.l1_timed_out && !args.json {
        bail!(
            "L1 did not finish within {} s; its console log ends with:\n{}",
            args.timeout,
            console_tail(&console)
        );
    }
    Ok(if report.passed { 0 } else { 1 })
}

/// The checks of one rig run: the Linux and bare guests with the user's
/// workload arguments, and optionally the boots that must fail cleanly.
fn checks(args: &RigArgs, code: u8, kernels: Vec<String>) -> Vec<Check> {
    let run = |backend: &str, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["--backend", backend, "--json", "--timeout", "60"]
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        v.push("--".into());
        v.extend(args.workload.iter().cloned());
        v
    };
    let linux = [
        "--kernel",
        image::L2_KERNEL,
        "--initramfs",
        image::L2_INITRAMFS,
    ];
    let mem = L2_MEM_MIB.to_string();
    let mut checks = vec![
        Check {
            name: "vm-linux".into(),
            argv: run("vm-linux", &[&linux[..], &["--mem", &mem]].concat()),
            expect: Expect::Exit {
                code,
                kernels: kernels.clone(),
            },
        },
        Check {
            name: "vm-bare".into(),
            argv: run("vm-bare", &[]),
            expect: Expect::Exit { code, kernels },
        },
    ];
    if args.negative {
        checks.push(Check {
            name: "vm-linux-corrupt-initramfs".into(),
            argv: run(
                "vm-linux",
                &[
                    "--kernel",
                    image::L2_KERNEL,
                    "--initramfs",
                    image::L2_CORRUPT_INITRAMFS,
                    "--mem",
                    &mem,
                ],
            ),
            expect: Expect::Error {
                contains: "kernel panic".into(),
            },
        });
    }
    checks
}

fn print_summary(r: &RigReport, console: &std::path::Path) {
    eprintln!(
        "rig: {} (L1 wall {:.1} s; {NOTE})",
        verdict(r.passed),
        r.wall_s
    );
    for (m, t) in &r.l1_milestones_s {
        eprintln!("  L1 {m:<6} at {t:6.2} s (L1 uptime)");
    }
    for f in &r.l1_failures {
        eprintln!("  L1 failure: {f}");
    }
    for c in &r.checks {
        let secs = c.l1_seconds.map_or("-".into(), |s| format!("{s:.2} s"));
        eprintln!("  {:<28} {:<4} {secs:>8}", c.check.name, verdict(c.passed));
        if let Some(why) = &c.reason {
            eprintln!("      {why}");
        }
    }
    if !r.passed && r.checks.iter().all(|c| c.exit_code.is_none()) {
        eprintln!("L1 console ends with:\n{}", console_tail(console));
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

fn console_tail(console: &std::path::Path) -> String {
    let text = std::fs::read_to_string(console).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}
