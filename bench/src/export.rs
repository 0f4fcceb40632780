//! `--export-markdown FILE` and `--export-csv FILE`, shared by `vmlab
//! compare` and `vmlab report`: the summary tables written with the
//! reports crate's [`vmlab_reports::export`], beside the source of truth,
//! `results.json`.
use std::path::{Path, PathBuf};

use clap::Args;
use vmlab_reports::export::{self, Format};
use vmlab_reports::Results;

/// The export flags.
#[derive(Args, Debug, Clone, Default)]
pub struct ExportArgs {
    /// Also write the summary tables as Markdown to FILE (to paste into an
    /// issue or a pull request).
    #[arg(long, value_name = "FILE")]
    pub export_markdown: Option<PathBuf>,
    /// Also write the summary as CSV to FILE: one row per backend and
    /// figure, raw numbers in ns, bytes or ratio.
    #[arg(long, value_name = "FILE")]
    pub export_csv: Option<PathBuf>,
}

impl ExportArgs {
    fn each(&self) -> impl Iterator<Item = (Format, &Path)> {
        [
            (Format::Markdown, &self.export_markdown),
            (Format::Csv, &self.export_csv),
        ]
        .into_iter()
        .filter_map(|(f, p)| p.as_deref().map(|p| (f, p)))
    }

    /// Refuses, before anything runs, a path that cannot be a file: one
    /// that is a directory, or whose directory does not exist.
    pub fn check(&self) -> anyhow::Result<()> {
        for (format, path) in self.each() {
            let flag = flag(format);
            if path.is_dir() {
                anyhow::bail!(
                    "{flag} {} is a directory; pass a file name such as {}",
                    path.display(),
                    path.join(default_name(format)).display()
                );
            }
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            if !parent.is_dir() {
                anyhow::bail!(
                    "{flag} {}: the directory {} does not exist; create it or pass another path",
                    path.display(),
                    parent.display()
                );
            }
        }
        Ok(())
    }

    /// Writes every requested export of `results` and names each on stderr.
    pub fn write(&self, results: &Results) -> anyhow::Result<()> {
        for (format, path) in self.each() {
            export::write(format, results, path)?;
            eprintln!("{}: {}", format.label(), path.display());
        }
        Ok(())
    }
}

fn flag(format: Format) -> &'static str {
    match format {
        Format::Markdown => "--export-markdown",
        Format::Csv => "--export-csv",
    }
}

fn default_name(format: Format) -> &'static str {
    match format {
        Format::Markdown => "results.md",
        Format::Csv => "results.csv",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_cannot_be_files_are_refused() {
        let dir = ExportArgs {
            export_csv: Some(std::env::temp_dir()),
            ..ExportArgs::default()
        };
        let e = dir.check().unwrap_err().to_string();
        assert!(
            e.contains("--export-csv") && e.contains("is a directory"),
            "{e}"
        );
        let missing = ExportArgs {
            export_markdown: Some(PathBuf::from("/nonexistent/vmlab/out.md")),
            ..ExportArgs::default()
        };
        let e = missing.check().unwrap_err().to_string();
        assert!(
            e.contains("--export-markdown") && e.contains("/nonexistent/vmlab does not exist"),
            "{e}"
        );
        let fine = ExportArgs {
            export_markdown: Some(PathBuf::from("out.md")),
            export_csv: Some(std::env::temp_dir().join("out.csv")),
        };
        fine.check().unwrap();
        ExportArgs::default().check().unwrap();
    }
}
