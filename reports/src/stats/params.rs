//! The levels and thresholds every statistic in the report uses.

/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;

/// Family-wise error rate of the baseline comparison, after Holm's
/// correction over all compared figures.
pub const ALPHA: f64 = 0.05;

/// A baseline change smaller than this (relative) is never "changed",
/// whatever the test says; the A/A spread raises it where larger.
pub const NOISE_FLOOR: f64 = 0.02;

/// A ratio of medians must reach this (or its inverse) for a claim's
/// verdict to be "supported" or "contradicted".
pub const CLAIM_THRESHOLD: f64 = 1.1;

/// A backend whose overhead ratio to the plain process is below
/// `1 - BEATS_PROCESS_NOISE` (with an interval below 1) gets a flag: an
/// isolated workload should not beat the unisolated one.
pub const BEATS_PROCESS_NOISE: f64 = 0.05;

/// The old name of [`BEATS_PROCESS_NOISE`], kept for callers.
pub const NOISE_THRESHOLD: f64 = BEATS_PROCESS_NOISE;

/// Smallest n whose order-statistic interval for the median reaches
/// [`CONFIDENCE`] (checked against [`super::min_n_for`] in the tests).
pub const MIN_N_MEDIAN: usize = 6;

/// Smallest n per side for a ratio interval: each median's interval is
/// taken at `1 - (1 - CONFIDENCE) / 2` (Bonferroni), which needs n = 7.
pub const MIN_N_RATIO: usize = 7;
