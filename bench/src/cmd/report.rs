//! `vmlab report RESULTS.json [--baseline OLD.json] [--out DIR]
//! [--export-markdown FILE] [--export-csv FILE]`: re-render the HTML report
//! from a results file, optionally marking significant changes against an
//! older one, and export its summary tables.
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use vmlab_reports::Results;

/// Arguments of `vmlab report`.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The results file written by `vmlab compare`.
    pub results: PathBuf,
    /// An older results file: changes that are significant get marked.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Where to write results.json and index.html (default: beside RESULTS).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Markdown and CSV exports of the summary.
    #[command(flatten)]
    pub export: vmlab_bench::export::ExportArgs,
}

/// Runs `vmlab report`.
pub fn main(args: ReportArgs) -> anyhow::Result<u8> {
    args.export.check()?;
    let results = Results::load(&args.results)?;
    let baseline = args.baseline.as_deref().map(Results::load).transpose()?;
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => match args.results.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
    };
    let index = vmlab_reports::write_report(&results, baseline.as_ref(), &out)
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    eprintln!("report: {}", index.display());
    args.export.write(&results)?;
    if let Some(b) = &baseline {
        let cmp = vmlab_reports::baseline::compare_runs(b, &results);
        eprintln!(
            "baseline: {} of {} compared figures changed significantly",
            cmp.significant,
            cmp.rows.len()
        );
        for r in cmp.rows.iter().filter(|r| r.significant) {
            eprintln!(
                "  {} {}: {} -> {} ({} {}, p = {})",
                r.backend, r.metric, r.before, r.after, r.ratio, r.direction, r.p
            );
        }
    }
    Ok(0)
}
