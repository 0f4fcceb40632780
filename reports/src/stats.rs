//! Robust statistics for small samples: medians, quantiles, spreads,
//! bootstrap confidence intervals and a permutation test.
//!
//! Everything random uses a seeded SplitMix64 generator, so the same samples
//! always give the same intervals and p-values (reports are reproducible).
//!
//! A change between a baseline and a current run is *significant* when both
//! hold (see [`compare`]):
//! - the permutation test on the difference of medians gives p < [`ALPHA`];
//! - the ratio of medians moved by more than [`NOISE_THRESHOLD`] (5 %), so
//!   tiny but consistent shifts (frequency scaling, cache state) are not
//!   reported as regressions.

/// Significance level of the permutation test.
pub const ALPHA: f64 = 0.01;
/// Smallest relative change of the median that counts as a change.
pub const NOISE_THRESHOLD: f64 = 0.05;
/// Bootstrap resamples for confidence intervals.
pub const RESAMPLES: usize = 2000;
/// Permutations for the permutation test.
pub const PERMUTATIONS: usize = 2000;
/// Confidence level of the intervals.
pub const CONFIDENCE: f64 = 0.95;
/// Seed for every random draw.
pub const SEED: u64 = 0x0076_6d6c_6162;

/// SplitMix64: a tiny, well-mixed 64-bit generator (deterministic, not cryptographic).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        // Multiply-shift: unbiased enough for n far below 2^32.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

fn sorted(xs: &[f64]) -> Vec<f64> {
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
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
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

fn resample(xs: &[f64], rng: &mut SplitMix64, out: &mut Vec<f64>) {
    out.clear();
    out.extend((0..xs.len()).map(|_| xs[rng.below(xs.len())]));
}

/// Percentile bootstrap confidence interval for the median at [`CONFIDENCE`].
/// Returns (NaN, NaN) when empty.
pub fn bootstrap_median_ci(xs: &[f64], seed: u64) -> (f64, f64) {
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SplitMix64::new(seed);
    let mut buf = Vec::with_capacity(xs.len());
    let mut medians = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        resample(xs, &mut rng, &mut buf);
        medians.push(median(&buf));
    }
    percentile_interval(medians)
}

/// Percentile bootstrap interval for median(num) / median(den), resampling
/// both samples independently. (NaN, NaN) when either is empty.
pub fn bootstrap_ratio_ci(num: &[f64], den: &[f64], seed: u64) -> (f64, f64) {
    if num.is_empty() || den.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mut rng = SplitMix64::new(seed);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut ratios = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        resample(num, &mut rng, &mut a);
        resample(den, &mut rng, &mut b);
        let r = median(&a) / median(&b);
        if r.is_finite() {
            ratios.push(r);
        }
    }
    percentile_interval(ratios)
}

fn percentile_interval(stats: Vec<f64>) -> (f64, f64) {
    let s = sorted(&stats);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    (quantile_sorted(&s, tail), quantile_sorted(&s, 1.0 - tail))
}

/// Two-sided permutation test of "a and b come from the same distribution"
/// with |median(a) - median(b)| as the statistic. Returns the p-value,
/// (count + 1) / (permutations + 1), so it is never exactly 0. 1.0 when
/// either sample is empty.
pub fn permutation_test(a: &[f64], b: &[f64], seed: u64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let observed = (median(a) - median(b)).abs();
    let mut pool: Vec<f64> = a.iter().chain(b).copied().collect();
    let mut rng = SplitMix64::new(seed);
    let mut extreme = 0usize;
    for _ in 0..PERMUTATIONS {
        // Fisher-Yates shuffle, then split at |a|.
        for i in (1..pool.len()).rev() {
            let j = rng.below(i + 1);
            pool.swap(i, j);
        }
        let (pa, pb) = pool.split_at(a.len());
        // A tiny tolerance so exact ties with the observed value count.
        if (median(pa) - median(pb)).abs() >= observed * (1.0 - 1e-12) {
            extreme += 1;
        }
    }
    (extreme + 1) as f64 / (PERMUTATIONS + 1) as f64
}

/// A sample summarised: n, median and spread.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// First quartile.
    pub q1: f64,
    /// Third quartile.
    pub q3: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Median absolute deviation.
    pub mad: f64,
    /// Bootstrap CI of the median, low end.
    pub ci_lo: f64,
    /// Bootstrap CI of the median, high end.
    pub ci_hi: f64,
}

