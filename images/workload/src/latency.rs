//! Percentiles of per-operation latencies without an allocator: a
//! log-linear histogram (16 buckets per power of two, so a reported
//! percentile is within 1/32 of the true value), exact below 16 ns.

/// Buckets: 16 exact ones, then 16 per power of two from 2^4 to 2^63.
const BUCKETS: usize = 16 + 60 * 16;

/// A latency histogram in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: [u32; BUCKETS],
    total: u64,
    min: u64,
    max: u64,
}

/// The percentiles a result line carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Latency {
    /// Median, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
}

/// The bucket of `v`.
fn bucket(v: u64) -> usize {
    if v < 16 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros() as usize; // 4..=63
    let sub = ((v >> (msb - 4)) & 0xf) as usize;
    16 + (msb - 4) * 16 + sub
}

/// The middle of bucket `i` (its exact value below 16).
fn middle(i: usize) -> u64 {
    if i < 16 {
        return i as u64;
    }
    let (group, sub) = ((i - 16) / 16, (i - 16) % 16);
    let width = 1u64 << group;
    ((16 + sub as u64) << group) + width / 2
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub const fn new() -> Histogram {
        Histogram {
            counts: [0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one latency.
    pub fn record(&mut self, ns: u64) {
        let c = &mut self.counts[bucket(ns)];
        *c = c.saturating_add(1);
        self.total += 1;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }

    /// Latencies recorded.
    pub const fn count(&self) -> u64 {
        self.total
    }

    /// The `per_mille`/1000 quantile (nearest rank), clamped to the
    /// smallest and largest value seen (which the first and last ranks
    /// are, exactly); `None` when empty.
    pub fn quantile(&self, per_mille: u32) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        let rank = (self.total * u64::from(per_mille.min(1000))).div_ceil(1000);
        // The ends are known exactly.
        match rank {
            0 | 1 => return Some(self.min),
            r if r == self.total => return Some(self.max),
            _ => {}
        }
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                return Some(middle(i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// p50 and p99, `None` when empty.
    pub fn latency(&self) -> Option<Latency> {
        Some(Latency {
            p50_ns: self.quantile(500)?,
            p99_ns: self.quantile(990)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let b = bucket(v);
            assert!(b >= last && b < BUCKETS, "{v}");
            last = b;
            let m = middle(b);
            // Within 1/32 of the value (exact below 16).
            assert!(m.abs_diff(v) <= v / 32, "{v} -> {m}");
        }
    }

    #[test]
    fn percentiles_of_known_sets() {
        let mut h = Histogram::new();
        assert_eq!(h.latency(), None);
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        assert_eq!(h.count(), 100);
        let p50 = h.quantile(500).unwrap();
        let p99 = h.quantile(990).unwrap();
        assert!(p50.abs_diff(50_000) <= 50_000 / 32, "{p50}");
        assert!(p99.abs_diff(99_000) <= 99_000 / 32, "{p99}");
        assert_eq!(h.quantile(1000), Some(100_000));
        assert_eq!(h.quantile(0), Some(1000));
        // One slow outlier in a hundred moves p99, not p50.
        let mut h = Histogram::new();
        for _ in 0..98 {
            h.record(10);
        }
        h.record(5_000_000);
        h.record(5_000_000);
        let l = h.latency().unwrap();
        assert_eq!(l.p50_ns, 10);
        assert!(l.p99_ns.abs_diff(5_000_000) <= 5_000_000 / 32, "{l:?}");
        // A single value is every percentile.
        let mut h = Histogram::new();
        h.record(12_345);
        assert_eq!(h.latency().unwrap().p50_ns, 12_345);
        assert_eq!(h.latency().unwrap().p99_ns, 12_345);
    }
}
