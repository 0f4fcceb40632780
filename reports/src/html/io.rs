//! The I/O section's rows for the page ([`crate::io::section`]): per I/O
//! kernel and backend, the plain process's figure, the backend's, and the
//! ratio with its interval, or why the row is not like for like.
use serde::Serialize;

use crate::charts::{fmt_ns, fmt_ratio};
use crate::io::{section, Headline, IoFigure};
use crate::model::Results;
use crate::stats::MIN_N_RATIO;

/// One row of the I/O table.
#[derive(Debug, Serialize)]
pub struct IoLine {
    pub kernel: String,
    /// What the figures are (`p50 latency`, `throughput`, `IOPS`).
    pub figure: &'static str,
    pub process: String,
    pub backend: String,
    /// Not native: an emulated VM (labelled so).
    pub emulated: bool,
    pub value: String,
    pub ratio: String,
    pub ci: String,
    pub n: String,
    /// Why the ratio is no cost of isolation, when it is not.
    pub note: String,
}

fn label(h: Headline) -> &'static str {
    match h {
        Headline::Latency => "round trip p50 (p99)",
        Headline::Throughput => "throughput",
        Headline::Iops => "IOPS (p99 latency)",
    }
}

/// A figure as text: `45.0 µs (p99 150 µs)`, `812 MiB/s`, `9950 IOPS (p99 …)`.
pub fn fmt_figure(f: Option<IoFigure>) -> String {
    let Some(f) = f else {
        return "–".into();
    };
    let p99 = f
        .p99_ns
        .map_or(String::new(), |p| format!(" (p99 {})", fmt_ns(p)));
    match f.headline {
        Headline::Latency => format!("{}{p99}", fmt_ns(f.value)),
        Headline::Throughput => format!("{:.0} MiB/s", f.value),
        Headline::Iops => format!("{:.0} IOPS{p99}", f.value),
    }
}

/// The rows, kernels in the section's order.
pub fn lines(results: &Results) -> Vec<IoLine> {
    let mut out = Vec::new();
    for row in section(results) {
        for c in &row.backends {
            let r = &c.ratio;
            let ci = if r.ci_lo.is_finite() {
                format!("[{}, {}]", fmt_ratio(r.ci_lo), fmt_ratio(r.ci_hi))
            } else {
                format!("n too small (n < {MIN_N_RATIO} on a side)")
            };
            out.push(IoLine {
                kernel: row.kernel.clone(),
                figure: label(row.headline),
                process: fmt_figure(row.process),
                backend: r.backend.clone(),
                emulated: !c.native,
                value: fmt_figure(c.figure),
                ratio: match c.not_like_for_like {
                    Some(_) => "not like for like".into(),
                    None => fmt_ratio(r.ratio),
                },
                ci,
                n: format!("{} / {}", r.n, r.n_ref),
                note: c.not_like_for_like.clone().unwrap_or_default(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_carry_their_unit() {
        let f = |headline, value, p99_ns| {
            fmt_figure(Some(IoFigure {
                headline,
                value,
                p99_ns,
                n: 9,
            }))
        };
        assert_eq!(f(Headline::Throughput, 812.4, None), "812 MiB/s");
        assert!(f(Headline::Iops, 9950.2, Some(2e5)).starts_with("9950 IOPS (p99 "));
        assert!(f(Headline::Latency, 45_000.0, Some(1.5e5)).contains("(p99 "));
        assert_eq!(fmt_figure(None), "–");
    }
}
