//! The `vmlab compare` command: its arguments, the backends they select,
//! and the run from the images to the written report.
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use vmlab_reports::model::{BackendResult, IsolationEvidence, Results, RunConfig};

use super::backend::{self, Backend, Probe, SkipReason};
use super::matrix;
use super::measured::Measured;
use super::probe::HostView;
use super::progress::Progress;
use super::{
    attacks, bare_peer, cloud_hypervisor, images, oci, order, ours, peers, protections, results,
    scale, traced, warm,
};
use crate::host;
use crate::id::BackendId;

/// Arguments of `vmlab compare`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Backends to run, comma-separated (default: all of ours and every
    /// peer).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub backends: Vec<BackendId>,
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
    /// Seed of the random backend order within each round (default: a fresh
    /// one, recorded in results.json; give it again to repeat an order).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print results.json on stdout as well.
    #[arg(long)]
    pub json: bool,
    /// Skip the warm-start section (cold against pool and restore starts).
    #[arg(long)]
    pub no_warm: bool,
    /// Images directory (built there when missing).
    #[arg(long, default_value = "target/vmlab/images")]
    pub images: PathBuf,
    /// Held instances per backend in the scale section.
    #[arg(long, default_value_t = scale::DEFAULT_MAX)]
    pub scale_max: u32,
    /// Leave out the scale section (held instances).
    #[arg(long)]
    pub no_scale: bool,
    /// Markdown and CSV exports of the summary.
    #[command(flatten)]
    pub export: crate::export::ExportArgs,
}

/// The backends `args` selects, in report order.
pub fn selection(args: &CompareArgs) -> Vec<BackendId> {
    if args.backends.is_empty() {
        return BackendId::ALL.to_vec();
    }
    BackendId::ALL
        .into_iter()
        .filter(|b| args.backends.contains(b) || (args.peers && !b.is_ours()))
        .collect()
}

/// Every backend in `ids`, constructed for `host`.
pub fn backends(
    ids: &[BackendId],
    exe: PathBuf,
    images: PathBuf,
    host: &HostView,
    quick: bool,
) -> Vec<Box<dyn Backend>> {
    let bare =
        |vmm| -> Box<dyn Backend> { Box::new(bare_peer::BarePeer::new(vmm, images.clone(), host)) };
    ids.iter()
        .map(|&id| -> Box<dyn Backend> {
            match id {
                BackendId::Process
                | BackendId::Sandbox
                | BackendId::VmBare
                | BackendId::VmLinux => Box::new(ours::Ours::new(id, exe.clone(), images.clone())),
                BackendId::Crun | BackendId::Runc | BackendId::Runsc => {
                    Box::new(oci::Oci::new(id, images.clone(), host))
                }
                BackendId::Bwrap => Box::new(peers::Bwrap::new(images.clone(), host)),
                BackendId::Qemu => Box::new(peers::Qemu::new(images.clone(), host, quick)),
                BackendId::QemuBare => bare(bare_peer::StockVmm::Qemu),
                BackendId::FirecrackerBare => bare(bare_peer::StockVmm::Firecracker),
                BackendId::CloudHypervisorBare => bare(bare_peer::StockVmm::CloudHypervisor),
                BackendId::CloudHypervisor => {
                    Box::new(cloud_hypervisor::CloudHypervisor::new(images.clone(), host))
                }
                BackendId::Firecracker => Box::new(peers::Firecracker::new(images.clone(), host)),
            }
        })
        .collect()
}

/// Marks every descriptor above stderr close-on-exec: what compare's
/// caller left open must not reach the backends (bwrap passes every
/// inherited descriptor on to the workload, which the attack battery
/// counts as a leak). Compare itself has opened nothing yet.
pub fn keep_inherited_fds_out() {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on
    // descriptors; it reads no memory.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
}

