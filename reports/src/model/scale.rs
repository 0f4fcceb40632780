//! Scale: many held instances of one backend at once (`vmlab scale`, and
//! the scale section of `vmlab compare`).
use serde::{Deserialize, Serialize};

use super::BackendKind;

/// One backend's scale run: the density curve, the concurrency levels,
/// and what was derived from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ScaleResult {
    /// Backend name (`process`, `sandbox`, `crun`, ...).
    pub backend: String,
    /// Process, container or VM.
    #[serde(default)]
    pub kind: Option<BackendKind>,
    /// Held instances alive at once at the end of the density run.
    pub reached: u32,
    /// Why the density run stopped: `max`, `budget`, `time limit`,
    /// `failed`, `interrupted`.
    pub stopped: String,
    /// The failure that stopped it, when one did (the curve up to it is
    /// kept).
    #[serde(default)]
    pub failure: Option<String>,
    /// Instances that had exited by themselves before release (a backend
    /// that does not hold).
    #[serde(default)]
    pub died: u32,
    /// The memory budget, bytes of MemAvailable the run could spend.
    pub budget_bytes: u64,
    /// Slope of the host's memory use (MemAvailable drop) against N,
    /// bytes per extra held instance.
    pub bytes_per_instance: Option<f64>,
    /// Its interval.
    #[serde(default)]
    pub bytes_per_instance_ci: Option<(f64, f64)>,
    /// Slope of the instances' cgroup usage against N, where they run in
    /// cgroups vmlab can read.
    #[serde(default)]
    pub cgroup_bytes_per_instance: Option<f64>,
    /// Slope of to-ready against N, ns per extra instance already held.
    #[serde(default)]
    pub ready_ns_per_instance: Option<f64>,
    /// Peak creation throughput over the concurrency levels, instances/s.
    pub creations_per_s: Option<f64>,
    /// The concurrency at which that peak was measured.
    #[serde(default)]
    pub creations_at: Option<u32>,
    /// Guest code emulated (software nested KVM, QEMU TCG).
    #[serde(default)]
    pub emulated: bool,
    /// One step per started instance, in order.
    #[serde(default)]
    pub density: Vec<DensityStep>,
    /// One entry per concurrency level.
    #[serde(default)]
    pub concurrency: Vec<ConcurrencyLevel>,
    /// Where a start's time goes, for backends that record their phases
    /// (held in the driver): the median duration of each phase, ns, over
    /// every start of the run (density and concurrency), by phase name
    /// (`clone`, `bind_rootfs`, ..., `ready`: from the `exec` step to the
    /// workload's ready event).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub start_phases_ns: std::collections::BTreeMap<String, f64>,
}

/// Most starts at each end of the density curve that
/// [`ScaleResult::ready_ends_ns`] takes its medians over.
pub const END_STARTS: usize = 50;

impl ScaleResult {
    /// Median to-ready of the first and of the last starts of the density
    /// run (a tenth of them at each end, at least 1 and at most
    /// [`END_STARTS`]), ns, and how many each median is over: does the
    /// N-th start as fast as the first? `None` without a start.
    pub fn ready_ends_ns(&self) -> Option<(f64, f64, usize)> {
        let n = self.density.len();
        if n == 0 {
            return None;
        }
        let k = (n / 10).clamp(1, END_STARTS);
        let median = |steps: &[DensityStep]| {
            let xs: Vec<f64> = steps.iter().map(|d| d.to_ready_ns as f64).collect();
            crate::stats::quantile(&xs, 0.5)
        };
        Some((
            median(&self.density[..k]),
            median(&self.density[n - k..]),
            k,
        ))
    }
}

/// The host after the n-th held instance was ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct DensityStep {
    /// Instances held (this one included).
    pub n: u32,
    /// MemAvailable, bytes.
    pub mem_available_bytes: u64,
    /// MemAvailable at n = 0 minus now, bytes (negative when the host freed
    /// memory meanwhile).
    pub used_bytes: i64,
    /// Summed memory usage of the instances' cgroups, bytes, where known.
    #[serde(default)]
    pub cgroup_bytes: Option<u64>,
    /// This instance's spawn to ready, ns.
    pub to_ready_ns: u64,
}

/// Boots started together, `concurrency` at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ConcurrencyLevel {
    /// Instances started at once.
    pub concurrency: u32,
    /// Every to-ready, ns.
    pub to_ready_ns: Vec<u64>,
    /// Median, 90th and 99th percentile of to-ready, ns.
    pub p50_ns: Option<f64>,
    /// 90th percentile.
    pub p90_ns: Option<f64>,
    /// 99th percentile.
    pub p99_ns: Option<f64>,
    /// Instances ready per second of wall time (the waves' first spawn to
    /// their last ready).
    pub creations_per_s: Option<f64>,
    /// Starts that failed.
    #[serde(default)]
    pub failures: u32,
    /// The first failure, for the report.
    #[serde(default)]
    pub failure: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ready(ready: &[u64]) -> ScaleResult {
        ScaleResult {
            density: ready
                .iter()
                .enumerate()
                .map(|(i, &r)| DensityStep {
                    n: i as u32 + 1,
                    to_ready_ns: r,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_ends_are_medians_of_a_tenth_of_the_starts_at_each_end() {
        assert_eq!(with_ready(&[]).ready_ends_ns(), None);
        assert_eq!(with_ready(&[7]).ready_ends_ns(), Some((7.0, 7.0, 1)));
        // 30 starts: 3 at each end; one slow outlier among the first does
        // not move the median.
        let mut r: Vec<u64> = (0..30).map(|i| 100 + 10 * i).collect();
        r[0] = 100_000;
        assert_eq!(with_ready(&r).ready_ends_ns(), Some((120.0, 380.0, 3)));
        // 4000 starts: capped at 50 each.
        let r: Vec<u64> = (0..4000).collect();
        let (first, last, k) = with_ready(&r).ready_ends_ns().unwrap();
        assert_eq!((first, last, k), (24.5, 3974.5, END_STARTS));
    }
}
