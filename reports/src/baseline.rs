//! Baseline comparison: which figures moved between an older results file
//! and this one.
//!
//! A figure is "changed" only when all of these hold:
//! - both runs have at least 6 samples of it;
//! - its Mann–Whitney p-value survives Holm's correction over every
//!   compared figure at family-wise level [`ALPHA`];
//! - its median moved by more than its noise threshold: [`NOISE_FLOOR`]
//!   (2 %), or the figure's own A/A spread (later half against earlier half
//!   of the same run, either run) where that is larger.
//!
//! The A/A calibration applies the same rule to the same-run splits: how
//! many of them would read "changed" when nothing changed.
use serde::Serialize;

use crate::charts::{fmt_ns, fmt_ratio};
use crate::model::{BackendResult, Results};
use crate::stats::{aa_split, as_f64, compare, holm_adjusted, median, Change, ALPHA, NOISE_FLOOR};

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
    /// 95 % distribution-free interval of the ratio, formatted.
    pub ci: String,
    /// Holm-adjusted p-value, formatted ("n too small" when it has no test).
    pub p: String,
    /// The noise threshold this row had to exceed, formatted.
    pub threshold: String,
    /// Whether the change counts (see the module docs).
    pub significant: bool,
    /// "slower" or "faster" when significant.
    pub direction: &'static str,
}

/// What the same test says about a run against itself.
#[derive(Debug, Clone, Serialize)]
pub struct AaCalibration {
    /// Same-run splits compared (figures with at least 12 samples, both runs).
    pub compared: usize,
    /// How many of them the rule would call "changed".
    pub would_change: usize,
    /// Median |ratio − 1| of the splits, formatted as a percentage.
    pub median_spread: String,
    /// Largest |ratio − 1| of the splits, formatted as a percentage.
    pub max_spread: String,
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
    /// The A/A calibration, when any figure has enough samples to split.
    pub aa: Option<AaCalibration>,
    /// The rule, in words.
    pub rule: String,
}

/// One metric's samples in both runs.
struct Pair {
    backend: String,
    metric: String,
    before: Vec<f64>,
    after: Vec<f64>,
    fmt: fn(f64) -> String,
}

fn fmt_ns_per_iter(v: f64) -> String {
    format!("{}/iter", fmt_ns(v))
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn pairs(old: &BackendResult, b: &BackendResult) -> Vec<Pair> {
    let mut out = Vec::new();
    let boot = [
        ("boot.to_ready", &old.boot.to_ready_ns, &b.boot.to_ready_ns),
        ("boot.to_exit", &old.boot.to_exit_ns, &b.boot.to_exit_ns),
    ];
    for (metric, before, after) in boot {
        out.push(Pair {
            backend: b.label(),
            metric: metric.to_string(),
            before: as_f64(before),
            after: as_f64(after),
            fmt: fmt_ns,
        });
    }
    for k in &b.overhead {
        if let Some(ok) = old.overhead.iter().find(|o| o.kernel == k.kernel) {
            out.push(Pair {
                backend: b.label(),
                metric: format!("overhead.{}", k.kernel),
                before: ok.ns_per_iter.clone(),
                after: k.ns_per_iter.clone(),
                fmt: fmt_ns_per_iter,
            });
        }
    }
    out.retain(|p| !p.before.is_empty() && !p.after.is_empty());
    out
}

/// The noise threshold of one figure: the floor, or its A/A spread.
fn threshold(p: &Pair) -> f64 {
    [&p.before, &p.after]
        .into_iter()
        .filter_map(|xs| aa_split(xs))
        .map(|c| (c.ratio - 1.0).abs())
        .filter(|x| x.is_finite())
        .fold(NOISE_FLOOR, f64::max)
}

/// Whether each change counts, with the Holm-adjusted p-values.
fn decide(changes: &[Change], thresholds: &[f64]) -> (Vec<bool>, Vec<f64>) {
    let tested: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].enough_n() && changes[i].ratio.is_finite())
        .collect();
    let ps: Vec<f64> = tested.iter().map(|&i| changes[i].p).collect();
    let adjusted = holm_adjusted(&ps);
    let mut p_adj = vec![f64::NAN; changes.len()];
    let mut counts = vec![false; changes.len()];
    for (&i, &p) in tested.iter().zip(&adjusted) {
        p_adj[i] = p;
        counts[i] = p <= ALPHA && (changes[i].ratio - 1.0).abs() > thresholds[i];
    }
    (counts, p_adj)
}

fn calibration(pairs: &[Pair]) -> Option<AaCalibration> {
    let splits: Vec<Change> = pairs
        .iter()
        .flat_map(|p| [&p.before, &p.after])
        .filter_map(|xs| aa_split(xs))
        .collect();
    if splits.is_empty() {
        return None;
    }
    let floors = vec![NOISE_FLOOR; splits.len()];
    let (counts, _) = decide(&splits, &floors);
    let spreads: Vec<f64> = splits.iter().map(|c| (c.ratio - 1.0).abs()).collect();
    Some(AaCalibration {
        compared: splits.len(),
        would_change: counts.iter().filter(|&&c| c).count(),
        median_spread: pct(median(&spreads)),
        max_spread: pct(spreads.iter().copied().fold(0.0, f64::max)),
    })
}

