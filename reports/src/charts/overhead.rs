//! Isolation overhead: per kernel, each backend's median time as a ratio to
//! the plain process, with its distribution-free 95 % interval as an error bar.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{fmt_ratio, tick};
use super::frame::{err, log_rows, log_span, Frame, BLUE, FONT, GREY, INK, ORANGE, RED};
use super::ChartError;
use crate::figures::OverheadRatio;
use crate::model::BackendKind;

/// One chart per kernel, in the order given: (kernel, svg).
pub fn overhead_chart(ratios: &[OverheadRatio]) -> Result<Vec<(String, String)>, ChartError> {
    let mut kernels: Vec<&str> = Vec::new();
    for r in ratios {
        if !kernels.contains(&r.kernel.as_str()) {
            kernels.push(&r.kernel);
        }
    }
    let mut out = Vec::new();
    for kernel in kernels {
        let rows: Vec<&OverheadRatio> = ratios.iter().filter(|r| r.kernel == kernel).collect();
        let labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
        let (lo, hi) = log_span(
            rows.iter()
                .flat_map(|r| [r.ci_lo, r.ci_hi, r.ratio])
                .chain([1.0]),
        );
        let fmt = |v: f64| tick(&fmt_ratio(v));
        let frame = Frame {
            chart: "overhead",
            title: format!(
                "Kernel `{kernel}`: time relative to the plain process (95 % CI; log scale)"
            ),
            rows: &labels,
            x: (lo.min(0.8), hi * 3.0),
            x_desc: "median ns per iteration ÷ the plain process's (1× = no overhead)",
            x_fmt: &fmt,
            log_base: 10.0,
        };
        let svg = log_rows(&frame, |chart| {
            let n = rows.len() as f64;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(1.0, -0.5), (1.0, n - 0.5)],
                    GREY.stroke_width(2),
                )))
                .map_err(err)?;
            for (i, r) in rows.iter().enumerate() {
                let y = frame.y(i);
                let c = match (r.kind, r.emulated) {
                    (BackendKind::Vm, true) => RED,
                    (BackendKind::Vm, false) => ORANGE,
                    (BackendKind::Container, _) => BLUE,
                    (BackendKind::Process, _) => GREY,
                };
                if r.ci_lo.is_finite() && r.ci_hi.is_finite() {
                    chart
                        .draw_series([
                            PathElement::new(vec![(r.ci_lo, y), (r.ci_hi, y)], c.stroke_width(2)),
                            PathElement::new(
                                vec![(r.ci_lo, y - 0.2), (r.ci_lo, y + 0.2)],
                                c.stroke_width(2),
                            ),
                            PathElement::new(
                                vec![(r.ci_hi, y - 0.2), (r.ci_hi, y + 0.2)],
                                c.stroke_width(2),
                            ),
                        ])
                        .map_err(err)?;
                }
                chart
                    .draw_series(std::iter::once(Circle::new((r.ratio, y), 5, c.filled())))
                    .map_err(err)?;
                let style = (FONT, 15)
                    .into_font()
                    .color(&INK)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                let end = if r.ci_hi.is_finite() {
                    r.ci_hi.max(r.ratio)
                } else {
                    r.ratio
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!(
                            "{} [{}, {}]",
                            fmt_ratio(r.ratio),
                            fmt_ratio(r.ci_lo),
                            fmt_ratio(r.ci_hi)
                        ),
                        (end * 1.12, y),
                        style,
                    )))
                    .map_err(err)?;
            }
            Ok(())
        })?;
        out.push((kernel.to_string(), svg));
    }
    Ok(out)
}
