//! The `vmlab compare` command: its arguments, the backends they select,
//! and the run from the images to the written report.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use vmlab_reports::model::{KvmKind, Results, RunConfig};

use super::backend::Backend;
use super::progress::Progress;
use super::{images, matrix, oci, ours, peers, results, ALL, PEERS};
use crate::host;

/// Arguments of `vmlab compare`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Backends to run, comma-separated (default: all of ours and every
    /// peer): process, sandbox, vm-bare, vm-linux, crun, runc, bwrap, runsc,
    /// qemu, firecracker.
    #[arg(long, value_delimiter = ',')]
    pub backends: Vec<String>,
    /// Add every peer to the --backends selection.
    #[arg(long)]
    pub peers: bool,
    /// Measured boot rounds (default 20; 5 with --quick).
    #[arg(long)]
    pub runs: Option<u32>,
    /// A short run (fewer rounds, 20 ms per kernel, one boot of emulated VMs).
    #[arg(long)]
    pub quick: bool,
    /// Where results.json and index.html go.
    #[arg(long, default_value = "target/vmlab/report")]
    pub out: PathBuf,
    /// Print results.json on stdout as well.
    #[arg(long)]
    pub json: bool,
    /// Images directory (built there when missing).
    #[arg(long, default_value = "target/vmlab/images")]
    pub images: PathBuf,
    /// Markdown and CSV exports of the summary.
    #[command(flatten)]
    pub export: crate::export::ExportArgs,
}

/// The backend names `args` selects, in report order.
pub fn selection(args: &CompareArgs) -> anyhow::Result<Vec<&'static str>> {
    for name in &args.backends {
        if !ALL.contains(&name.as_str()) {
            anyhow::bail!(
                "unknown backend `{name}` in --backends; known: {}",
                ALL.join(", ")
            );
        }
    }
    if args.backends.is_empty() {
        return Ok(ALL.to_vec());
    }
    Ok(ALL
        .into_iter()
        .filter(|n| args.backends.iter().any(|b| b == n) || (args.peers && PEERS.contains(n)))
        .collect())
}

/// Every selected backend, constructed for this host.
pub fn backends(
    names: &[&str],
    exe: PathBuf,
    images: PathBuf,
    facts: &vmlab_reports::model::HostFacts,
    quick: bool,
) -> Vec<Box<dyn Backend>> {
    use ours::{Ours, Which};
    let kvm: KvmKind = facts.kvm;
    names
        .iter()
        .map(|&name| -> Box<dyn Backend> {
            let ours = |w| Box::new(Ours::new(w, exe.clone(), images.clone(), kvm));
            match name {
                "process" => ours(Which::Process),
                "sandbox" => ours(Which::Sandbox),
                "vm-bare" => ours(Which::VmBare),
                "vm-linux" => ours(Which::VmLinux),
                "crun" => Box::new(oci::Oci::new(
                    oci::Runtime::Crun,
                    images.clone(),
                    facts.cgroup_mode,
                )),
                "runc" => Box::new(oci::Oci::new(
                    oci::Runtime::Runc,
                    images.clone(),
                    facts.cgroup_mode,
                )),
                "runsc" => Box::new(oci::Oci::new(
                    oci::Runtime::Runsc,
                    images.clone(),
                    facts.cgroup_mode,
                )),
                "bwrap" => Box::new(peers::Bwrap::new(images.clone())),
                "qemu" => Box::new(peers::Qemu::new(images.clone(), kvm, quick)),
                _ => Box::new(peers::Firecracker::new(images.clone(), kvm)),
            }
        })
        .collect()
}

/// Runs the comparison; returns the process exit code.
pub fn main(args: CompareArgs) -> anyhow::Result<u8> {
    let started = Instant::now();
    let names = selection(&args)?;
    let runs = args.runs.unwrap_or(if args.quick { 5 } else { 20 });
    if runs == 0 {
        anyhow::bail!("--runs must be at least 1");
    }
    args.export.check()?;
    let plan = matrix::Plan::new(runs, args.quick);
    let needs_kernel = names
        .iter()
        .any(|n| ["vm-linux", "qemu", "firecracker"].contains(n));
    let manifest = images::ensure_built(&args.images, needs_kernel, false)?;
    let facts = host::facts();
    let exe = std::env::current_exe().context("cannot locate the vmlab binary")?;
    let all = backends(&names, exe, args.images.clone(), &facts, args.quick);

    let probes: Vec<_> = all.iter().map(|b| b.probe()).collect();
    let available: Vec<&dyn Backend> = all
        .iter()
        .zip(&probes)
        .filter(|(_, p)| p.is_ok())
        .map(|(b, _)| b.as_ref())
        .collect();
    for (b, p) in all.iter().zip(&probes) {
        if let Err(why) = p {
            eprintln!("vmlab: {} skipped: {why}", b.name());
        }
    }
    let progress = Progress::bar(matrix::total_steps(&available, &plan));
    let measured = matrix::run(&available, &plan, &progress);
    progress.finish();
    let sizes = images::measure(&args.images, &manifest, false)?;

    let mut results = Results::new(
        facts,
        host::tools(),
        host::git_revision(),
        RunConfig {
            runs,
            quick: args.quick,
            warmup: plan.warmup,
            ..RunConfig::default()
        },
    );
    let mut next = measured.iter();
    for (b, p) in all.iter().zip(&probes) {
        let r = match p {
            Err(why) => results::skipped(b.name(), b.kind(), why),
            Ok(probe) => {
                let m = next.next().context("the matrix lost a backend")?;
                for e in &m.errors {
                    eprintln!("vmlab: warning: a run of {} failed: {e}", b.name());
                }
                for e in &m.kernel_errors {
                    eprintln!("vmlab: note: {} could not run kernel {e}", b.name());
                }
                let image = images::image_of(b.name(), &sizes);
                results::measured(b.name(), b.kind(), b.origin(), probe, m, image)
            }
        };
        results.backends.push(r);
    }
    results.images = images::artifacts(&sizes);

    let index = vmlab_reports::write_report(&results, None, &args.out)
        .with_context(|| format!("cannot write the report in {}", args.out.display()))?;
    args.export.write(&results).with_context(|| {
        format!(
            "results.json is in {}: export it again with `vmlab report {}` and the export flags",
            args.out.display(),
            args.out.join("results.json").display()
        )
    })?;
    if args.json {
        println!("{}", results.to_json());
    }
    eprint!("{}", results::summary(&results.backends));
    eprintln!(
        "vmlab: report in {} ({:.0} s)",
        index.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(backends: &[&str], peers: bool) -> CompareArgs {
        CompareArgs {
            backends: backends.iter().map(|s| s.to_string()).collect(),
            peers,
            runs: None,
            quick: true,
            out: PathBuf::from("o"),
            json: false,
            images: PathBuf::from("i"),
            export: Default::default(),
        }
    }

    #[test]
    fn selection_keeps_report_order() {
        assert_eq!(selection(&args(&[], false)).unwrap(), ALL.to_vec());
        assert_eq!(
            selection(&args(&["crun", "process"], false)).unwrap(),
            ["process", "crun"]
        );
        let with_peers = selection(&args(&["sandbox"], true)).unwrap();
        assert_eq!(with_peers[0], "sandbox");
        assert_eq!(with_peers.len(), 1 + PEERS.len());
        let e = selection(&args(&["docker"], false))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown backend `docker`") && e.contains("bwrap"),
            "{e}"
        );
    }
}
