//! `vmlab compare --quick` end to end with the plain-process backend only
//! (no root or KVM needed): it builds the images into a fresh directory,
//! runs the matrix and writes a report the reports crate reads back.
use std::process::Command;

use vmlab_reports::model::{BackendKind, Results};
use vmlab_test_util::TempDir;

#[test]
fn quick_compare_of_the_process_backend_writes_a_report() {
    let tmp = TempDir::new("test-compare");
    let out = tmp.path().join("report");
    let md = tmp.path().join("out.md");
    let csv = tmp.path().join("out.csv");
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args([
            "compare",
            "--quick",
            "--runs",
            "3",
            "--backends",
            "process",
            "--json",
        ])
        .arg("--images")
        .arg(tmp.path().join("images"))
        .arg("--out")
        .arg(&out)
        .arg("--export-markdown")
        .arg(&md)
        .arg("--export-csv")
        .arg(&csv)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "vmlab compare failed:\n{stderr}");
    assert!(out.join("index.html").is_file(), "{stderr}");

    let results = Results::load(&out.join("results.json")).unwrap();
    let printed = Results::from_json(&String::from_utf8_lossy(&output.stdout), "stdout").unwrap();
    assert_eq!(printed, results);
    assert!(results.config.quick);
    assert_eq!(results.config.runs, 3);
    assert_eq!(results.backends.len(), 1);
    let p = &results.backends[0];
    assert_eq!(
        (p.name.as_str(), p.kind, p.available),
        ("process", BackendKind::Process, true)
    );
    assert_eq!(p.boot.to_ready_ns.len(), 3);
    assert_eq!(p.boot.to_exit_ns.len(), 3);
    for (ready, exit) in p.boot.to_ready_ns.iter().zip(&p.boot.to_exit_ns) {
        assert!(0 < *ready && ready <= exit, "{ready} > {exit}");
    }
    assert_eq!(p.boot.phases[0].name, "launch");
    // The overhead runs ran the shared and the Linux kernels.
    let kernels: Vec<&str> = p.overhead.iter().map(|k| k.kernel.as_str()).collect();
    for k in ["cpu", "memory", "pagetouch", "crossing"] {
        assert!(kernels.contains(&k), "{k} missing from {kernels:?}");
    }
    assert!(p.memory.as_ref().is_some_and(|m| m.rss_bytes > 0));
    assert!(p.image.as_ref().is_some_and(|i| i.uncompressed > 0));
    assert!(results.images.iter().any(|a| a.name == "workload"));
    assert!(stderr.contains("index.html"), "{stderr}");
    exports_match(&results, &md, &csv);
}

/// The Markdown names the backend; the CSV, read with the csv crate, has
/// the figures of results.json.
fn exports_match(results: &Results, md: &std::path::Path, csv: &std::path::Path) {
    let md = std::fs::read_to_string(md).expect("the Markdown export exists");
    assert!(md.contains("| process | process | 3 |"), "{md}");
    let mut reader = csv::Reader::from_path(csv).expect("the CSV export exists");
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let p = &results.backends[0];
    let row = |figure: &str| {
        rows.iter()
            .find(|r| &r[col("backend")] == "process" && &r[col("figure")] == figure)
            .unwrap_or_else(|| panic!("no {figure} row: {rows:?}"))
    };
    let ready = row("boot/to_ready");
    assert_eq!(&ready[col("n")], "3");
    let mut sorted = p.boot.to_ready_ns.clone();
    sorted.sort_unstable();
    assert_eq!(
        ready[col("median")].parse::<f64>().unwrap(),
        sorted[1] as f64
    );
    assert_eq!(ready[col("min")].parse::<f64>().unwrap(), sorted[0] as f64);
    assert_eq!(ready[col("max")].parse::<f64>().unwrap(), sorted[2] as f64);
    let rss = row("memory/rss");
    assert_eq!(
        rss[col("median")].parse::<u64>().unwrap(),
        p.memory.as_ref().unwrap().rss_bytes
    );
    for k in &p.overhead {
        row(&format!("overhead/{}", k.kernel));
    }
}

#[test]
fn an_export_path_in_a_missing_directory_is_refused_before_running() {
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args([
            "compare",
            "--backends",
            "process",
            "--export-csv",
            "/nonexistent/vmlab/out.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--export-csv") && stderr.contains("/nonexistent/vmlab does not exist"),
        "{stderr}"
    );
}