impl Summary {
    /// Summarises a sample; None when it is empty.
    pub fn of(xs: &[f64]) -> Option<Summary> {
        let s = sorted(xs);
        if s.is_empty() {
            return None;
        }
        let (ci_lo, ci_hi) = bootstrap_median_ci(&s, SEED);
        Some(Summary {
            n: s.len(),
            median: quantile_sorted(&s, 0.5),
            q1: quantile_sorted(&s, 0.25),
            q3: quantile_sorted(&s, 0.75),
            min: s[0],
            max: s[s.len() - 1],
            mad: mad(&s),
            ci_lo,
            ci_hi,
        })
    }
}

/// How a metric moved from a baseline to the current run.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Change {
    /// median(current) / median(baseline).
    pub ratio: f64,
    /// Bootstrap CI of the ratio, low end.
    pub ci_lo: f64,
    /// Bootstrap CI of the ratio, high end.
    pub ci_hi: f64,
    /// Permutation-test p-value.
    pub p: f64,
    /// p < ALPHA and |ratio - 1| > NOISE_THRESHOLD.
    pub significant: bool,
}

/// Compares a current sample against a baseline sample (see the module docs
/// for what counts as significant).
pub fn compare(baseline: &[f64], current: &[f64]) -> Change {
    let ratio = median(current) / median(baseline);
    let (ci_lo, ci_hi) = bootstrap_ratio_ci(current, baseline, SEED);
    let p = permutation_test(baseline, current, SEED ^ 0x5eed);
    let significant = ratio.is_finite() && p < ALPHA && (ratio - 1.0).abs() > NOISE_THRESHOLD;
    Change {
        ratio,
        ci_lo,
        ci_hi,
        p,
        significant,
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
    fn generator_is_deterministic_and_in_range() {
        let mut a = SplitMix64::new(1);
        let mut b = SplitMix64::new(1);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(7) < 7);
            b.below(7);
        }
        // Reference value of SplitMix64 seeded with 0.
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn median_ci_brackets_the_median() {
        let xs: Vec<f64> = (1..=41).map(f64::from).collect();
        let (lo, hi) = bootstrap_median_ci(&xs, SEED);
        assert!(lo <= 21.0 && 21.0 <= hi, "({lo}, {hi})");
        assert!(lo >= 14.0 && hi <= 28.0, "too wide: ({lo}, {hi})");
        assert_eq!(
            bootstrap_median_ci(&xs, SEED),
            (lo, hi),
            "not deterministic"
        );
        let (lo, hi) = bootstrap_median_ci(&[7.0; 10], SEED);
        assert_eq!((lo, hi), (7.0, 7.0));
    }

    #[test]
    fn ratio_ci_of_scaled_sample() {
        let den: Vec<f64> = (0..30).map(|i| 100.0 + f64::from(i % 7)).collect();
        let num: Vec<f64> = den.iter().map(|x| x * 2.0).collect();
        let (lo, hi) = bootstrap_ratio_ci(&num, &den, SEED);
        assert!(lo <= 2.0 && 2.0 <= hi, "({lo}, {hi})");
        assert!(lo > 1.85 && hi < 2.15, "({lo}, {hi})");
    }

    #[test]
    fn permutation_test_separates_and_does_not() {
        let a: Vec<f64> = (0..20).map(|i| 100.0 + f64::from(i % 5)).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 50.0).collect();
        assert!(permutation_test(&a, &b, SEED) < 0.001);
        // Same values in a different order: no evidence of a difference.
        let mut c = a.clone();
        c.reverse();
        assert!(permutation_test(&a, &c, SEED) > 0.5);
        assert_eq!(permutation_test(&a, &[], SEED), 1.0);
    }

    #[test]
    fn compare_needs_both_p_and_size() {
        let base: Vec<f64> = (0..30).map(|i| 1000.0 + f64::from(i % 10)).collect();
        let slower: Vec<f64> = base.iter().map(|x| x * 1.5).collect();
        let c = compare(&base, &slower);
        assert!(c.significant, "{c:?}");
        assert!((c.ratio - 1.5).abs() < 0.01);
        // A consistent 1 % shift is detectable but below the noise threshold.
        let tiny: Vec<f64> = base.iter().map(|x| x * 1.01).collect();
        let c = compare(&base, &tiny);
        assert!(!c.significant, "{c:?}");
        // Same distribution: not significant.
        let same: Vec<f64> = base.iter().rev().copied().collect();
        assert!(!compare(&base, &same).significant);
    }

    #[test]
    fn summary_of_known_data() {
        let s = Summary::of(&[3.0, 1.0, 2.0, f64::NAN]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (3, 2.0, 1.0, 3.0));
        assert!(Summary::of(&[]).is_none());
    }
}
