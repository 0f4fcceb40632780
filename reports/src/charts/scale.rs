//! Scale charts: lines over N held instances (memory used, start time) and
//! over concurrency (to-ready percentiles, creations per second), one line
//! per backend.
use plotters::prelude::*;

use super::format::{fmt_bytes, fmt_ns, tick};
use super::frame::{BLUE, FONT, GREY, INK, ORANGE, RED, WIDTH};
use super::ChartError;
use crate::model::{Results, ScaleResult};

const HEIGHT: u32 = 420;
const PALETTE: [RGBColor; 6] = [
    BLUE,
    ORANGE,
    RED,
    GREY,
    RGBColor(5, 150, 105),
    RGBColor(124, 58, 237),
];

/// One line: a backend's points.
struct Line {
    name: String,
    points: Vec<(f64, f64)>,
}

/// A line chart of `lines`; None when no line has two points.
fn lines_chart(
    chart: &'static str,
    title: &str,
    x_desc: &str,
    y_fmt: &dyn Fn(f64) -> String,
    lines: &[Line],
) -> Result<Option<String>, ChartError> {
    if !lines.iter().any(|l| l.points.len() >= 2) {
        return Ok(None);
    }
    let all = lines.iter().flat_map(|l| l.points.iter());
    let (mut x1, mut y0, mut y1) = (1.0f64, 0.0f64, 1.0f64);
    for &(x, y) in all {
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let err = |e: String| ChartError::new(chart, e);
    let mut buf = String::new();
    {
        let area = SVGBackend::with_string(&mut buf, (WIDTH, HEIGHT)).into_drawing_area();
        area.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut c = ChartBuilder::on(&area)
            .caption(title, (FONT, 20).into_font().color(&INK))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..x1 * 1.02, y0..y1 * 1.05)
            .map_err(|e| err(e.to_string()))?;
        let yf = |v: &f64| tick(&y_fmt(*v));
        c.configure_mesh()
            .x_desc(x_desc)
            .y_label_formatter(&yf)
            .label_style((FONT, 14).into_font().color(&INK))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (i, l) in lines.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            c.draw_series(LineSeries::new(
                l.points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(|e| err(e.to_string()))?
            .label(l.name.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour));
        }
        c.configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(GREY)
            .label_font((FONT, 14).into_font().color(&INK))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        area.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(Some(buf))
}

fn each(results: &Results, f: impl Fn(&ScaleResult) -> Vec<(f64, f64)>) -> Vec<Line> {
    results
        .scale
        .iter()
        .map(|s| Line {
            name: s.backend.clone(),
            points: f(s),
        })
        .filter(|l| !l.points.is_empty())
        .collect()
}

/// The scale charts that have data: memory against N, start time against
/// N, to-ready p50 and p99 against concurrency, creations per second.
pub fn scale_charts(results: &Results) -> Result<Vec<String>, ChartError> {
    let bytes = |v: f64| fmt_bytes(v.max(0.0));
    let ns = |v: f64| fmt_ns(v.max(0.0));
    let rate = |v: f64| format!("{v:.0}/s");
    let memory = each(results, |s| {
        s.density
            .iter()
            .map(|d| (d.n as f64, d.used_bytes as f64))
            .collect()
    });
    let start = each(results, |s| {
        s.density
            .iter()
            .map(|d| (d.n as f64, d.to_ready_ns as f64))
            .collect()
    });
    let pct = |p: fn(&crate::model::ConcurrencyLevel) -> Option<f64>| {
        each(results, move |s| {
            s.concurrency
                .iter()
                .filter_map(|l| Some((l.concurrency as f64, p(l)?)))
                .collect()
        })
    };
    let charts = [
        lines_chart(
            "scale-memory",
            "Host memory used (MemAvailable drop) against instances held",
            "instances held at once (N)",
            &bytes,
            &memory,
        )?,
        lines_chart(
            "scale-start",
            "Start time (to ready) of the N-th held instance",
            "instances held at once (N)",
            &ns,
            &start,
        )?,
        lines_chart(
            "scale-p50",
            "Median to-ready against boots started at once",
            "concurrency",
            &ns,
            &pct(|l| l.p50_ns),
        )?,
        lines_chart(
            "scale-p99",
            "99th percentile to-ready against boots started at once",
            "concurrency",
            &ns,
            &pct(|l| l.p99_ns),
        )?,
        lines_chart(
            "scale-rate",
            "Creations per second against boots started at once",
            "concurrency",
            &rate,
            &pct(|l| l.creations_per_s),
        )?,
    ];
    Ok(charts.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConcurrencyLevel, DensityStep};

    #[test]
    fn draws_what_has_data_and_nothing_else() {
        assert!(scale_charts(&Results::default()).unwrap().is_empty());
        let r = Results {
            scale: vec![ScaleResult {
                backend: "sandbox".into(),
                density: (1..=5)
                    .map(|n| DensityStep {
                        n,
                        used_bytes: (n as i64) << 20,
                        to_ready_ns: 5_000_000,
                        ..Default::default()
                    })
                    .collect(),
                concurrency: vec![ConcurrencyLevel {
                    concurrency: 1,
                    p50_ns: Some(1e6),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Results::default()
        };
        let charts = scale_charts(&r).unwrap();
        assert_eq!(charts.len(), 2, "one concurrency level draws no line");
        assert!(charts[0].contains("sandbox") && charts[0].starts_with("<svg"));
    }
}
