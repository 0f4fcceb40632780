//! `vmlab scale --backends LIST [--max N] [--budget P] [--concurrency
//! LIST] [--time-limit S] [--json]`: held instances of each backend, one
//! after another (density) and many at once (concurrency).
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vmlab_bench::compare::{self, backend, probe::HostView};
use vmlab_bench::scale::holders::Holder;
use vmlab_bench::scale::{self, holders, indriver, Settings, Stopper};
use vmlab_bench::BackendId;
use vmlab_reports::model::ScaleResult;

/// Arguments of `vmlab scale`.
#[derive(Args, Debug, Clone)]
pub struct ScaleArgs {
    /// Backends to hold, comma-separated (default: process,sandbox).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub backends: Vec<BackendId>,
    /// Most instances held at once, per backend.
    #[arg(long, default_value_t = 1000)]
    pub max: u32,
    /// Memory the density run may spend: a share of MemAvailable (`50%`)
    /// or a size (`8G`).
    #[arg(long, default_value = "50%")]
    pub budget: String,
    /// Concurrency levels, comma-separated (those above --max are skipped).
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8,16,64")]
    pub concurrency: Vec<u32>,
    /// Seconds each backend's density run (and again its concurrency
    /// levels) may take; a slow backend stops early with the N it reached.
    #[arg(long, default_value_t = 120)]
    pub time_limit: u64,
    /// Also hold process and sandbox through `vmlab run` per instance
    /// (rows `process-run`, `sandbox-run`), beside the rows held in the
    /// driver through the sandbox library.
    #[arg(long)]
    pub via_run: bool,
    /// Also hold the sandbox with one part of its isolation taken away at
    /// a time (rows `sandbox-no-netns`, `-no-cgroup`, `-no-seccomp`,
    /// `-no-rootfs`, `-no-userns`) and the plain process in the sandbox's
    /// namespaces only (`process-in-ns`): what each part costs. Analysis
    /// rows, not isolations to use.
    #[arg(long)]
    pub ablate: bool,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Images directory (built there when missing).
    #[arg(long, default_value = "target/vmlab/images")]
    pub images: PathBuf,
    /// Internal: run as the janitor of the driver with this pid (see
    /// `cmd::janitor`).
    #[arg(long, hide = true)]
    pub janitor_for: Option<u32>,
}

/// The budget in bytes: `P%` of `available`, or a size no larger than
/// `total`.
pub fn budget_bytes(spec: &str, available: u64, total: u64) -> anyhow::Result<u64> {
    if let Some(p) = spec.strip_suffix('%') {
        let p: f64 = p
            .trim()
            .parse()
            .ok()
            .filter(|p: &f64| p.is_finite() && *p > 0.0 && *p <= 100.0)
            .with_context(|| {
                format!("--budget {spec:?}: a share must be above 0% and at most 100%")
            })?;
        return Ok((available as f64 * p / 100.0) as u64);
    }
    let bytes = vmlab_sandbox::config::parse_size(spec).map_err(|e| {
        anyhow::anyhow!("--budget {spec:?} is neither a share (50%) nor a size (8G): {e}")
    })?;
    if bytes == 0 {
        anyhow::bail!("--budget must be above zero");
    }
    if bytes > total {
        anyhow::bail!(
            "--budget {spec} is more than this host's memory ({} MiB): give a share such as 50%",
            total >> 20
        );
    }
    Ok(bytes)
}

