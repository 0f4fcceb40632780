//! The order of the backends within each round: a fresh random permutation
//! per round, drawn from a seeded SplitMix64 generator, so that no backend
//! always follows the same one and drift (thermal, other load, page cache)
//! spreads over all of them. The seed is recorded in results.json, and
//! `vmlab compare --seed N` repeats a run's order exactly.
//!
//! SplitMix64 (Steele, Lea and Flood, OOPSLA 2014) is a few lines, passes
//! BigCrush, and is all a shuffle of a dozen backends needs.
use std::time::{SystemTime, UNIX_EPOCH};

/// The SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0), by the high half of a 128-bit product;
    /// its bias is below n / 2^64, nothing at the sizes used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i + 1);
            order.swap(i, j);
        }
        order
    }
}

/// A seed for a run that was given none: the wall clock's nanoseconds and
/// the process id, mixed.
pub fn fresh_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32)).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference outputs of SplitMix64 (Vigna's splitmix64.c).
    #[test]
    fn matches_the_reference_sequence() {
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut g = SplitMix64::new(1_234_567);
        let first: Vec<u64> = (0..3).map(|_| g.next_u64()).collect();
        assert_eq!(
            first,
            [
                6_457_827_717_110_365_317,
                3_203_168_211_198_807_973,
                9_817_491_932_198_370_423
            ]
        );
    }

    #[test]
    fn permutations_are_permutations_and_repeat_with_the_seed() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        for n in [0, 1, 2, 7, 11] {
            let p = a.permutation(n);
            assert_eq!(p, b.permutation(n));
            let mut sorted = p.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..n).collect::<Vec<_>>());
        }
        let mut c = SplitMix64::new(43);
        let other: Vec<Vec<usize>> = (0..5).map(|_| c.permutation(6)).collect();
        let mut d = SplitMix64::new(42);
        let same: Vec<Vec<usize>> = (0..5).map(|_| d.permutation(6)).collect();
        assert_ne!(other, same, "another seed gives another order");
    }

    /// Every backend leads a round about equally often, and no backend is
    /// always followed by the same one (what the old rotation did).
    #[test]
    fn every_slot_is_reached_evenly() {
        let mut g = SplitMix64::new(7);
        let n = 4;
        let rounds = 4000;
        let mut first = vec![0u32; n];
        let mut after_zero = vec![0u32; n];
        for _ in 0..rounds {
            let p = g.permutation(n);
            first[p[0]] += 1;
            if let Some(k) = p.iter().position(|&x| x == 0) {
                if k + 1 < n {
                    after_zero[p[k + 1]] += 1;
                }
            }
        }
        for &count in &first {
            // Expected 1000 each; five standard deviations is about 137.
            assert!((860..1140).contains(&count), "{first:?}");
        }
        assert_eq!(after_zero[0], 0);
        assert!(after_zero[1..].iter().all(|&c| c > 700), "{after_zero:?}");
    }
}
