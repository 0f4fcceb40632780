//! The summary tables in the formats people paste: Markdown
//! ([`markdown::render`], for an issue or a pull request) and CSV
//! ([`csv::render`], for a spreadsheet, pandas or R). Both are pure
//! functions of [`Results`](crate::Results); `results.json` stays the source of truth and
//! either export can be made again from it with `vmlab report`.
//!
//! The Markdown holds the page's tables with human units (the same figures
//! as `index.html`); the CSV holds one row per backend and figure with raw
//! numbers in base units (ns, bytes, ratio), so nothing is lost to rounding.
pub mod csv;
mod format;
pub mod markdown;

pub use format::{write, ExportError, Format};
