//! The I/O section's figures: per I/O kernel, the plain process's absolute
//! figure and every other backend's ratio to it (time per iteration, with
//! the interval of [`crate::figures::overhead_ratios`]), each backend's own
//! figure, and why a row is not like for like when it is not.
//!
//! A row is *not like for like* when the backend beats the plain process
//! beyond noise (its ratio's whole interval below 1× and the ratio below
//! 1 − 5 %): the process's I/O goes to the very same kind of target (the
//! same raw file with `O_DIRECT`, the same kind of veth link), so an
//! isolated run that is faster did not do the same I/O (a cache of its own
//! answered, or its traffic took another path). Such a row carries the
//! reason instead of being read as a cost; the rule is the measurement's,
//! not a list of runtimes.
use serde::Serialize;

use crate::figures::{native, overhead_ratios, OverheadRatio};
use crate::model::{BackendKind, KernelSamples, Results};
use crate::stats::median;

/// The I/O kernels, in the section's order.
pub const IO_KERNELS: [&str; 4] = ["net-rr", "net-stream", "blk-rand", "blk-seq"];

/// Whether `kernel` (a name or `name/mode`) is one of [`IO_KERNELS`].
pub fn is_io(kernel: &str) -> bool {
    let base = kernel.split('/').next().unwrap_or(kernel);
    IO_KERNELS.contains(&base)
}

/// What a kernel's headline figure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Headline {
    /// Round-trip latency: p50 (and p99) of one iteration.
    Latency,
    /// Throughput, MiB/s.
    Throughput,
    /// Operations per second (10⁹ / ns per iteration), with the p99 latency.
    Iops,
}

impl Headline {
    /// The headline of `kernel`.
    pub fn of(kernel: &str) -> Headline {
        match kernel.split('/').next().unwrap_or(kernel) {
            "net-rr" => Headline::Latency,
            "blk-rand" => Headline::Iops,
            _ => Headline::Throughput,
        }
    }

    /// Its unit.
    pub fn unit(self) -> &'static str {
        match self {
            Headline::Latency => "ns",
            Headline::Throughput => "MiB/s",
            Headline::Iops => "IOPS",
        }
    }
}

/// A kernel's figure in one backend: medians over the runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IoFigure {
    /// What it is.
    pub headline: Headline,
    /// Its value, in [`Headline::unit`]: the median p50 latency, throughput
    /// or IOPS.
    pub value: f64,
    /// The median of the runs' p99 latencies, ns, where recorded.
    pub p99_ns: Option<f64>,
    /// Runs.
    pub n: usize,
}

fn median_of<T: Copy + Into<f64>>(v: &[T]) -> Option<f64> {
    let v: Vec<f64> = v.iter().map(|&x| x.into()).collect();
    (!v.is_empty()).then(|| median(&v))
}

/// The figure of `k`, or `None` when it has no samples (or lacks what its
/// headline needs: throughput and p50 come from the result lines).
pub fn figure(k: &KernelSamples) -> Option<IoFigure> {
    let headline = Headline::of(&k.kernel);
    let p50: Vec<f64> = k.p50_ns.iter().map(|&x| x as f64).collect();
    let p99: Vec<f64> = k.p99_ns.iter().map(|&x| x as f64).collect();
    let value = match headline {
        Headline::Latency => median_of(&p50)?,
        Headline::Throughput => median_of(&k.mib_per_s)?,
        Headline::Iops => 1e9 / median_of(&k.ns_per_iter)?,
    };
    Some(IoFigure {
        headline,
        value,
        p99_ns: median_of(&p99),
        n: k.ns_per_iter.len(),
    })
}

/// One backend's row for one kernel.
#[derive(Debug, Clone, Serialize)]
pub struct IoCell {
    /// The ratio to the plain process (time per iteration).
    pub ratio: OverheadRatio,
    /// The backend's own figure.
    pub figure: Option<IoFigure>,
    /// Its figures are native (not an emulated VM).
    pub native: bool,
    /// Why the ratio is no cost of isolation, when it is not.
    pub not_like_for_like: Option<String>,
}

/// One kernel (with its mode) across backends.
#[derive(Debug, Clone, Serialize)]
pub struct IoKernelRow {
    /// `net-rr`, `net-stream/up`, `blk-rand/read`, ...
    pub kernel: String,
    /// What the figures are.
    pub headline: Headline,
    /// The plain process's figure.
    pub process: Option<IoFigure>,
    /// Every other backend that ran it.
    pub backends: Vec<IoCell>,
}

/// Why `r` (a ratio that beats the process) is not like for like.
fn why_not_like(r: &OverheadRatio) -> String {
    let what = if r.kernel.starts_with("blk-") {
        "the plain process's O_DIRECT I/O to the same kind of file: its I/O did not all reach \
         the disk (a cache of its own answered)"
    } else {
        "the plain process over the same kind of link: its traffic did not take the same path"
    };
    format!(
        "{} was faster than {what}; ratio {:.2}× ({:.2}–{:.2}) is no cost of isolation",
        r.backend, r.ratio, r.ci_lo, r.ci_hi
    )
}

/// The section, kernels in [`IO_KERNELS`] order then by mode; empty when
/// the plain process ran none of them.
pub fn section(results: &Results) -> Vec<IoKernelRow> {
    let Some(reference) = results.reference() else {
        return Vec::new();
    };
    let ratios = overhead_ratios(results);
    let mut kernels: Vec<&KernelSamples> = reference
        .overhead
        .iter()
        .filter(|k| is_io(&k.kernel))
        .collect();
    let rank = |k: &str| {
        IO_KERNELS
            .iter()
            .position(|b| k.split('/').next() == Some(b))
    };
    kernels.sort_by_key(|k| rank(&k.kernel));
    kernels
        .into_iter()
        .map(|k| {
            let backends = ratios
                .iter()
                .filter(|r| r.kernel == k.kernel)
                .filter_map(|r| {
                    let b = results.backends.iter().find(|b| b.name == r.backend)?;
                    let samples = b.overhead.iter().find(|s| s.kernel == k.kernel)?;
                    Some(IoCell {
                        ratio: r.clone(),
                        figure: figure(samples),
                        native: native(results, b),
                        not_like_for_like: r.beats_process.then(|| why_not_like(r)),
                    })
                })
                .collect();
            IoKernelRow {
                kernel: k.kernel.clone(),
                headline: Headline::of(&k.kernel),
                process: figure(k),
                backends,
            }
        })
        .collect()
}

/// Whether any row of the section is a VM's.
pub fn has_vm(rows: &[IoKernelRow]) -> bool {
    rows.iter()
        .flat_map(|r| &r.backends)
        .any(|c| c.ratio.kind == BackendKind::Vm)
}

#[cfg(test)]
mod tests;
