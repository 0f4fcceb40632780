//! `vmlab report FIXTURE --export-markdown --export-csv` on the reports
//! crate's checked-in fixture: both files are written, and a bad path is
//! one clear message with exit code 1.
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/fixtures/results.json")
}

/// Runs `vmlab report FIXTURE --out DIR/report EXTRA...`.
fn report(dir: &Path, extra: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .arg("report")
        .arg(fixture())
        .arg("--out")
        .arg(dir.join("report"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn report_exports_the_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (md, csv) = (dir.join("out.md"), dir.join("out.csv"));
    let output = report(
        dir,
        &[
            "--export-markdown".as_ref(),
            md.as_os_str(),
            "--export-csv".as_ref(),
            csv.as_os_str(),
        ],
    );
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
}

#[test]
fn an_export_path_that_is_a_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let output = report(dir, &["--export-markdown".as_ref(), dir.as_os_str()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--export-markdown") && stderr.contains("is a directory"),
        "{stderr}"
    );
    assert!(!dir.join("report").exists(), "it ran before refusing");
}
