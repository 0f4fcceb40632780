//! `vmlab compare --quick` end to end with the plain-process backend only
//! (no root or KVM needed): it builds the images into a fresh directory,
//! runs the matrix and writes a report the reports crate reads back.
use std::path::PathBuf;
use std::process::Command;

use vmlab_reports::model::{BackendKind, Results};

/// A fresh directory under the target dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vmlab-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn quick_compare_of_the_process_backend_writes_a_report() {
    let tmp = TempDir::new("compare");
    let out = tmp.0.join("report");
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
        .arg(tmp.0.join("images"))
        .arg("--out")
        .arg(&out)
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
}

#[test]
fn an_unknown_backend_is_named() {
    let output = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(["compare", "--backends", "docker"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown backend `docker`"), "{stderr}");
}
