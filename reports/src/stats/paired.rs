//! Paired analysis by round: where two backends ran in the same rounds,
//! each round gives one ratio (its drift and host state shared by both
//! sides), and the interval is the order-statistic interval of the median
//! of those ratios.
use super::describe::median;

/// One ratio per round that both samples share: the median of `num`'s
/// values in that round over the median of `den`'s, in round order.
/// Samples are `(round, value)`.
pub fn paired_ratios(num: &[(u32, f64)], den: &[(u32, f64)]) -> Vec<f64> {
    let mut rounds: Vec<u32> = num.iter().map(|p| p.0).collect();
    rounds.sort_unstable();
    rounds.dedup();
    let in_round = |xs: &[(u32, f64)], r: u32| -> Vec<f64> {
        xs.iter().filter(|p| p.0 == r).map(|p| p.1).collect()
    };
    rounds
        .into_iter()
        .filter_map(|r| {
            let (a, b) = (in_round(num, r), in_round(den, r));
            (!a.is_empty() && !b.is_empty()).then(|| median(&a) / median(&b))
        })
        .filter(|x| x.is_finite())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{median_ci, CONFIDENCE};

    #[test]
    fn one_ratio_per_shared_round() {
        let num = [(1, 10.0), (1, 14.0), (2, 30.0), (4, 8.0)];
        let den = [(1, 6.0), (2, 10.0), (3, 5.0), (4, 4.0)];
        // Round 1: median(10, 14) / 6 = 2; round 2: 3; round 3 has no num;
        // round 4: 2.
        assert_eq!(paired_ratios(&num, &den), vec![2.0, 3.0, 2.0]);
        assert!(paired_ratios(&num, &[]).is_empty());
    }

    #[test]
    fn pairing_removes_a_shared_drift() {
        // Both sides drift 10x over ten rounds; the VM is always 2x.
        let den: Vec<(u32, f64)> = (0..10).map(|r| (r, 10.0 * f64::from(r + 1))).collect();
        let num: Vec<(u32, f64)> = den.iter().map(|&(r, x)| (r, 2.0 * x)).collect();
        let ratios = paired_ratios(&num, &den);
        assert_eq!(median_ci(&ratios, CONFIDENCE), Some((2.0, 2.0)));
        // Unpaired, the same samples give an interval that spans 1.
        let (a, b): (Vec<f64>, Vec<f64>) = (
            num.iter().map(|p| p.1).collect(),
            den.iter().map(|p| p.1).collect(),
        );
        let (lo, hi) = crate::stats::ratio_ci(&a, &b).unwrap();
        assert!(lo < 1.0 && hi > 2.0, "({lo}, {hi})");
    }
}
