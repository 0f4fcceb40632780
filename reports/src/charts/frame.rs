//! The shared frame of every chart: one row per item, a title, an x axis.
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::ChartError;

/// Chart width in pixels; the page scales it down on narrow screens.
pub(crate) const WIDTH: u32 = 1000;
/// Height of one row in pixels.
const ROW: u32 = 40;
/// Font for everything.
pub(crate) const FONT: &str = "sans-serif";
/// Margin around the chart, px.
const MARGIN: u32 = 12;
/// Generous width of one character of a value label (size 15, which the
/// SVG backend writes as 12.1 px), px.
const VALUE_CHAR_PX: f64 = 7.5;
/// Longest row label kept whole, characters (longer ones end in "…").
const MAX_ROW_CHARS: usize = 38;

/// Colours: a plain process, containers, VMs, emulated VMs, accents.
pub(crate) const GREY: RGBColor = RGBColor(107, 114, 128);
pub(crate) const BLUE: RGBColor = RGBColor(37, 99, 235);
pub(crate) const ORANGE: RGBColor = RGBColor(217, 119, 6);
pub(crate) const RED: RGBColor = RGBColor(185, 28, 28);
pub(crate) const INK: RGBColor = RGBColor(31, 41, 55);
pub(crate) const GRID: RGBColor = RGBColor(236, 238, 241);

/// The row colour of a backend.
pub(crate) fn kind_colour(b: &crate::model::BackendResult) -> RGBColor {
    use crate::model::BackendKind;
    match b.kind {
        BackendKind::Process => GREY,
        BackendKind::Container => BLUE,
        BackendKind::Vm if b.emulated => RED,
        BackendKind::Vm => ORANGE,
    }
}

/// A row chart being described.
pub(crate) struct Frame<'t> {
    /// Chart name for errors.
    pub chart: &'static str,
    /// Title above the plot.
    pub title: String,
    /// Row labels, top to bottom.
    pub rows: &'t [String],
    /// x range (positive for log scale).
    pub x: (f64, f64),
    /// x axis description.
    pub x_desc: &'t str,
    /// x tick label format.
    pub x_fmt: &'t dyn Fn(f64) -> String,
    /// Log base for tick placement (10 for times and ratios, 4 for bytes).
    pub log_base: f64,
}

impl Frame<'_> {
    /// y coordinate of row `i` (row 0 on top).
    pub(crate) fn y(&self, i: usize) -> f64 {
        (self.rows.len() - 1 - i) as f64
    }

    fn height(&self) -> u32 {
        100 + ROW * self.rows.len() as u32
    }

    fn label_width(&self) -> u32 {
        label_width(self.rows)
    }
}

/// The y label area for `rows`, px.
fn label_width(rows: &[String]) -> u32 {
    let longest = rows
        .iter()
        .map(|r| r.chars().count().min(MAX_ROW_CHARS + 1))
        .max()
        .unwrap_or(4);
    longest as u32 * 9 + 24
}

/// The width of the plotting area of a chart with these rows, px.
fn plot_width(rows: &[String]) -> f64 {
    f64::from(WIDTH - 2 * MARGIN - label_width(rows))
}

/// Approximate width of a value label, px.
pub(crate) fn text_px(text: &str) -> f64 {
    text.chars().count() as f64 * VALUE_CHAR_PX
}

/// The upper end of a log x axis from `x0` that is at least `x1` and
/// leaves room, right of each `(x, text)` label start, for its text, so
/// no value label runs off the chart's right edge.
pub(crate) fn log_max_for_labels(
    rows: &[String],
    x0: f64,
    x1: f64,
    labels: &[(f64, String)],
) -> f64 {
    let width = plot_width(rows);
    let lo = x0.ln();
    let mut hi = x1.ln();
    for (x, text) in labels.iter().filter(|(x, _)| x.is_finite() && *x > 0.0) {
        // The label starts at fraction f of the axis and needs r more of it:
        // f + r <= 1, with f = (ln x - lo) / (hi - lo).
        let r = ((text_px(text) + 8.0) / width).min(0.85);
        hi = hi.max(lo + (x.ln() - lo) / (1.0 - r));
    }
    hi.exp()
}

/// A chart with a logarithmic x axis and rows on y.
pub(crate) type LogChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<LogCoord<f64>, RangedCoordf64>>;
/// A chart with a linear x axis and rows on y.
pub(crate) type LinChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn root<'b>(buf: &'b mut String, frame: &Frame) -> DrawingArea<SVGBackend<'b>, Shift> {
    SVGBackend::with_string(buf, (WIDTH, frame.height())).into_drawing_area()
}

fn row_label(frame: &Frame, v: f64) -> String {
    let n = frame.rows.len();
    let r = v.round();
    if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < n {
        let label = &frame.rows[n - 1 - r as usize];
        if label.chars().count() > MAX_ROW_CHARS {
            let mut short: String = label.chars().take(MAX_ROW_CHARS - 1).collect();
            short.push('…');
            short
        } else {
            label.clone()
        }
    } else {
        String::new()
    }
}