/// Runs the comparison; returns the process exit code.
pub fn main(args: CompareArgs) -> anyhow::Result<u8> {
    keep_inherited_fds_out();
    let started = Instant::now();
    let ids = selection(&args);
    let runs = args.runs.unwrap_or(if args.quick { 5 } else { 20 });
    if runs == 0 {
        anyhow::bail!("--runs must be at least 1");
    }
    if args.scale_max == 0 && !args.no_scale {
        anyhow::bail!("--scale-max must be at least 1 (or leave the section out with --no-scale)");
    }
    args.export.check()?;
    let seed = args.seed.unwrap_or_else(order::fresh_seed);
    let plan = matrix::Plan::new(runs, args.quick, seed);
    let needs_kernel = ids.iter().any(|b| b.boots_linux_guest());
    let manifest = images::ensure_built(&args.images, needs_kernel, false)?;
    let host = HostView::gather();
    let exe = std::env::current_exe().context("cannot locate the vmlab binary")?;
    let all = backends(&ids, exe.clone(), args.images.clone(), &host, args.quick);

    let probes: Vec<_> = all
        .iter()
        .map(|b| backend::probe(b.as_ref(), &host))
        .collect();
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
    let isolation = isolation_evidence(&available, &measured);
    let sizes = images::measure(&args.images, &manifest, false)?;

    let mut results = Results::new(
        host.host.clone(),
        host.tools(),
        host::git_revision(),
        RunConfig {
            runs,
            quick: args.quick,
            warmup: plan.warmup,
            order_seed: Some(seed),
        },
    );
    results.backends = backend_results(&all, &probes, &measured, &sizes)?;
    let bundle = protections::read_bundle(&args.images);
    for (r, b) in results.backends.iter_mut().zip(&all) {
        if r.available {
            r.protections = Some(protections::of(b.id(), bundle.as_ref()));
            r.isolation = isolation
                .iter()
                .find(|(n, _)| *n == b.name())
                .map(|(_, e)| e.clone());
        }
    }
    results.images = images::artifacts(&sizes);
    if !args.no_scale {
        let ran: Vec<BackendId> = available.iter().map(|b| b.id()).collect();
        results.scale = scale::section(&ran, &exe, &args.images, &host, args.scale_max)?;
    }
    results.warm =
        (!args.no_warm).then(|| warm::section(&exe, &args.images, &host, &ids, runs.min(20)));
    let index = write(&args, &results)?;
    eprintln!(
        "vmlab: report in {} ({:.0} s)",
        index.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// The isolation evidence of every backend that ran: one traced boot (its
/// host-syscall surface), then one boot with the attack battery.
fn isolation_evidence(
    available: &[&dyn Backend],
    measured: &[Measured],
) -> Vec<(&'static str, IsolationEvidence)> {
    let ran: Vec<&dyn Backend> = available
        .iter()
        .zip(measured)
        .filter(|(_, m)| m.failure.is_none())
        .map(|(b, _)| *b)
        .collect();
    let mut evidence: Vec<(&'static str, IsolationEvidence)> = ran
        .iter()
        .map(|b| {
            eprintln!(
                "vmlab: tracing one boot of {} ({})",
                b.name(),
                traced::TRACER
            );
            (b.name(), traced::isolation(*b))
        })
        .collect();
    for ((_, e), outcome) in evidence.iter_mut().zip(attacks::run_all(&ran)) {
        attacks::record(e, outcome);
    }
    evidence
}

/// Each backend's results: skipped with why, or what the matrix measured
/// (`measured` holds one entry per backend whose probe passed, in order).
fn backend_results(
    all: &[Box<dyn Backend>],
    probes: &[Result<Probe, SkipReason>],
    measured: &[Measured],
    sizes: &[vmlab_images::sizes::Size],
) -> anyhow::Result<Vec<BackendResult>> {
    let mut next = measured.iter();
    let mut out = Vec::new();
    for (b, p) in all.iter().zip(probes) {
        out.push(match p {
            Err(why) => results::skipped(b.name(), b.kind(), why),
            Ok(probe) => {
                let m = next.next().context("the matrix lost a backend")?;
                for f in m.failures.iter().filter(|_| m.failure.is_none()) {
                    let round = f.round.map_or(String::new(), |r| format!(" (round {r})"));
                    eprintln!(
                        "vmlab: warning: a {} run of {}{round} failed: {}",
                        f.purpose,
                        b.name(),
                        f.reason
                    );
                }
                for e in &m.kernel_errors {
                    eprintln!("vmlab: note: {} could not run kernel {e}", b.name());
                }
                let image = images::image_of(b.id(), sizes);
                results::measured(b.name(), b.kind(), b.origin(), probe, m, image)
            }
        });
    }
    Ok(out)
}

/// Writes the report, the exports and (`--json`) results.json on stdout,
/// and prints the summary; returns the report's index.html.
fn write(args: &CompareArgs, results: &Results) -> anyhow::Result<PathBuf> {
    let index = vmlab_reports::write_report(results, None, &args.out)
        .with_context(|| format!("cannot write the report in {}", args.out.display()))?;
    args.export.write(results).with_context(|| {
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
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(backends: &[BackendId], peers: bool) -> CompareArgs {
        CompareArgs {
            backends: backends.to_vec(),
            peers,
            runs: None,
            quick: true,
            out: PathBuf::from("o"),
            seed: None,
            json: false,
            no_warm: false,
            images: PathBuf::from("i"),
            scale_max: scale::DEFAULT_MAX,
            no_scale: false,
            export: Default::default(),
        }
    }

    #[test]
    fn selection_keeps_report_order() {
        use BackendId::*;
        assert_eq!(selection(&args(&[], false)), BackendId::ALL);
        assert_eq!(selection(&args(&[Crun, Process], false)), [Process, Crun]);
        let with_peers = selection(&args(&[Sandbox], true));
        assert_eq!(with_peers[0], Sandbox);
        assert_eq!(with_peers.len(), 1 + BackendId::peers().count());
    }

    #[test]
    fn each_backend_is_built_as_itself() {
        let host = super::super::probe::sample::view(vmlab_reports::model::KvmKind::Hardware);
        let all = backends(&BackendId::ALL, "vmlab".into(), "i".into(), &host, true);
        let ids: Vec<BackendId> = all.iter().map(|b| b.id()).collect();
        assert_eq!(ids, BackendId::ALL);
    }
}
