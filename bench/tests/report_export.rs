//! `vmlab report FIXTURE --export-markdown --export-csv` on the reports
//! crate's checked-in fixture: both files are written, and a bad path is
//! one clear message with exit code 1.
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/fixtures/results.json")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn report_exports_the_fixture() {
    let dir = tmp("report-export");
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("report")
        .arg(fixture())
        .arg("--out")
        .arg(dir.join("report"))
        .arg("--export-markdown")
        .arg(dir.join("out.md"))
        .arg("--export-csv")
        .arg(dir.join("out.csv"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let md = std::fs::read_to_string(dir.join("out.md")).unwrap();
    assert!(md.contains("| sandbox | container |"), "{md}");
    let csv = std::fs::read_to_string(dir.join("out.csv")).unwrap();
    assert!(
        csv.starts_with("backend,kind,emulated,figure,unit,n,median,"),
        "{csv}"
    );
    assert!(
        csv.contains("\nsandbox,container,false,boot/to_ready,ns,"),
        "{csv}"
    );
    assert!(
        stderr.contains("out.md") && stderr.contains("out.csv"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_export_path_that_is_a_directory_is_refused() {
    let dir = tmp("report-export-dir");
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("report")
        .arg(fixture())
        .arg("--out")
        .arg(dir.join("report"))
        .arg("--export-markdown")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--export-markdown") && stderr.contains("is a directory"),
        "{stderr}"
    );
    assert!(!dir.join("report").exists(), "it ran before refusing");
    let _ = std::fs::remove_dir_all(&dir);
}
