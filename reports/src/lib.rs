//! vmlab results model, statistics, charts and the HTML report.
//!
//! The flow, from what `vmlab compare` measured to a page:
//! 1. [`model::Results`] holds raw samples per backend plus host facts, tool
//!    versions and the git revision; it is written as versioned JSON
//!    (`schema_version`, see [`model::SCHEMA_VERSION`]) and read back with
//!    [`model::Results::load`], which names unknown versions.
//! 2. [`stats`] turns samples into medians, spreads, order-statistic
//!    intervals, Mann–Whitney tests and Holm's correction; [`figures`]
//!    derives what several parts share (overhead ratios to the plain
//!    process, which figures are native).
//! 3. [`charts`] draws each figure as an SVG string with plotters;
//!    [`claims`] checks the seed notes' claims on like-for-like pairs with a
//!    stated test each; [`baseline`] marks changes against an older run
//!    (Holm-corrected, above a noise threshold, with an A/A calibration).
//! 4. [`html`] lays everything out with a minijinja template into one
//!    self-contained `index.html` (inline CSS and SVG, no scripts, no
//!    network). [`render`] and [`write_report`] are the entry points.
//! 5. [`export`] writes the same summary tables as Markdown and CSV, for
//!    pasting into an issue or loading into a spreadsheet.
//!
//! When the host's KVM is software nested (pvm) the page says so at the top
//! and next to every VM figure: those numbers measure emulation, not
//! hardware virtualisation.
use std::path::{Path, PathBuf};

pub mod baseline;
pub mod charts;
pub mod claims;
pub mod export;
pub mod figures;
pub mod html;
pub mod io;
pub mod model;
pub mod stats;

pub use model::{LoadError, Results};

/// Producing the report failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A chart could not be drawn.
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    /// The page template failed.
    #[error(transparent)]
    Template(#[from] html::TemplateError),
    /// The output directory or a file in it could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Renders `index.html` for `results`, marking significant changes against
/// `baseline` when one is given.
pub fn render(results: &Results, baseline: Option<&Results>) -> Result<String, ReportError> {
    let results = &mark_emulated(results);
    let ratios = figures::overhead_ratios(results);
    let charts = html::Charts {
        boot: charts::boot_chart(results)?,
        phases: charts::phases_chart(results)?,
        images: charts::images_chart(results)?,
        memory: charts::memory_chart(results)?,
        overhead: charts::overhead_chart(&ratios)?
            .into_iter()
            .map(|(kernel, svg)| html::KernelChart { kernel, svg })
            .collect(),
        scale: charts::scale_charts(results)?,
    };
    let claims = claims::claims(results);
    let baseline = baseline.map(|b| baseline::compare_runs(b, results));
    let page = html::page(results, charts, claims, &ratios, baseline);
    Ok(html::render_page(&page)?)
}

/// On a software-nested KVM host every VM runs emulated guest code, whatever
/// the producer recorded: mark them all so no VM figure goes unlabelled.
pub(crate) fn mark_emulated(results: &Results) -> Results {
    let mut r = results.clone();
    if r.host.kvm.is_software() {
        for b in r
            .backends
            .iter_mut()
            .filter(|b| b.kind == model::BackendKind::Vm)
        {
            b.emulated = true;
        }
    }
    r
}

/// Writes `results.json` and `index.html` into `out_dir` (created if
/// missing) and returns the path of `index.html`.
pub fn write_report(
    results: &Results,
    baseline: Option<&Results>,
    out_dir: &Path,
) -> Result<PathBuf, ReportError> {
    let html = render(results, baseline)?;
    let write = |path: PathBuf, text: &str| {
        std::fs::write(&path, text).map_err(|source| ReportError::Write { path, source })
    };
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::Write {
        path: out_dir.to_path_buf(),
        source,
    })?;
    write(out_dir.join("results.json"), &results.to_json())?;
    let index = out_dir.join("index.html");
    write(index.clone(), &html)?;
    Ok(index)
}
