//! Baseline comparison: which figures moved between an older results file
//! and this one, with only significant changes marked (see
//! [`crate::stats::compare`]).
use serde::Serialize;

use crate::charts::{fmt_ns, fmt_ratio};
use crate::model::Results;
use crate::stats::{as_f64, compare, median};

/// One compared metric of one backend.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineRow {
    /// Backend label.
    pub backend: String,
    /// Metric name (`boot.to_ready`, `overhead.cpu`, ...).
    pub metric: String,
    /// Baseline median, formatted.
    pub before: String,
    /// Current median, formatted.
    pub after: String,
    /// Ratio current / baseline, formatted.
    pub ratio: String,
    /// 95 % bootstrap CI of the ratio, formatted.
    pub ci: String,
    /// Permutation-test p-value, formatted.
    pub p: String,
    /// Whether the change is significant.
    pub significant: bool,
    /// "slower" or "faster" when significant.
    pub direction: &'static str,
}

/// The comparison of two runs.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// When the baseline was generated.
    pub generated_at: String,
    /// The baseline's git revision.
    pub git_revision: String,
    /// Host facts that differ between the runs (figures may not be comparable).
    pub host_differences: Vec<String>,
    /// One row per metric present in both runs.
    pub rows: Vec<BaselineRow>,
    /// How many rows are significant.
    pub significant: usize,
}

fn row(
    backend: &str,
    metric: String,
    before: &[f64],
    after: &[f64],
    fmt: fn(f64) -> String,
) -> BaselineRow {
    let c = compare(before, after);
    BaselineRow {
        backend: backend.to_string(),
        metric,
        before: fmt(median(before)),
        after: fmt(median(after)),
        ratio: fmt_ratio(c.ratio),
        ci: format!("[{}, {}]", fmt_ratio(c.ci_lo), fmt_ratio(c.ci_hi)),
        p: format!("{:.4}", c.p),
        significant: c.significant,
        direction: match (c.significant, c.ratio > 1.0) {
            (false, _) => "",
            (true, true) => "slower",
            (true, false) => "faster",
        },
    }
}

fn fmt_ns_per_iter(v: f64) -> String {
    format!("{}/iter", fmt_ns(v))
}

/// Compares `current` against `baseline`, metric by metric.
pub fn compare_runs(baseline: &Results, current: &Results) -> Baseline {
    let mut rows = Vec::new();
    for b in current.backends.iter().filter(|b| b.available) {
        let Some(old) = baseline
            .backends
            .iter()
            .find(|o| o.name == b.name && o.available)
        else {
            continue;
        };
        let pairs = [
            ("boot.to_ready", &old.boot.to_ready_ns, &b.boot.to_ready_ns),
            ("boot.to_exit", &old.boot.to_exit_ns, &b.boot.to_exit_ns),
        ];
        for (metric, before, after) in pairs {
            if !before.is_empty() && !after.is_empty() {
                rows.push(row(
                    &b.label(),
                    metric.to_string(),
                    &as_f64(before),
                    &as_f64(after),
                    fmt_ns,
                ));
            }
        }
        for k in &b.overhead {
            let Some(ok) = old.overhead.iter().find(|o| o.kernel == k.kernel) else {
                continue;
            };
            if !ok.ns_per_iter.is_empty() && !k.ns_per_iter.is_empty() {
                rows.push(row(
                    &b.label(),
                    format!("overhead.{}", k.kernel),
                    &ok.ns_per_iter,
                    &k.ns_per_iter,
                    fmt_ns_per_iter,
                ));
            }
        }
    }
    let (h0, h1) = (&baseline.host, &current.host);
    let mut host_differences = Vec::new();
    let mut differ = |what: &str, a: String, b: String| {
        if a != b {
            host_differences.push(format!("{what}: {a} → {b}"));
        }
    };
    differ("CPU", h0.cpu_model.clone(), h1.cpu_model.clone());
    differ("cores", h0.cores.to_string(), h1.cores.to_string());
    differ("kernel", h0.kernel.clone(), h1.kernel.clone());
    differ("KVM", h0.kvm.label().into(), h1.kvm.label().into());
    differ(
        "cgroups",
        h0.cgroup_mode.label().into(),
        h1.cgroup_mode.label().into(),
    );
    let significant = rows.iter().filter(|r| r.significant).count();
    Baseline {
        generated_at: baseline.generated_at.clone(),
        git_revision: baseline.git_revision.clone(),
        host_differences,
        rows,
        significant,
    }
}