/// Compares `current` against `baseline`, metric by metric.
pub fn compare_runs(baseline: &Results, current: &Results) -> Baseline {
    let mut all = Vec::new();
    for b in current.backends.iter().filter(|b| b.available) {
        if let Some(old) = baseline
            .backends
            .iter()
            .find(|o| o.name == b.name && o.available)
        {
            all.extend(pairs(old, b));
        }
    }
    let changes: Vec<Change> = all.iter().map(|p| compare(&p.before, &p.after)).collect();
    let thresholds: Vec<f64> = all.iter().map(threshold).collect();
    let (counts, p_adj) = decide(&changes, &thresholds);
    let rows: Vec<BaselineRow> = all
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let c = &changes[i];
            BaselineRow {
                backend: p.backend.clone(),
                metric: p.metric.clone(),
                before: (p.fmt)(median(&p.before)),
                after: (p.fmt)(median(&p.after)),
                ratio: fmt_ratio(c.ratio),
                ci: if c.ci_lo.is_finite() {
                    format!("[{}, {}]", fmt_ratio(c.ci_lo), fmt_ratio(c.ci_hi))
                } else {
                    "n too small".into()
                },
                p: if p_adj[i].is_finite() {
                    format!("{:.4}", p_adj[i])
                } else {
                    "n too small".into()
                },
                threshold: pct(thresholds[i]),
                significant: counts[i],
                direction: match (counts[i], c.ratio > 1.0) {
                    (false, _) => "",
                    (true, true) => "slower",
                    (true, false) => "faster",
                },
            }
        })
        .collect();
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
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "not recorded".into());
    differ("governor", opt(&h0.repro.governor), opt(&h1.repro.governor));
    differ(
        "SMT",
        format!("{:?}", h0.repro.smt),
        format!("{:?}", h1.repro.smt),
    );
    let significant = rows.iter().filter(|r| r.significant).count();
    Baseline {
        generated_at: baseline.generated_at.clone(),
        git_revision: baseline.git_revision.clone(),
        host_differences,
        significant,
        aa: calibration(&all),
        rule: format!(
            "Mann–Whitney test per figure, Holm-corrected over all {} compared figures at family-wise α = {ALPHA}; \
             and a median change above the figure's noise threshold ({} floor, or its A/A spread when larger); \
             figures with fewer than 6 samples on either side are never called changed",
            rows.len(),
            pct(NOISE_FLOOR)
        ),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(ps: &[f64], ratios: &[f64]) -> Vec<Change> {
        ps.iter()
            .zip(ratios)
            .map(|(&p, &ratio)| Change {
                ratio,
                ci_lo: f64::NAN,
                ci_hi: f64::NAN,
                p,
                n_before: 10,
                n_after: 10,
            })
            .collect()
    }

    #[test]
    fn holm_and_the_noise_threshold_both_gate() {
        // Four figures: p 0.001 (+10 %), 0.001 (+1 %, under the floor),
        // 0.03 (+10 %, passes 0.05 alone but fails Holm: 2·0.03 > 0.05), 0.5.
        let c = changes(&[0.001, 0.001, 0.03, 0.5], &[1.1, 1.01, 1.1, 1.3]);
        let t = vec![NOISE_FLOOR; 4];
        let (counts, adj) = decide(&c, &t);
        assert_eq!(counts, vec![true, false, false, false]);
        assert!(
            (adj[0] - 0.004).abs() < 1e-12 && (adj[2] - 0.06).abs() < 1e-12,
            "{adj:?}"
        );
        // Raised by an A/A spread of 15 %, the first no longer counts.
        let (counts, _) = decide(&c, &[0.15, 0.02, 0.02, 0.02]);
        assert_eq!(counts, vec![false; 4]);
        // Too few samples: no test at all.
        let mut small = changes(&[0.001], &[2.0]);
        small[0].n_after = 5;
        assert_eq!(decide(&small, &[NOISE_FLOOR]).0, vec![false]);
    }

    #[test]
    fn a_figure_threshold_is_its_aa_spread_or_the_floor() {
        let steady: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i % 2)).collect();
        let drifting: Vec<f64> = (0..20)
            .map(|i| if i < 10 { 100.0 } else { 120.0 })
            .collect();
        let pair = |before: Vec<f64>, after: Vec<f64>| Pair {
            backend: "b".into(),
            metric: "m".into(),
            before,
            after,
            fmt: fmt_ns,
        };
        assert_eq!(
            threshold(&pair(steady.clone(), steady.clone())),
            NOISE_FLOOR
        );
        let t = threshold(&pair(steady.clone(), drifting.clone()));
        assert!((t - 0.2).abs() < 1e-9, "{t}");
        let cal = calibration(&[pair(steady, drifting)]).unwrap();
        assert_eq!((cal.compared, cal.would_change), (2, 1));
    }
}
