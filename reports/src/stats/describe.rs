//! Describing one sample: quantiles, spreads and a summary with a
//! distribution-free interval for its median.
use super::interval::median_ci_sorted;
use super::params::CONFIDENCE;

pub(crate) fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Quantile `p` in [0, 1] of already sorted data, linear interpolation
/// between closest ranks (Hyndman & Fan type 7). NaN when empty.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        1 => sorted[0],
        n => {
            let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            let frac = h - lo as f64;
            if frac == 0.0 || sorted[lo] == sorted[hi] {
                sorted[lo]
            } else if sorted[hi].is_infinite() {
                // A censored sample (at or above a limit) above: the
                // quantile is only known to be large.
                sorted[hi]
            } else {
                sorted[lo] + frac * (sorted[hi] - sorted[lo])
            }
        }
    }
}

/// Quantile `p` of unsorted data.
pub fn quantile(xs: &[f64], p: f64) -> f64 {
    quantile_sorted(&sorted(xs), p)
}

/// Median (NaN when empty).
pub fn median(xs: &[f64]) -> f64 {
    quantile(xs, 0.5)
}

/// Arithmetic mean (NaN when empty).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Interquartile range, q3 - q1.
pub fn iqr(xs: &[f64]) -> f64 {
    let s = sorted(xs);
    quantile_sorted(&s, 0.75) - quantile_sorted(&s, 0.25)
}

/// Median absolute deviation from the median (unscaled).
pub fn mad(xs: &[f64]) -> f64 {
    let m = median(xs);
    let dev: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    median(&dev)
}

/// Converts integer nanosecond samples to f64.
pub fn as_f64(xs: &[u64]) -> Vec<f64> {
    xs.iter().map(|&x| x as f64).collect()
}

/// A sample summarised: n, median, spread and the interval of the median.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Number of samples, censored ones included.
    pub n: usize,
    /// Of those, how many are censored (timed out: known only to be at or
    /// above the limit, counted as larger than every measured value).
    pub censored: usize,
    /// Median (infinite when half or more are censored).
    pub median: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample (infinite when any is censored).
    pub max: f64,
    /// Median absolute deviation of the measured values.
    pub mad: f64,
    /// Order-statistic interval of the median at [`CONFIDENCE`], low end;
    /// NaN when n is too small for that level.
    pub ci_lo: f64,
    /// The same interval's high end (NaN when n is too small).
    pub ci_hi: f64,
}

impl Summary {
    /// Summarises a sample; None when it is empty.
    pub fn of(xs: &[f64]) -> Option<Summary> {
        Summary::with_censored(xs, 0)
    }

    /// Summarises measured values plus `censored` runs that hit a limit
    /// (ranked above every measured value); None when both are empty.
    pub fn with_censored(xs: &[f64], censored: usize) -> Option<Summary> {
        let measured = sorted(xs);
        let mut s = measured.clone();
        s.extend(std::iter::repeat_n(f64::INFINITY, censored));
        if s.is_empty() {
            return None;
        }
        let (ci_lo, ci_hi) = median_ci_sorted(&s, CONFIDENCE).unwrap_or((f64::NAN, f64::NAN));
        Some(Summary {
            n: s.len(),
            censored,
            median: quantile_sorted(&s, 0.5),
            q1: quantile_sorted(&s, 0.25),
            q3: quantile_sorted(&s, 0.75),
            min: s[0],
            max: s[s.len() - 1],
            mad: mad(&measured),
            ci_lo,
            ci_hi,
        })
    }

    /// True when the sample is large enough for the interval.
    pub fn has_ci(&self) -> bool {
        self.ci_lo.is_finite() || self.ci_hi.is_finite()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_known_data() {
        let xs = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(median(&xs), 3.0);
        assert_eq!(quantile(&xs, 0.25), 2.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert_eq!(quantile(&xs, 1.0), 5.0);
        assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.25), 1.75);
        assert_eq!(iqr(&xs), 2.0);
        assert_eq!(mean(&xs), 3.0);
        // |x - 3| = 2,2,1,1,0 -> median 1
        assert_eq!(mad(&xs), 1.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn summary_of_known_data() {
        let s = Summary::of(&[3.0, 1.0, 2.0, f64::NAN]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (3, 2.0, 1.0, 3.0));
        // n = 3 is below the 95 % minimum: no interval.
        assert!(!s.has_ci() && s.ci_lo.is_nan());
        assert!(Summary::of(&[]).is_none());
        // n = 10: the interval is the 2nd and 9th order statistics.
        let xs: Vec<f64> = (1..=10).map(|i| f64::from(i) * 10.0).collect();
        let s = Summary::of(&xs).unwrap();
        assert_eq!((s.median, s.ci_lo, s.ci_hi), (55.0, 20.0, 90.0));
    }

    #[test]
    fn censored_runs_rank_above_the_measured_ones() {
        // 7 measured + 3 timeouts: median of 10 = mean of the 5th and 6th.
        let xs: Vec<f64> = (1..=7).map(f64::from).collect();
        let s = Summary::with_censored(&xs, 3).unwrap();
        assert_eq!((s.n, s.censored, s.median), (10, 3, 5.5));
        assert_eq!(s.ci_lo, 2.0);
        assert!(s.ci_hi.is_infinite(), "the 9th is a timeout");
        assert!(s.max.is_infinite());
        // Half or more censored: the median itself is only "at least".
        let s = Summary::with_censored(&[1.0, 2.0], 2).unwrap();
        assert!(s.median.is_infinite());
    }
}
