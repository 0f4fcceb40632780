//! Ordinary least squares of y on x, with a confidence interval for the
//! slope: how much y grows per extra x (bytes per extra instance, say).
//!
//! The interval is `slope ± t(1 − α/2, n − 2) · se`, with the standard
//! error from the residuals. It assumes independent residuals of equal
//! spread; a memory curve sampled step by step is closer to a random walk,
//! so the interval is a floor on the uncertainty, which the report says.
use super::hypothesis::normal_cdf;

/// A straight-line fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineFit {
    /// Growth of y per unit of x.
    pub slope: f64,
    /// y at x = 0.
    pub intercept: f64,
    /// The slope's interval at the requested level (None below 3 points).
    pub slope_ci: Option<(f64, f64)>,
    /// Points fitted.
    pub n: usize,
}

/// The least-squares line through `(x, y)`; None below 2 points or when all
/// x are equal.
pub fn line_fit(points: &[(f64, f64)], confidence: f64) -> Option<LineFit> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let slope_ci = (n >= 3).then(|| {
        let rss: f64 = points
            .iter()
            .map(|p| (p.1 - intercept - slope * p.0).powi(2))
            .sum();
        let se = (rss / (nf - 2.0) / sxx).sqrt();
        let t = t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 2);
        (slope - t * se, slope + t * se)
    });
    Some(LineFit {
        slope,
        intercept,
        slope_ci,
        n,
    })
}

/// The standard normal quantile, by bisection on [`normal_cdf`].
fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-10.0f64, 10.0f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// Student's t quantile for `df` degrees of freedom: exact for 1 and 2,
/// else the Cornish–Fisher expansion around the normal quantile (within
/// about 1 % from 3 degrees of freedom on at the usual levels).
pub fn t_quantile(p: f64, df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1 => (std::f64::consts::PI * (p - 0.5)).tan(),
        2 => {
            let a = 4.0 * p * (1.0 - p);
            (2.0 * p - 1.0) * (2.0 / a).sqrt()
        }
        _ => {
            let z = normal_quantile(p);
            let v = df as f64;
            let g1 = (z.powi(3) + z) / 4.0;
            let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
            let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
            z + g1 / v + g2 / v.powi(2) + g3 / v.powi(3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_line_has_its_slope_and_a_zero_width_interval() {
        let pts: Vec<_> = (0..10).map(|i| (i as f64, 3.0 + 2.0 * i as f64)).collect();
        let f = line_fit(&pts, 0.95).unwrap();
        assert!((f.slope - 2.0).abs() < 1e-12 && (f.intercept - 3.0).abs() < 1e-9);
        let (lo, hi) = f.slope_ci.unwrap();
        assert!((hi - lo).abs() < 1e-9, "{lo} {hi}");
    }

    #[test]
    fn noise_widens_the_interval_around_the_slope() {
        let pts: Vec<_> = (0..50)
            .map(|i| {
                (
                    i as f64,
                    5.0 * i as f64 + if i % 2 == 0 { 3.0 } else { -3.0 },
                )
            })
            .collect();
        let f = line_fit(&pts, 0.95).unwrap();
        let (lo, hi) = f.slope_ci.unwrap();
        assert!(lo < f.slope && f.slope < hi && hi - lo > 0.01, "{f:?}");
        assert!(lo > 4.5 && hi < 5.5, "{f:?}");
    }

    #[test]
    fn too_few_or_degenerate_points_give_no_fit() {
        assert_eq!(line_fit(&[(1.0, 2.0)], 0.95), None);
        assert_eq!(line_fit(&[(1.0, 2.0), (1.0, 3.0)], 0.95), None);
        assert_eq!(
            line_fit(&[(1.0, 2.0), (2.0, 3.0)], 0.95).unwrap().slope_ci,
            None
        );
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        for (df, want) in [
            (1, 12.706),
            (2, 4.303),
            (5, 2.571),
            (10, 2.228),
            (30, 2.042),
        ] {
            let t = t_quantile(0.975, df);
            assert!((t - want).abs() / want < 0.01, "df {df}: {t} vs {want}");
        }
        assert!((t_quantile(0.975, 100_000) - 1.96).abs() < 0.01);
    }
}
