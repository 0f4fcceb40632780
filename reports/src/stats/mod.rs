//! Statistics for small samples, distribution-free throughout.
//!
//! - [`describe`]: medians, quantiles, spreads and [`Summary`], whose
//!   interval for the median comes from order statistics;
//! - [`interval`]: order-statistic (binomial) confidence intervals for a
//!   median, and intervals for a ratio of two medians that carry both
//!   samples' spread;
//! - [`paired`]: ratios paired by round, where two backends share rounds;
//! - [`hypothesis`]: the Mann–Whitney test and Holm's multiplicity correction;
//! - [`change`]: how a figure moved between two runs, and the A/A split
//!   that calibrates the noise threshold;
//! - [`fit`]: a least-squares line with an interval for its slope;
//! - [`params`]: every level and threshold, in one place.
//!
//! Nothing is random, so the same samples always give the same report.
mod change;
mod describe;
mod fit;
mod hypothesis;
mod interval;
mod paired;
mod params;

pub use change::{aa_split, compare, Change};
pub use describe::{as_f64, iqr, mad, mean, median, quantile, quantile_sorted, Summary};
pub use fit::{line_fit, t_quantile, LineFit};
pub use hypothesis::{holm, holm_adjusted, mann_whitney_p, normal_cdf};
pub use interval::{median_ci, median_ci_ranks, min_n_for, ratio_ci};
pub use paired::paired_ratios;
pub use params::{
    ALPHA, BEATS_PROCESS_NOISE, CLAIM_THRESHOLD, CONFIDENCE, MIN_N_MEDIAN, MIN_N_RATIO,
    NOISE_FLOOR, NOISE_THRESHOLD,
};
