//! Distribution-free confidence intervals.
//!
//! For the median of n independent samples from any continuous
//! distribution, the number of samples below the true median is
//! Binomial(n, ½). So the order statistics x₍ₗ₎ and x₍ₙ₊₁₋ₗ₎ bracket it with
//! probability `1 − 2·P(B ≤ l − 1)`; [`median_ci_ranks`] takes the largest l
//! whose coverage still reaches the level. Below some n no l works (n < 6 at
//! 95 %): the answer is then "n too small", never a narrower guess.
//!
//! A ratio of two medians gets the box of the two medians' intervals, each
//! at `1 − (1 − level)/2`: by Bonferroni both hold at once with probability
//! at least `level`, and then the ratio lies in `[lo₁/hi₂, hi₁/lo₂]`. Both
//! samples' spread enters, whichever is smaller.
use super::describe::sorted;
use super::params::CONFIDENCE;

/// P(B ≤ k) for B ~ Binomial(n, ½), summed in log space so large n does
/// not underflow.
fn binomial_half_cdf(n: usize, k: usize) -> f64 {
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut sum = 0.0;
    for i in 0..=k.min(n) {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        sum += (ln_choose + ln_half_n).exp();
    }
    sum.min(1.0)
}

/// 1-based ranks `(l, n + 1 − l)` of the order statistics that bracket the
/// median of n samples with probability at least `confidence`, the
/// narrowest such pair; None when even `(1, n)` falls short.
pub fn median_ci_ranks(n: usize, confidence: f64) -> Option<(usize, usize)> {
    let alpha = 1.0 - confidence;
    let mut best = None;
    for l in 1..=n.div_ceil(2) {
        // Coverage of (x_(l), x_(n+1-l)) is 1 - 2 P(B <= l - 1).
        if 2.0 * binomial_half_cdf(n, l - 1) <= alpha + 1e-12 {
            best = Some((l, n + 1 - l));
        } else {
            break;
        }
    }
    best
}

/// The smallest n for which [`median_ci_ranks`] has an answer.
pub fn min_n_for(confidence: f64) -> usize {
    (1..)
        .find(|&n| median_ci_ranks(n, confidence).is_some())
        .unwrap_or(usize::MAX)
}

/// The interval of the median of already sorted data.
pub(crate) fn median_ci_sorted(s: &[f64], confidence: f64) -> Option<(f64, f64)> {
    let (l, u) = median_ci_ranks(s.len(), confidence)?;
    Some((s[l - 1], s[u - 1]))
}

/// Order-statistic interval of the median of `xs` at `confidence`; None
/// when there are too few finite samples for that level.
pub fn median_ci(xs: &[f64], confidence: f64) -> Option<(f64, f64)> {
    median_ci_sorted(&sorted(xs), confidence)
}

/// Interval for median(num) / median(den) at [`CONFIDENCE`] (see the module
/// docs); None when either side has too few samples (n < 7 at 95 %) or the
/// denominator's interval reaches zero.
pub fn ratio_ci(num: &[f64], den: &[f64]) -> Option<(f64, f64)> {
    let each = 1.0 - (1.0 - CONFIDENCE) / 2.0;
    let (nl, nh) = median_ci(num, each)?;
    let (dl, dh) = median_ci(den, each)?;
    (dl > 0.0 && nl >= 0.0).then(|| (nl / dh, nh / dl))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::params::{MIN_N_MEDIAN, MIN_N_RATIO};

    #[test]
    fn binomial_cdf_by_hand() {
        // n = 6: P(B <= 0) = 1/64, P(B <= 1) = 7/64.
        assert!((binomial_half_cdf(6, 0) - 1.0 / 64.0).abs() < 1e-15);
        assert!((binomial_half_cdf(6, 1) - 7.0 / 64.0).abs() < 1e-15);
        // n = 10: P(B <= 1) = 11/1024, P(B <= 2) = 56/1024.
        assert!((binomial_half_cdf(10, 1) - 11.0 / 1024.0).abs() < 1e-15);
        assert!((binomial_half_cdf(10, 2) - 56.0 / 1024.0).abs() < 1e-15);
        assert!((binomial_half_cdf(4000, 4000) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn order_statistic_ranks_by_hand() {
        // n = 5: even (1, 5) covers only 1 - 2/32 = 93.75 %.
        assert_eq!(median_ci_ranks(5, 0.95), None);
        // n = 6: (1, 6) covers 1 - 2/64 = 96.9 %.
        assert_eq!(median_ci_ranks(6, 0.95), Some((1, 6)));
        // n = 10: (2, 9) covers 1 - 22/1024 = 97.9 %; (3, 8) only 89.1 %.
        assert_eq!(median_ci_ranks(10, 0.95), Some((2, 9)));
        // n = 20: P(B <= 5) = 21700/2^20 (95.9 %); P(B <= 6) = 60460/2^20 (88.5 %).
        assert_eq!(median_ci_ranks(20, 0.95), Some((6, 15)));
        // n = 100: P(B <= 39) = 0.0176 (96.5 %); P(B <= 40) = 0.0284 (94.3 %).
        assert_eq!(median_ci_ranks(100, 0.95), Some((40, 61)));
        assert_eq!(min_n_for(0.95), MIN_N_MEDIAN);
        // Each side of a ratio at 97.5 %: n = 6 gives 96.9 %, n = 7 gives 98.4 %.
        assert_eq!(min_n_for(0.975), MIN_N_RATIO);
        assert_eq!(median_ci_ranks(0, 0.95), None);
    }

    #[test]
    fn median_interval_picks_those_order_statistics() {
        let xs: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(median_ci(&xs, 0.95), Some((6.0, 15.0)));
        assert_eq!(median_ci(&xs[..5], 0.95), None);
    }

    #[test]
    fn ratio_interval_carries_both_spreads() {
        // n = 7 each: at 97.5 % each interval is (x_(1), x_(7)).
        let den = [90.0, 95.0, 98.0, 100.0, 102.0, 105.0, 110.0];
        let num = [180.0, 190.0, 196.0, 200.0, 204.0, 210.0, 220.0];
        let (lo, hi) = ratio_ci(&num, &den).unwrap();
        assert!((lo - 180.0 / 110.0).abs() < 1e-12, "{lo}");
        assert!((hi - 220.0 / 90.0).abs() < 1e-12, "{hi}");
        // A tight numerator does not hide a wide denominator.
        let tight = [200.0; 7];
        let (lo, hi) = ratio_ci(&tight, &den).unwrap();
        assert!((lo - 200.0 / 110.0).abs() < 1e-12 && (hi - 200.0 / 90.0).abs() < 1e-12);
        // One run on either side: no interval.
        assert_eq!(ratio_ci(&[200.0], &den), None);
        assert_eq!(ratio_ci(&num, &den[..6]), None);
    }
}
