//! Criterion's HTML report, as `cargo bench -p vmlab-bench` writes it
//! (html_reports, plotters backend, no gnuplot), opened in headless
//! Chromium. The full benches take minutes, so this test makes a tiny run
//! of its own, named like the boot benches: one group, two functions, a few
//! hundred milliseconds each. Asserts the group's page names both
//! functions, its violin chart is an SVG with both in it, and that
//! violin chart, drawn by the browser, has the violins' colour in it.
//!
//! Skips (printing why) when `chromium` is not installed, unless
//! `VMLAB_REQUIRE_BROWSER=1` or `CI=true`, where it fails instead.
mod common;

use std::hint::black_box;
use std::time::Duration;

use common::browser::{chromium, console_errors, find_chromium, png, required};
use criterion::{Criterion, PlottingBackend};
use vmlab_test_util::TempDir;

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;

/// A little work whose cost grows with `n`.
fn spin(n: u64) -> u64 {
    (0..n).fold(0u64, |a, i| black_box(a.wrapping_mul(31).wrapping_add(i)))
}

/// Runs a two-function group into `dir` and writes the summary pages.
fn tiny_run(dir: &std::path::Path) {
    let mut c = Criterion::default()
        .output_directory(dir)
        .plotting_backend(PlottingBackend::Plotters)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(400))
        .nresamples(1000);
    let mut g = c.benchmark_group("boot/call_to_ready");
    g.bench_function("process", |b| b.iter(|| spin(black_box(2_000))));
    g.bench_function("sandbox", |b| b.iter(|| spin(black_box(8_000))));
    g.finish();
    c.final_summary();
}

#[test]
fn chromium_renders_a_criterion_report() {
    let Some(bin) = find_chromium() else {
        if required() {
            panic!("chromium is required (VMLAB_REQUIRE_BROWSER=1 or CI=true) but not found: apt-get install chromium");
        }
        eprintln!("SKIP: chromium not found on PATH (apt-get install chromium); set VMLAB_REQUIRE_BROWSER=1 to fail instead");
        return;
    };
    let tmp = TempDir::new("reports-criterion");
    tiny_run(tmp.path());

    let index = tmp.path().join("report/index.html");
    assert!(index.is_file(), "no {}", index.display());
    let group = tmp.path().join("boot_call_to_ready/report");
    let violin = std::fs::read_to_string(group.join("violin.svg")).expect("a violin chart");
    assert!(violin.starts_with("<svg"), "{violin}");
    for f in ["boot/call_to_ready/process", "boot/call_to_ready/sandbox"] {
        assert!(violin.contains(f), "{f} missing from the violin chart");
    }

    let profile = TempDir::new("reports-criterion-profile");
    let url = |p: &std::path::Path| format!("file://{}", p.canonicalize().unwrap().display());
    let dom = chromium(&bin, profile.path(), &["--dump-dom".into(), url(&index)]);
    assert!(dom.status.success(), "chromium --dump-dom failed");
    let errors = console_errors(&dom.stderr);
    assert!(errors.is_empty(), "the index logged errors: {errors:#?}");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("boot/call_to_ready"),
        "the index does not list the group:\n{dom}"
    );

    let page = group.join("index.html");
    let dom = chromium(&bin, profile.path(), &["--dump-dom".into(), url(&page)]);
    let text = String::from_utf8_lossy(&dom.stdout);
    assert!(
        text.contains("violin.svg"),
        "no violin on the group page:\n{text}"
    );
    for f in ["process", "sandbox"] {
        assert!(
            text.contains(&format!("boot/call_to_ready/{f}")),
            "{f} missing from the group page"
        );
    }
    // The page shows the violin as an image: screenshot that image as the
    // browser draws it.
    let shot = tmp.path().join("violin.png");
    let run = chromium(
        &bin,
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={WIDTH},{HEIGHT}"),
            url(&group.join("violin.svg")),
        ],
    );
    assert!(run.status.success(), "chromium --screenshot failed");
    let errors = console_errors(&run.stderr);
    assert!(errors.is_empty(), "the chart logged errors: {errors:#?}");
    let image = png::decode(&std::fs::read(&shot).expect("the screenshot exists"));
    let colours = image.distinct_colours();
    assert!(
        colours > 20,
        "the violin chart looks blank: {colours} colours"
    );
    // Criterion draws the violins in its dark blue (31, 120, 180).
    let blue = image.count_near([31, 120, 180]);
    assert!(blue > 300, "no violin drawn ({blue} px of its blue)");
    eprintln!("criterion violin: {colours} colours, {blue} px of violin blue");
}