/// The settings `args` describe; refuses what cannot run.
pub fn settings(args: &ScaleArgs) -> anyhow::Result<Settings> {
    if args.max == 0 {
        anyhow::bail!("--max must be at least 1 instance");
    }
    if args.concurrency.contains(&0) {
        anyhow::bail!("--concurrency levels must be at least 1");
    }
    if args.time_limit == 0 {
        anyhow::bail!("--time-limit must be at least 1 second");
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").context("cannot read /proc/meminfo")?;
    let total = vmlab_bench::host::mem_total(&meminfo);
    let available = scale::host::parse_mem_available(&meminfo).unwrap_or(total);
    Ok(Settings {
        max: args.max,
        budget_bytes: budget_bytes(&args.budget, available, total)?,
        time_limit: Duration::from_secs(args.time_limit),
        levels: args.concurrency.clone(),
    })
}

/// Holds `ids` as `s` says; one result per backend, a skipped one with its
/// reason as the failure.
pub fn measure_all(
    ids: &[BackendId],
    images: PathBuf,
    s: &Settings,
    stop: &Stopper,
    via_run: bool,
    ablate: bool,
) -> anyhow::Result<Vec<ScaleResult>> {
    let host = HostView::gather();
    let exe = std::env::current_exe().context("cannot locate the vmlab binary")?;
    let all = compare::backends(ids, exe.clone(), images.clone(), &host, true);
    let mut out = Vec::new();
    for (&id, b) in ids.iter().zip(all) {
        let skipped = |why: String| ScaleResult {
            backend: id.name().into(),
            kind: Some(id.kind()),
            stopped: "skipped".into(),
            failure: Some(why),
            budget_bytes: s.budget_bytes,
            ..Default::default()
        };
        if let Some(why) = holders::cannot_hold(id) {
            eprintln!("vmlab: {id} skipped: {why}");
            out.push(skipped(format!("{id} cannot hold instances: {why}")));
            continue;
        }
        let probe = match backend::probe(b.as_ref(), &host) {
            Ok(p) => p,
            Err(why) => {
                eprintln!("vmlab: {id} skipped: {why}");
                out.push(skipped(why.0));
                continue;
            }
        };
        if stop.fired() {
            break;
        }
        if id == BackendId::VmBare {
            let say = |line: &str| eprintln!("vmlab: {line}");
            for r in scale::zygote::rows::measure_all(&exe, &images, s, stop, probe.emulated, &say)?
            {
                eprintln!("vmlab: {}", summary(&r));
                out.push(r);
            }
            continue;
        }
        eprintln!("vmlab: {id}: holding up to {} instances", s.max);
        let holder = indriver::holder(id, exe.clone(), images.clone(), b)?;
        let mut r = scale::measure(holder.as_ref(), Some(id.kind()), s, stop)?;
        r.emulated = probe.emulated;
        eprintln!("vmlab: {}", summary(&r));
        out.push(r);
        if via_run && indriver::in_driver(id) && !stop.fired() {
            let name = indriver::run_row(id);
            eprintln!("vmlab: {name}: holding up to {} instances", s.max);
            let holder = indriver::via_run(id, exe.clone(), images.clone());
            let r = scale::measure(holder.as_ref(), Some(id.kind()), s, stop)?;
            eprintln!("vmlab: {}", summary(&r));
            out.push(r);
        }
        if ablate && id == BackendId::Sandbox {
            for holder in scale::ablate::rows(&images)? {
                if stop.fired() {
                    break;
                }
                eprintln!(
                    "vmlab: {}: holding up to {} instances",
                    holder.name(),
                    s.max
                );
                let r = scale::measure(&holder, Some(id.kind()), s, stop)?;
                eprintln!("vmlab: {}", summary(&r));
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// One line about `r`.
pub fn summary(r: &ScaleResult) -> String {
    let mib = |b: f64| b / (1u64 << 20) as f64;
    let per = match (r.bytes_per_instance, r.bytes_per_instance_ci) {
        (Some(b), Some((lo, hi))) => {
            format!(
                "{:.2} MiB/instance [{:.2}, {:.2}]",
                mib(b),
                mib(lo),
                mib(hi)
            )
        }
        (Some(b), None) => format!("{:.2} MiB/instance", mib(b)),
        _ => "no memory slope".into(),
    };
    let rate = r
        .creations_per_s
        .map(|c| format!("{c:.0}/s at {}", r.creations_at.unwrap_or(0)))
        .unwrap_or_else(|| "no rate".into());
    let ends = r
        .ready_ends_ns()
        .map(|(first, last, k)| {
            format!(
                ", to ready {:.2} -> {:.2} ms (first/last {k} starts)",
                first / 1e6,
                last / 1e6
            )
        })
        .unwrap_or_default();
    let failure = r
        .failure
        .as_ref()
        .map(|f| format!("; {f}"))
        .unwrap_or_default();
    format!(
        "{}: reached {} (stopped: {}), {per}{ends}, {rate}{failure}",
        r.backend, r.reached, r.stopped
    )
}

/// Runs `vmlab scale`; returns the exit code.
pub fn main(args: ScaleArgs) -> anyhow::Result<u8> {
    if let Some(owner) = args.janitor_for {
        return super::janitor::run(owner);
    }
    let stop = Stopper::install()?;
    vmlab_bench::compare::keep_inherited_fds_out();
    let s = settings(&args)?;
    s.lift_fd_limit();
    let ids = if args.backends.is_empty() {
        vec![BackendId::Process, BackendId::Sandbox]
    } else {
        args.backends.clone()
    };
    let cannot: Vec<String> = ids
        .iter()
        .filter_map(|&id| Some(format!("{id}: {}", holders::cannot_hold(id)?)))
        .collect();
    if cannot.len() == ids.len() {
        anyhow::bail!(
            "none of the backends asked for can hold instances ({}); hold process, sandbox, \
             vm-bare, crun, runc, runsc, bwrap or qemu",
            cannot.join("; ")
        );
    }
    compare::images::ensure_built(&args.images, false, false)?;
    // Sandboxes held in the driver leave their cgroups to it: a janitor
    // removes them once the driver is gone, should it be killed.
    let _janitor = if ids.contains(&BackendId::Sandbox) {
        super::janitor::spawn()
            .map_err(|e| {
                eprintln!(
                    "vmlab: warning: {e:#}; a killed run's cgroups wait for the next sandbox start"
                )
            })
            .ok()
    } else {
        None
    };
    let results = measure_all(
        &ids,
        args.images.clone(),
        &s,
        &stop,
        args.via_run,
        args.ablate,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    if stop.fired() {
        eprintln!("vmlab: interrupted; every held instance was torn down");
        return Ok(130);
    }
    Ok(u8::from(results.iter().any(|r| r.failure.is_some())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_shares_or_sizes_within_the_host() {
        assert_eq!(budget_bytes("50%", 1000, 2000).unwrap(), 500);
        assert_eq!(budget_bytes("1K", 1000, 2000).unwrap(), 1024);
        for bad in ["0%", "101%", "x%", "0", "3K", "lots"] {
            let e = budget_bytes(bad, 1000, 2048).unwrap_err().to_string();
            assert!(e.contains("--budget"), "{bad}: {e}");
        }
    }
}
