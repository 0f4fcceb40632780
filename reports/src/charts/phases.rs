//! Phase breakdown: one stacked bar per backend, each segment a boot phase's
//! median duration as a share of the backend's total.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::fmt_ns;
use super::frame::{err, lin_rows, Frame, FONT};
use super::ChartError;
use crate::model::Results;
use crate::stats::{as_f64, median};

const PALETTE: [RGBColor; 10] = [
    RGBColor(29, 78, 216),
    RGBColor(8, 145, 178),
    RGBColor(5, 150, 105),
    RGBColor(101, 163, 13),
    RGBColor(202, 138, 4),
    RGBColor(234, 88, 12),
    RGBColor(220, 38, 38),
    RGBColor(147, 51, 234),
    RGBColor(219, 39, 119),
    RGBColor(71, 85, 105),
];

/// Pixels per percent of the plot (about 800 px for 100 %).
const PX_PER_PERCENT: f64 = 7.5;

/// Stacked phase shares of every backend that reports phases; None when none does.
pub fn phases_chart(results: &Results) -> Result<Option<String>, ChartError> {
    let rows: Vec<(String, Vec<(String, f64)>)> = results
        .backends
        .iter()
        .filter(|b| b.available && !b.boot.phases.is_empty())
        .map(|b| {
            let phases: Vec<(String, f64)> = b
                .boot
                .phases
                .iter()
                .map(|p| (p.name.clone(), median(&as_f64(&p.ns))))
                .filter(|(_, m)| m.is_finite())
                .collect();
            (b.label(), phases)
        })
        .filter(|(_, p)| p.iter().map(|(_, m)| m).sum::<f64>() > 0.0)
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let labels: Vec<String> = rows
        .iter()
        .map(|(name, p)| format!("{name}: {}", fmt_ns(p.iter().map(|(_, m)| m).sum())))
        .collect();
    let fmt = |v: f64| format!("{v:.0} %");
    let frame = Frame {
        chart: "phases",
        title: "Boot phases, median of each, as a share of the total".into(),
        rows: &labels,
        x: (0.0, 100.0),
        x_desc: "share of the summed phase medians (row label: that sum)",
        x_fmt: &fmt,
        log_base: 10.0,
    };
    lin_rows(&frame, |chart| {
        for (i, (_, phases)) in rows.iter().enumerate() {
            let y = frame.y(i);
            let total: f64 = phases.iter().map(|(_, m)| m).sum();
            let mut start = 0.0;
            for (k, (name, m)) in phases.iter().enumerate() {
                let share = m / total * 100.0;
                let c = PALETTE[k % PALETTE.len()];
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(start, y - 0.32), (start + share, y + 0.32)],
                        c.filled(),
                    )))
                    .map_err(err)?;
                let text_px = name.chars().count() as f64 * 7.0 + 8.0;
                if share * PX_PER_PERCENT > text_px {
                    let style = (FONT, 13)
                        .into_font()
                        .color(&WHITE)
                        .pos(Pos::new(HPos::Center, VPos::Center));
                    chart
                        .draw_series(std::iter::once(Text::new(
                            name.clone(),
                            (start + share / 2.0, y),
                            style,
                        )))
                        .map_err(err)?;
                }
                start += share;
            }
        }
        Ok(())
    })
    .map(Some)
}
