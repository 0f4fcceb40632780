//! Shared test helpers: the fixture and the charts of a page (the temp dir
//! is `vmlab_test_util::TempDir`).
#![allow(dead_code)]
use std::path::{Path, PathBuf};

use vmlab_reports::Results;

pub mod browser;

/// The checked-in FIXTURE results (made-up numbers, never a measurement).
pub fn fixture() -> Results {
    Results::load(&fixture_path()).expect("the fixture loads")
}

pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/results.json")
}

/// Every `<svg ...>...</svg>` in a page.
pub fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        let Some(len) = rest[start..].find("</svg>") else {
            break;
        };
        out.push(&rest[start..start + len + 6]);
        rest = &rest[start + len + 6..];
    }
    out
}
