//! Figures derived from raw samples: boot summaries, overhead ratios, the
//! best container and the best VM. Charts, claims and the page share them.
use serde::Serialize;

use crate::model::{BackendKind, BackendResult, Results};
use crate::stats::{as_f64, bootstrap_ratio_ci, median, Summary, SEED};

/// One backend's time for one kernel relative to the plain process.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadRatio {
    /// Workload kernel.
    pub kernel: String,
    /// Backend name.
    pub backend: String,
    /// Backend label ("(emulated)" added).
    pub label: String,
    /// Backend kind.
    pub kind: BackendKind,
    /// Guest code emulated.
    pub emulated: bool,
    /// median(backend) / median(process).
    pub ratio: f64,
    /// Bootstrap CI low end.
    pub ci_lo: f64,
    /// Bootstrap CI high end.
    pub ci_hi: f64,
    /// Backend samples.
    pub n: usize,
    /// Process samples.
    pub n_ref: usize,
}

/// The kernels measured by any backend, in first-seen order.
pub fn kernels(results: &Results) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for b in results.backends.iter().filter(|b| b.available) {
        for k in &b.overhead {
            if !out.contains(&k.kernel) {
                out.push(k.kernel.clone());
            }
        }
    }
    out
}

/// Overhead ratios of every non-reference backend and kernel the reference
/// process also measured.
pub fn overhead_ratios(results: &Results) -> Vec<OverheadRatio> {
    let Some(reference) = results.reference() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for kernel in kernels(results) {
        let Some(base) = reference.overhead.iter().find(|k| k.kernel == kernel) else {
            continue;
        };
        if base.ns_per_iter.is_empty() {
            continue;
        }
        for b in results
            .backends
            .iter()
            .filter(|b| b.available && b.kind != BackendKind::Process)
        {
            let Some(k) = b.overhead.iter().find(|k| k.kernel == kernel) else {
                continue;
            };
            if k.ns_per_iter.is_empty() {
                continue;
            }
            let ratio = median(&k.ns_per_iter) / median(&base.ns_per_iter);
            let (ci_lo, ci_hi) = bootstrap_ratio_ci(&k.ns_per_iter, &base.ns_per_iter, SEED);
            out.push(OverheadRatio {
                kernel: kernel.clone(),
                backend: b.name.clone(),
                label: b.label(),
                kind: b.kind,
                emulated: b.emulated,
                ratio,
                ci_lo,
                ci_hi,
                n: k.ns_per_iter.len(),
                n_ref: base.ns_per_iter.len(),
            });
        }
    }
    out
}

/// Start-to-ready summary of a backend.
pub fn ready(b: &BackendResult) -> Option<Summary> {
    Summary::of(&as_f64(&b.boot.to_ready_ns))
}

/// Start-to-exit summary of a backend.
pub fn exit(b: &BackendResult) -> Option<Summary> {
    Summary::of(&as_f64(&b.boot.to_exit_ns))
}

/// The available backend of `kind` with the smallest `metric`.
pub fn best(
    results: &Results,
    kind: BackendKind,
    metric: impl Fn(&BackendResult) -> Option<f64>,
) -> Option<(&BackendResult, f64)> {
    results
        .backends
        .iter()
        .filter(|b| b.available && b.kind == kind)
        .filter_map(|b| metric(b).filter(|v| v.is_finite()).map(|v| (b, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}
