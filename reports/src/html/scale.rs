//! The scale section's table: one row per backend held.
use serde::Serialize;

use crate::charts::{fmt_bytes, fmt_ns};
use crate::model::Results;

#[derive(Debug, Serialize)]
pub struct ScaleRow {
    pub backend: String,
    pub emulated: bool,
    pub reached: u32,
    pub stopped: String,
    pub per_instance: String,
    pub ready_first: String,
    pub ready_last: String,
    pub rate: String,
    pub p50_16: String,
    pub p99_16: String,
    pub failure: String,
}

/// The rows for `results.scale`.
pub fn rows(results: &Results) -> Vec<ScaleRow> {
    let dash = || "–".to_string();
    results
        .scale
        .iter()
        .map(|s| {
            let per = match (s.bytes_per_instance, s.bytes_per_instance_ci) {
                (Some(b), Some((lo, hi))) => format!(
                    "{} [{}, {}]",
                    fmt_bytes(b.max(0.0)),
                    fmt_bytes(lo.max(0.0)),
                    fmt_bytes(hi.max(0.0))
                ),
                (Some(b), None) => fmt_bytes(b.max(0.0)),
                _ => dash(),
            };
            let at16 = s.concurrency.iter().find(|l| l.concurrency == 16);
            let ns = |v: Option<f64>| v.map_or_else(dash, fmt_ns);
            let ends = s.ready_ends_ns();
            ScaleRow {
                backend: s.backend.clone(),
                emulated: s.emulated,
                reached: s.reached,
                stopped: s.stopped.clone(),
                per_instance: per,
                ready_first: ns(ends.map(|(first, _, _)| first)),
                ready_last: ns(ends.map(|(_, last, _)| last)),
                rate: s.creations_per_s.map_or_else(dash, |r| {
                    format!("{r:.0}/s (at {})", s.creations_at.unwrap_or(0))
                }),
                p50_16: ns(at16.and_then(|l| l.p50_ns)),
                p99_16: ns(at16.and_then(|l| l.p99_ns)),
                failure: s.failure.clone().unwrap_or_default(),
            }
        })
        .collect()
}