/// Draws a log-x row chart; `draw` adds the data.
pub(crate) fn log_rows(
    frame: &Frame,
    draw: impl FnOnce(&mut LogChart) -> Result<(), String>,
) -> Result<String, ChartError> {
    let x = (frame.x.0..frame.x.1).log_scale().base(frame.log_base);
    rows(frame, x, 8, draw)
}

/// Draws a linear-x row chart; `draw` adds the data.
pub(crate) fn lin_rows(
    frame: &Frame,
    draw: impl FnOnce(&mut LinChart) -> Result<(), String>,
) -> Result<String, ChartError> {
    rows(frame, frame.x.0..frame.x.1, 11, draw)
}

/// A row chart over the x axis `x` (rows on y, one per `frame.rows`).
fn rows<X>(
    frame: &Frame,
    x: X,
    x_labels: usize,
    draw: impl FnOnce(
        &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<X::CoordDescType, RangedCoordf64>>,
    ) -> Result<(), String>,
) -> Result<String, ChartError>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let err = |e| ChartError::new(frame.chart, e);
    let mut buf = String::new();
    {
        let area = root(&mut buf, frame);
        area.fill(&WHITE).map_err(err)?;
        let n = frame.rows.len() as f64;
        let mut chart = ChartBuilder::on(&area)
            .caption(&frame.title, (FONT, 20).into_font().color(&INK))
            .margin(MARGIN)
            .x_label_area_size(50)
            .y_label_area_size(frame.label_width())
            .build_cartesian_2d(x, -0.5..n - 0.5)
            .map_err(err)?;
        let xf = |v: &f64| (frame.x_fmt)(*v);
        let yf = |v: &f64| row_label(frame, *v);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .y_labels(frame.rows.len())
            .x_labels(x_labels)
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .x_desc(frame.x_desc)
            .label_style((FONT, 16).into_font().color(&INK))
            .axis_desc_style((FONT, 15).into_font().color(&INK))
            .draw()
            .map_err(err)?;
        draw(&mut chart).map_err(|e| ChartError::new(frame.chart, e))?;
        area.present().map_err(err)?;
    }
    Ok(buf)
}

/// The log range that shows every value in `values` with some margin.
pub(crate) fn log_span(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.into_iter().filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (1.0, 10.0);
    }
    (lo / 1.6, hi * 1.6)
}

/// Turns a plotters error into a string for the `draw` closures.
pub(crate) fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Test helper: the right end of every left-anchored `<text>` of `svg`,
/// estimated as its x plus [`text_px`] of its content.
#[cfg(test)]
pub(crate) fn text_right_ends(svg: &str) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    for part in svg.split("<text").skip(1) {
        let Some((attrs, rest)) = part.split_once('>') else {
            continue;
        };
        if !attrs.contains("text-anchor=\"start\"") {
            continue;
        }
        let x: f64 = attrs
            .split("x=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        let content = rest.split("</text>").next().unwrap_or_default().trim();
        let content = content
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        out.push((x + text_px(&content), content));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_labels_top_to_bottom() {
        let rows = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let fmt = |v: f64| v.to_string();
        let f = Frame {
            chart: "t",
            title: String::new(),
            rows: &rows,
            x: (1.0, 2.0),
            x_desc: "",
            x_fmt: &fmt,
            log_base: 10.0,
        };
        assert_eq!(f.y(0), 2.0);
        assert_eq!(row_label(&f, 2.0), "a");
        assert_eq!(row_label(&f, 0.0), "c");
        assert_eq!(row_label(&f, 0.5), "");
        assert_eq!(log_span([10.0, 100.0, 0.0, f64::NAN]), (10.0 / 1.6, 160.0));
    }

    #[test]
    fn the_axis_grows_to_fit_a_label_at_its_end() {
        let rows = vec!["a".to_string()];
        // A label starting at the axis end needs the axis extended.
        let label = (100.0, "x".repeat(40));
        let hi = log_max_for_labels(&rows, 1.0, 100.0, std::slice::from_ref(&label));
        assert!(hi > 100.0);
        // Where it starts, the fraction of the axis left must hold the text.
        let f = 100f64.ln() / hi.ln();
        assert!((1.0 - f) * plot_width(&rows) >= text_px(&label.1), "{hi}");
        // A label well inside needs nothing.
        let inside = log_max_for_labels(&rows, 1.0, 100.0, &[(2.0, "ab".into())]);
        assert!((inside - 100.0).abs() < 1e-9, "{inside}");
        // Long row labels are cut, with an ellipsis.
        let long = vec!["n".repeat(60)];
        let fmt = |v: f64| v.to_string();
        let f = Frame {
            chart: "t",
            title: String::new(),
            rows: &long,
            x: (1.0, 2.0),
            x_desc: "",
            x_fmt: &fmt,
            log_base: 10.0,
        };
        assert_eq!(row_label(&f, 0.0).chars().count(), MAX_ROW_CHARS);
        assert!(row_label(&f, 0.0).ends_with('…'));
    }
}
