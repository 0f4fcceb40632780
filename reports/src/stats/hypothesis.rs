//! Tests of "these two samples come from the same distribution", and the
//! correction for running many of them at once.

/// The standard normal distribution function Φ(z).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function, by the Chebyshev fit of Numerical
/// Recipes (`erfcc`; relative error below 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Two-sided p-value of the Mann–Whitney U test (Wilcoxon rank-sum) of `a`
/// against `b`: midranks for ties, the normal approximation with the tie
/// correction and a continuity correction. 1.0 when either side is empty
/// or every value is tied.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let n = all.len();
    let (mut rank_sum_a, mut tie_term) = (0.0f64, 0.0f64);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mid = (i + j + 2) as f64 / 2.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        rank_sum_a += mid * all[i..=j].iter().filter(|v| v.1).count() as f64;
        i = j + 1;
    }
    let (f1, f2, fnn) = (n1 as f64, n2 as f64, n as f64);
    let u = rank_sum_a - f1 * (f1 + 1.0) / 2.0;
    let mean = f1 * f2 / 2.0;
    let var = f1 * f2 / 12.0 * ((fnn + 1.0) - tie_term / (fnn * (fnn - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / var.sqrt();
    (2.0 * (1.0 - normal_cdf(z))).min(1.0)
}

/// Holm's step-down correction: which of the hypotheses with p-values `ps`
/// are rejected at family-wise error rate `alpha`. The k-th smallest p is
/// compared with alpha / (m − k + 1); the first that fails stops the rest.
pub fn holm(ps: &[f64], alpha: f64) -> Vec<bool> {
    holm_adjusted(ps).into_iter().map(|p| p <= alpha).collect()
}

/// Holm-adjusted p-values, in the order given: the k-th smallest becomes
/// the running maximum of (m − j + 1)·p₍ⱼ₎ over j ≤ k, capped at 1, so that
/// "adjusted p ≤ alpha" is exactly Holm's rejection at alpha.
pub fn holm_adjusted(ps: &[f64]) -> Vec<f64> {
    let m = ps.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| ps[i].total_cmp(&ps[j]));
    let mut out = vec![1.0; m];
    let mut running = 0.0f64;
    for (k, &i) in order.iter().enumerate() {
        running = running.max(((m - k) as f64 * ps[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-7);
    }

    #[test]
    fn mann_whitney_by_hand() {
        // a = {1,2,3}, b = {4,5,6}: U = 0, mean 4.5, var = 9·7/12 = 5.25,
        // z = (4.5 − 0.5)/√5.25 = 1.7457, p = 2(1 − Φ(z)) = 0.0809.
        let p = mann_whitney_p(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert!((p - 0.0809).abs() < 1e-3, "{p}");
        // Fully separated 20 vs 20: far below any level.
        let a: Vec<f64> = (0..20).map(f64::from).collect();
        let b: Vec<f64> = (100..120).map(f64::from).collect();
        assert!(mann_whitney_p(&a, &b) < 1e-6);
        // The same values in another order: nothing to see.
        let mut c = a.clone();
        c.reverse();
        assert!(mann_whitney_p(&a, &c) > 0.9);
        // All tied, or one side empty.
        assert_eq!(mann_whitney_p(&[5.0; 4], &[5.0; 4]), 1.0);
        assert_eq!(mann_whitney_p(&a, &[]), 1.0);
    }

    #[test]
    fn holm_by_hand() {
        // m = 4, alpha = 0.05: thresholds 0.0125, 0.0167, 0.025, 0.05.
        let ps = [0.01, 0.04, 0.03, 0.005];
        // Sorted: 0.005 <= 0.0125 yes; 0.01 <= 0.0167 yes; 0.03 <= 0.025 no: stop.
        assert_eq!(holm(&ps, 0.05), vec![true, false, false, true]);
        // Uncorrected, 0.03 and 0.04 would have passed 0.05.
        assert_eq!(holm(&[0.04], 0.05), vec![true]);
        assert!(holm(&[], 0.05).is_empty());
        // Adjusted: 4·0.005 = 0.02; max(0.02, 3·0.01) = 0.03; 2·0.03 = 0.06; max(0.06, 0.04) = 0.06.
        let adj = holm_adjusted(&ps);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
    }
}
