//! Isolation overhead: per kernel, each backend's median time as a ratio to
//! the plain process, with its distribution-free 95 % interval as an error bar.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{fmt_ratio, tick};
use super::frame::{
    err, log_max_for_labels, log_rows, log_span, Frame, BLUE, FONT, GREY, INK, ORANGE, RED,
};
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
        let values: Vec<(f64, String)> = rows.iter().map(|r| value_label(r)).collect();
        let x0 = lo.min(0.8);
        let frame = Frame {
            chart: "overhead",
            title: format!(
                "Kernel `{kernel}`: time relative to the plain process (95 % CI; log scale)"
            ),
            rows: &labels,
            x: (x0, log_max_for_labels(&labels, x0, hi * 3.0, &values)),
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
                let (at, text) = value_label(r);
                chart
                    .draw_series(std::iter::once(Text::new(text, (at, y), style)))
                    .map_err(err)?;
            }
            Ok(())
        })?;
        out.push((kernel.to_string(), svg));
    }
    Ok(out)
}

/// Where a row's value label starts and what it says.
fn value_label(r: &OverheadRatio) -> (f64, String) {
    let end = if r.ci_hi.is_finite() {
        r.ci_hi.max(r.ratio)
    } else {
        r.ratio
    };
    let ci = if r.ci_lo.is_finite() {
        format!("[{}, {}]", fmt_ratio(r.ci_lo), fmt_ratio(r.ci_hi))
    } else {
        "(n too small for an interval)".into()
    };
    (end * 1.12, format!("{} {ci}", fmt_ratio(r.ratio)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::frame::{text_right_ends, WIDTH};

    fn ratio(label: &str, ratio: f64, ci: (f64, f64), kind: BackendKind) -> OverheadRatio {
        OverheadRatio {
            kernel: "cpu".into(),
            backend: label.into(),
            label: label.into(),
            kind,
            emulated: kind == BackendKind::Vm,
            ratio,
            ci_lo: ci.0,
            ci_hi: ci.1,
            beats_process: false,
            n: 10,
            n_ref: 10,
        }
    }

    /// An emulated VM 950× slower with a long label: its value label (the
    /// rightmost) stays inside the chart.
    #[test]
    fn value_labels_stay_inside_the_chart() {
        let rows = [
            ratio("sandbox", 1.01, (0.99, 1.03), BackendKind::Container),
            ratio(
                "vm-bare (emulated) with a long descriptive backend name",
                950.0,
                (900.0, 1010.0),
                BackendKind::Vm,
            ),
            ratio("crun", 0.98, (f64::NAN, f64::NAN), BackendKind::Container),
        ];
        let charts = overhead_chart(&rows).unwrap();
        let ends = text_right_ends(&charts[0].1);
        assert!(ends.iter().any(|(_, t)| t.starts_with("950×")), "{ends:?}");
        for (end, text) in ends {
            assert!(end <= f64::from(WIDTH), "{text:?} ends at {end:.0} px");
        }
    }
}
