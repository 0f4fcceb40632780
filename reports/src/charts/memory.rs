//! Memory per instance: extra bytes per additional instance (or peak RSS
//! when only one instance was measured), log scale.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{fmt_bytes, tick};
use super::frame::{err, kind_colour, log_max_for_labels, log_rows, log_span, Frame, FONT, INK};
use super::ChartError;
use crate::model::Results;

/// Memory of every backend that measured it; None when none did.
pub fn memory_chart(results: &Results) -> Result<Option<String>, ChartError> {
    let rows: Vec<_> = results
        .backends
        .iter()
        .filter(|b| b.available)
        .filter_map(|b| b.memory.as_ref().map(|m| (b, m)))
        .filter(|(_, m)| m.rss_bytes > 0)
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let labels: Vec<String> = rows.iter().map(|(b, _)| b.label()).collect();
    let (lo, hi) = log_span(rows.iter().flat_map(|(_, m)| {
        [
            m.rss_bytes as f64,
            m.per_instance_bytes.unwrap_or(m.rss_bytes) as f64,
        ]
    }));
    let base = lo;
    let fmt = |v: f64| tick(&fmt_bytes(v));
    let values: Vec<(f64, String)> = rows.iter().map(|(_, m)| value_label(m)).collect();
    let frame = Frame {
        chart: "memory",
        title: "Memory (solid: per extra instance, light: peak RSS of one; log scale)".into(),
        rows: &labels,
        x: (lo, log_max_for_labels(&labels, lo, hi * 4.0, &values)),
        x_desc: "bytes: everything the backend runs (VMM incl. touched guest memory; all sandbox processes)",
        x_fmt: &fmt,
        log_base: 4.0,
    };
    log_rows(&frame, |chart| {
        for (i, (b, m)) in rows.iter().enumerate() {
            let y = frame.y(i);
            let c = kind_colour(b);
            let rss = m.rss_bytes as f64;
            if let Some(per) = m.per_instance_bytes {
                let per = per as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(base, y + 0.02), (per.max(base), y + 0.32)],
                        c.filled(),
                    )))
                    .map_err(err)?;
            }
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(base, y - 0.32), (rss, y - 0.02)],
                    c.mix(0.35).filled(),
                )))
                .map_err(err)?;
            let (at, label) = value_label(m);
            let style = (FONT, 15)
                .into_font()
                .color(&INK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            chart
                .draw_series(std::iter::once(Text::new(label, (at, y), style)))
                .map_err(err)?;
        }
        Ok(())
    })
    .map(Some)
}

/// Where a row's value label starts and what it says.
fn value_label(m: &crate::model::MemorySample) -> (f64, String) {
    let rss = m.rss_bytes as f64;
    let end = rss.max(m.per_instance_bytes.unwrap_or(0) as f64);
    let label = match m.per_instance_bytes {
        Some(per) => format!(
            "{} per instance, RSS {}",
            fmt_bytes(per as f64),
            fmt_bytes(rss)
        ),
        None => format!("RSS {}", fmt_bytes(rss)),
    };
    (end * 1.1, label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::frame::{text_right_ends, WIDTH};
    use crate::model::{BackendKind, BackendResult, MemorySample};

    #[test]
    fn value_labels_stay_inside_the_chart() {
        let b = |name: &str, kind, rss: u64, per: Option<u64>| BackendResult {
            name: name.into(),
            kind,
            available: true,
            memory: Some(MemorySample {
                rss_bytes: rss,
                per_instance_bytes: per,
                ..MemorySample::default()
            }),
            ..BackendResult::default()
        };
        let results = Results {
            backends: vec![
                b("process", BackendKind::Process, 2 << 20, Some(1 << 20)),
                b(
                    "vm-bare with a long descriptive backend name",
                    BackendKind::Vm,
                    600 << 20,
                    Some(590 << 20),
                ),
            ],
            ..Results::default()
        };
        let svg = memory_chart(&results).unwrap().unwrap();
        let ends = text_right_ends(&svg);
        assert!(
            ends.iter()
                .any(|(_, t)| t.contains("per instance, RSS 600")),
            "{ends:?}"
        );
        for (end, text) in ends {
            assert!(end <= f64::from(WIDTH), "{text:?} ends at {end:.0} px");
        }
    }
}
