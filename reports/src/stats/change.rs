//! How one figure moved between two runs, and the A/A split that shows how
//! much a figure moves when nothing changed.
//!
//! Whether a move counts as a change is decided over all figures at once
//! (Holm's correction, a noise threshold) by [`crate::baseline`].
use super::describe::median;
use super::hypothesis::mann_whitney_p;
use super::interval::ratio_ci;
use super::params::MIN_N_MEDIAN;

/// How a metric moved from a baseline to the current run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Change {
    /// median(current) / median(baseline).
    pub ratio: f64,
    /// Distribution-free 95 % interval of the ratio, low end (NaN when n is too small).
    pub ci_lo: f64,
    /// The interval's high end (NaN when n is too small).
    pub ci_hi: f64,
    /// Two-sided Mann–Whitney p-value, before any correction.
    pub p: f64,
    /// Samples in the baseline.
    pub n_before: usize,
    /// Samples now.
    pub n_after: usize,
}

impl Change {
    /// True when both sides have the samples a verdict needs.
    pub fn enough_n(&self) -> bool {
        self.n_before >= MIN_N_MEDIAN && self.n_after >= MIN_N_MEDIAN
    }
}

/// Compares a current sample against a baseline sample.
pub fn compare(baseline: &[f64], current: &[f64]) -> Change {
    let (ci_lo, ci_hi) = ratio_ci(current, baseline).unwrap_or((f64::NAN, f64::NAN));
    Change {
        ratio: median(current) / median(baseline),
        ci_lo,
        ci_hi,
        p: mann_whitney_p(baseline, current),
        n_before: baseline.len(),
        n_after: current.len(),
    }
}

/// The A/A figure of one sample in run order: the later half against the
/// earlier half of the same run, where nothing but time and the host
/// changed. None when either half would have fewer than 6 samples.
pub fn aa_split(xs: &[f64]) -> Option<Change> {
    let half = xs.len() / 2;
    (half >= MIN_N_MEDIAN).then(|| compare(&xs[..half], &xs[xs.len() - half..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_reports_ratio_interval_and_p() {
        let base: Vec<f64> = (0..30).map(|i| 1000.0 + f64::from(i % 10)).collect();
        let slower: Vec<f64> = base.iter().map(|x| x * 1.5).collect();
        let c = compare(&base, &slower);
        assert!((c.ratio - 1.5).abs() < 0.01, "{c:?}");
        assert!(c.ci_lo > 1.4 && c.ci_hi < 1.6, "{c:?}");
        assert!(c.p < 1e-6 && c.enough_n());
        let c = compare(&base[..3], &slower[..3]);
        assert!(!c.enough_n() && c.ci_lo.is_nan());
    }

    #[test]
    fn aa_split_halves_in_run_order() {
        // A drift of +10 % half way through shows in the A/A figure.
        let xs: Vec<f64> = (0..24)
            .map(|i| if i < 12 { 100.0 } else { 110.0 } + f64::from(i % 3))
            .collect();
        let aa = aa_split(&xs).unwrap();
        assert!((aa.ratio - 111.0 / 101.0).abs() < 1e-9, "{aa:?}");
        // Odd n: the middle sample is left out; under 12 samples: none.
        assert_eq!(aa_split(&xs[..13]).unwrap().n_before, 6);
        assert!(aa_split(&xs[..11]).is_none());
    }
}
