//! Memory per instance: extra bytes per additional instance (or peak RSS
//! when only one instance was measured), log scale.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{fmt_bytes, tick};
use super::frame::{err, kind_colour, log_rows, log_span, Frame, FONT, INK};
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
    let frame = Frame {
        chart: "memory",
        title: "Memory (solid: per extra instance, light: peak RSS of one; log scale)".into(),
        rows: &labels,
        x: (lo, hi * 4.0),
        x_desc: "bytes: everything the backend runs (VMM incl. touched guest memory; all sandbox processes)",
        x_fmt: &fmt,
        log_base: 4.0,
    };
    log_rows(&frame, |chart| {
        for (i, (b, m)) in rows.iter().enumerate() {
            let y = frame.y(i);
            let c = kind_colour(b);
            let rss = m.rss_bytes as f64;
            let mut label = format!("RSS {}", fmt_bytes(rss));
            if let Some(per) = m.per_instance_bytes {
                let per = per as f64;
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(base, y + 0.02), (per.max(base), y + 0.32)],
                        c.filled(),
                    )))
                    .map_err(err)?;
                label = format!("{} per instance, {label}", fmt_bytes(per));
            }
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(base, y - 0.32), (rss, y - 0.02)],
                    c.mix(0.35).filled(),
                )))
                .map_err(err)?;
            let end = rss.max(m.per_instance_bytes.unwrap_or(0) as f64);
            let style = (FONT, 15)
                .into_font()
                .color(&INK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            chart
                .draw_series(std::iter::once(Text::new(label, (end * 1.1, y), style)))
                .map_err(err)?;
        }
        Ok(())
    })
    .map(Some)
}
