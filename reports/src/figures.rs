//! Figures derived from raw samples: boot summaries (timeouts censored),
//! overhead ratios with their flag, and which figures are native. Charts,
//! claims and the page share them.
use serde::Serialize;

use crate::model::{BackendKind, BackendResult, Results};
use crate::stats::{as_f64, median, ratio_ci, Summary, BEATS_PROCESS_NOISE};

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
    /// Distribution-free 95 % interval of the ratio, low end (NaN when
    /// either side has fewer than 7 samples).
    pub ci_lo: f64,
    /// The interval's high end (NaN when n is too small).
    pub ci_hi: f64,
    /// The backend beats the plain process by more than noise (ratio below
    /// 1 − 5 % with the whole interval below 1): suspicious, so flagged.
    pub beats_process: bool,
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
            let (ci_lo, ci_hi) =
                ratio_ci(&k.ns_per_iter, &base.ns_per_iter).unwrap_or((f64::NAN, f64::NAN));
            out.push(OverheadRatio {
                kernel: kernel.clone(),
                backend: b.name.clone(),
                label: b.label(),
                kind: b.kind,
                emulated: b.emulated,
                ratio,
                ci_lo,
                ci_hi,
                beats_process: ratio < 1.0 - BEATS_PROCESS_NOISE && ci_hi < 1.0,
                n: k.ns_per_iter.len(),
                n_ref: base.ns_per_iter.len(),
            });
        }
    }
    out
}

/// Boot runs of a backend that timed out: censored samples of its boot times.
pub fn boot_timeouts(b: &BackendResult) -> usize {
    b.failures
        .iter()
        .filter(|f| f.timed_out && (f.purpose.is_empty() || f.purpose == "boot"))
        .count()
}

/// Start-to-ready summary of a backend, its boot timeouts counted as
/// censored samples (slower than every measured one).
pub fn ready(b: &BackendResult) -> Option<Summary> {
    Summary::with_censored(&as_f64(&b.boot.to_ready_ns), boot_timeouts(b))
}

/// Start-to-exit summary of a backend.
pub fn exit(b: &BackendResult) -> Option<Summary> {
    Summary::of(&as_f64(&b.boot.to_exit_ns))
}

/// Whether a backend's figures are native: not an emulated VM (software
/// nested KVM, TCG, the rig). On a pvm host every VM is emulated.
pub fn native(results: &Results, b: &BackendResult) -> bool {
    !(b.emulated || (b.kind == BackendKind::Vm && results.host.kvm.is_software()))
}
