//! The warm-start section's rows for the page: per backend, its cold start
//! next to its restore or pool hand-off, with the clock each was timed on.
use serde::Serialize;

use crate::charts::{fmt_bytes, fmt_ns, fmt_ratio};
use crate::model::{Results, StartKind, WarmRow};

/// One row of the warm-start table.
#[derive(Debug, Serialize)]
pub struct WarmLine {
    pub backend: String,
    pub start: &'static str,
    pub clock: &'static str,
    pub method: String,
    pub emulated: bool,
    pub n: usize,
    pub median: String,
    pub spread: String,
    /// Median ÷ the same backend's cold median on the same clock.
    pub vs_cold: String,
    pub phases: String,
    pub snapshot: String,
    pub note: String,
}

fn spread(r: &WarmRow) -> String {
    let (lo, hi) = (r.to_ready_ns.iter().min(), r.to_ready_ns.iter().max());
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{}–{}", fmt_ns(*lo as f64), fmt_ns(*hi as f64)),
        _ => "–".into(),
    }
}

fn line(r: &WarmRow, all: &[WarmRow]) -> WarmLine {
    let cold = all
        .iter()
        .find(|c| c.backend == r.backend && c.start == StartKind::Cold && c.timing == r.timing)
        .and_then(WarmRow::median_ns);
    let vs_cold = match (r.start.is_warm(), r.median_ns(), cold) {
        (true, Some(m), Some(c)) if c > 0 => fmt_ratio(m as f64 / c as f64),
        _ => "–".into(),
    };
    let mut note = r.skipped.clone().unwrap_or_default();
    if !r.failures.is_empty() {
        note = format!("{} failed run(s): {}", r.failures.len(), r.failures[0]);
    }
    WarmLine {
        backend: r.backend.clone(),
        start: r.start.label(),
        clock: r.timing.label(),
        method: r.method.clone(),
        emulated: r.emulated,
        n: r.to_ready_ns.len(),
        median: r.median_ns().map_or("–".into(), |m| fmt_ns(m as f64)),
        spread: spread(r),
        vs_cold,
        phases: r
            .phases
            .iter()
            .filter(|(n, _)| {
                matches!(
                    n.as_str(),
                    "release" | "go" | "exec" | "seccomp" | "park" | "clone" | "ready"
                )
            })
            .map(|(n, t)| format!("{n} {}", fmt_ns(*t as f64)))
            .collect::<Vec<_>>()
            .join(", "),
        snapshot: r
            .snapshot_bytes
            .map_or(String::new(), |b| fmt_bytes(b as f64)),
        note,
    }
}

/// The rows, or none when the run has no warm-start section.
pub fn lines(results: &Results) -> Option<Vec<WarmLine>> {
    let s = results.warm.as_ref()?;
    Some(s.rows.iter().map(|r| line(r, &s.rows)).collect())
}
