//! The export formats and writing one to a file.
use std::path::{Path, PathBuf};

use super::{csv, markdown};
use crate::Results;

/// Writing an export failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot write the {format} export to {path}: {source} \
     (check that the directory exists and is writable, or pass another path)"
)]
pub struct ExportError {
    /// "Markdown" or "CSV".
    pub format: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// GitHub-flavoured Markdown tables.
    Markdown,
    /// RFC 4180 CSV, one row per backend and figure.
    Csv,
}

impl Format {
    /// The format's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Format::Markdown => "Markdown",
            Format::Csv => "CSV",
        }
    }

    /// `results` in this format.
    pub fn render(self, results: &Results) -> String {
        match self {
            Format::Markdown => markdown::render(results),
            Format::Csv => csv::render(results),
        }
    }
}

/// Renders `results` as `format` and writes it to `path` (the file is
/// replaced; its directory must exist).
pub fn write(format: Format, results: &Results, path: &Path) -> Result<(), ExportError> {
    std::fs::write(path, format.render(results)).map_err(|source| ExportError {
        format: format.label(),
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_named() {
        let r = Results::from_json(crate::export::csv::tests::FIXTURE, "fixture").unwrap();
        let path = Path::new("/nonexistent/vmlab-export-test/out.csv");
        let e = write(Format::Csv, &r, path).unwrap_err().to_string();
        assert!(
            e.contains("CSV") && e.contains("/nonexistent/vmlab-export-test/out.csv"),
            "{e}"
        );
        assert!(e.contains("directory exists"), "{e}");
    }
}
