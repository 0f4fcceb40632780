//! Boot-time distribution: one strip per backend (every run a dot, box =
//! quartiles, thick bar = median, whiskers = min..max), log scale.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{fmt_ns, tick};
use super::frame::{err, kind_colour, log_max_for_labels, log_rows, log_span, Frame, FONT, INK};
use super::ChartError;
use crate::model::Results;
use crate::stats::{as_f64, Summary};

/// Start-to-ready distribution of every backend with samples; None when no
/// backend has any.
pub fn boot_chart(results: &Results) -> Result<Option<String>, ChartError> {
    let rows: Vec<_> = results
        .backends
        .iter()
        .filter(|b| b.available && !b.boot.to_ready_ns.is_empty())
        .map(|b| (b, as_f64(&b.boot.to_ready_ns)))
        .filter_map(|(b, xs)| Summary::of(&xs).map(|s| (b, xs, s)))
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let labels: Vec<String> = rows.iter().map(|(b, _, _)| b.label()).collect();
    let (lo, hi) = log_span(rows.iter().flat_map(|(_, xs, _)| xs.iter().copied()));
    let fmt = |v: f64| tick(&fmt_ns(v));
    let values: Vec<(f64, String)> = rows
        .iter()
        .map(|(_, _, s)| (s.max * 1.12, format!("{} (n={})", fmt_ns(s.median), s.n)))
        .collect();
    let frame = Frame {
        chart: "boot",
        title: "Start to ready, every run (box: quartiles, bar: median; log scale)".into(),
        rows: &labels,
        x: (lo, log_max_for_labels(&labels, lo, hi * 3.0, &values)),
        x_desc: "time from the backend's first action to the workload's ready mark",
        x_fmt: &fmt,
        log_base: 10.0,
    };
    log_rows(&frame, |chart| {
        for (i, (b, xs, s)) in rows.iter().enumerate() {
            let y = frame.y(i);
            let c = kind_colour(b);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(s.min, y), (s.max, y)],
                    c.stroke_width(1),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(s.q1, y - 0.26), (s.q3, y + 0.26)],
                    c.mix(0.18).filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(s.q1, y - 0.26), (s.q3, y + 0.26)],
                    c.stroke_width(1),
                )))
                .map_err(err)?;
            // Deterministic vertical jitter so equal values stay visible.
            let dots = xs.iter().enumerate().map(|(k, &x)| {
                let jitter = ((k as f64 * 0.618_034).fract() - 0.5) * 0.4;
                Circle::new((x, y + jitter), 2.5, c.mix(0.55).filled())
            });
            chart.draw_series(dots).map_err(err)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(s.median, y - 0.34), (s.median, y + 0.34)],
                    INK.stroke_width(3),
                )))
                .map_err(err)?;
            let style = (FONT, 15)
                .into_font()
                .color(&INK)
                .pos(Pos::new(HPos::Left, VPos::Center));
            let (at, text) = values[i].clone();
            chart
                .draw_series(std::iter::once(Text::new(text, (at, y), style)))
                .map_err(err)?;
        }
        Ok(())
    })
    .map(Some)
}
