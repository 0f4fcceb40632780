//! Image sizes: what each backend ships, uncompressed and zstd, log scale.
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::{fmt_bytes, tick};
use super::frame::{err, kind_colour, log_max_for_labels, log_rows, log_span, Frame, FONT, INK};
use super::ChartError;
use crate::model::Results;

/// Image sizes of every backend that has an image; None when none has.
pub fn images_chart(results: &Results) -> Result<Option<String>, ChartError> {
    let rows: Vec<_> = results
        .backends
        .iter()
        .filter_map(|b| b.image.as_ref().map(|i| (b, i)))
        .filter(|(_, i)| i.uncompressed > 0)
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let labels: Vec<String> = rows.iter().map(|(b, _)| b.label()).collect();
    let (lo, hi) = log_span(
        rows.iter()
            .flat_map(|(_, i)| [i.uncompressed as f64, i.zstd as f64]),
    );
    let base = lo;
    let fmt = |v: f64| tick(&fmt_bytes(v));
    let values: Vec<(f64, String)> = rows
        .iter()
        .map(|(_, i)| {
            let (full, zstd) = (i.uncompressed as f64, i.zstd as f64);
            (
                full.max(zstd) * 1.1,
                format!("{} (zstd {})", fmt_bytes(full), fmt_bytes(zstd)),
            )
        })
        .collect();
    let frame = Frame {
        chart: "images",
        title: "Image size (solid: as shipped, light: zstd; log scale)".into(),
        rows: &labels,
        x: (lo, log_max_for_labels(&labels, lo, hi * 4.0, &values)),
        x_desc:
            "bytes shipped: VM = kernel + initramfs or bare ELF; container = rootfs or OCI layout",
        x_fmt: &fmt,
        log_base: 4.0,
    };
    log_rows(&frame, |chart| {
        for (i, (b, img)) in rows.iter().enumerate() {
            let y = frame.y(i);
            let c = kind_colour(b);
            let full = img.uncompressed as f64;
            let zstd = img.zstd as f64;
            chart
                .draw_series([
                    Rectangle::new([(base, y + 0.02), (full, y + 0.32)], c.filled()),
                    Rectangle::new(
                        [(base, y - 0.32), (zstd.max(base), y - 0.02)],
                        c.mix(0.35).filled(),
                    ),
                ])
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
