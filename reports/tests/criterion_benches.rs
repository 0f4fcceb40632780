//! The real `cargo bench -p vmlab-bench` output, opened in headless
//! Chromium: Criterion's `report/index.html` and each boot group's page.
//! Run the benches first (`VMLAB_BENCH_QUICK=1` for the quick mode, which
//! runs every group and backend with a few samples; `.ci/run` does it).
//!
//! What ran comes from the benches' own record, `vmlab-ran.json` beside
//! Criterion's output (bench/benches/shared/record.rs), never from a list
//! kept here. The test asserts that every function that ran has Criterion's
//! estimates, that the index links every group and function that ran, that
//! each boot group's page lists exactly the backends that ran and its
//! violin chart holds each of them and renders (not blank, the violins'
//! colour drawn). A boot group where only one backend ran has no group page
//! (Criterion draws none); its backend's own page and chart are checked.
//! The backends that run on any host are checked by name: `process` must
//! have run, and `vm-bare` and `sandbox` must have run or be recorded as
//! skipped with a reason (and must have run under `VMLAB_REQUIRE_KVM=1`,
//! `VMLAB_REQUIRE_ROOT=1`).
//!
//! Skips (printing why) when the record or `chromium` is missing, unless
//! `VMLAB_REQUIRE_BROWSER=1` or `CI=true`, where it fails instead.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use common::browser::{chromium, console_errors, find_chromium, png, required};
use serde::Deserialize;
use vmlab_test_util::TempDir;

/// The record's file name in Criterion's output directory.
const RECORD: &str = "vmlab-ran.json";
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;

/// What the benches ran, per bench binary (see the bench side's record.rs).
#[derive(Deserialize)]
struct Record {
    benches: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    mode: String,
    /// Group to the functions that ran in it.
    groups: BTreeMap<String, BTreeSet<String>>,
    /// What was skipped to why.
    skipped: BTreeMap<String, String>,
}

/// Criterion's output directory, found as Criterion (and the benches'
/// record) find it: `$CRITERION_HOME`, `$CARGO_TARGET_DIR/criterion`, the
/// target directory of `cargo metadata`, else the workspace's.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let metadata = std::env::var_os("CARGO").and_then(|cargo| {
        let out = std::process::Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()?;
        let meta: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        meta["target_directory"].as_str().map(PathBuf::from)
    });
    metadata
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion")
}

/// Criterion's directory name for a group or function name (its
/// `make_filename_safe`, for names under its 64-byte limit).
fn dir_name(name: &str) -> String {
    assert!(name.len() <= 64, "{name}: longer than Criterion's limit");
    name.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_")
}

fn flag(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Skips the test with `why`, or fails it where the report is required.
fn skip_or_fail(why: &str) {
    if required() {
        panic!("{why} (required: VMLAB_REQUIRE_BROWSER=1 or CI=true)");
    }
    eprintln!("SKIP: {why}; set VMLAB_REQUIRE_BROWSER=1 to fail instead");
}

/// Every `<a href="HREF">TEXT</a>` of a page, as (HREF, TEXT).
fn anchors(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<a href=\"").skip(1) {
        let Some((href, rest)) = part.split_once('"') else {
            continue;
        };
        let Some(text) = rest.split_once('>').and_then(|(_, t)| t.split_once("</a>")) else {
            continue;
        };
        out.push((href.to_string(), text.0.trim().to_string()));
    }
    out
}

/// The text of every `<h4>` of a page (Criterion's benchmark names on a
/// group page).
fn h4s(html: &str) -> BTreeSet<String> {
    html.split("<h4>")
        .skip(1)
        .filter_map(|p| p.split_once("</h4>"))
        .map(|(t, _)| t.trim().to_string())
        .collect()
}

fn url(p: &Path) -> String {
    format!("file://{}", p.canonicalize().unwrap().display())
}

/// A page as the browser built it, failing on console errors.
fn dom(bin: &Path, profile: &Path, page: &Path) -> String {
    assert!(page.is_file(), "no {}", page.display());
    let out = chromium(bin, profile, &["--dump-dom".into(), url(page)]);
    assert!(
        out.status.success(),
        "chromium --dump-dom {}",
        page.display()
    );
    let errors = console_errors(&out.stderr);
    assert!(
        errors.is_empty(),
        "{} logged errors: {errors:#?}",
        page.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Screenshots `chart` as the browser draws it and asserts it is not blank
/// and holds `min_blue` pixels of Criterion's chart blue (31, 120, 180).
fn assert_renders(bin: &Path, profile: &Path, chart: &Path, shot: &Path, min_blue: usize) {
    let run = chromium(
        bin,
        profile,
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={WIDTH},{HEIGHT}"),
            url(chart),
        ],
    );
    assert!(
        run.status.success(),
        "chromium --screenshot {}",
        chart.display()
    );
    let errors = console_errors(&run.stderr);
    assert!(
        errors.is_empty(),
        "{} logged errors: {errors:#?}",
        chart.display()
    );
    let image = png::decode(&std::fs::read(shot).expect("the screenshot exists"));
    let colours = image.distinct_colours();
    let blue = image.count_near([31, 120, 180]);
    eprintln!(
        "{}: {colours} colours, {blue} px of chart blue",
        chart.display()
    );
    assert!(
        colours > 20,
        "{} looks blank: {colours} colours",
        chart.display()
    );
    assert!(
        blue >= min_blue,
        "{}: {blue} px of chart blue",
        chart.display()
    );
}

/// `process` ran; `vm-bare` and `sandbox` ran or were skipped with a reason
/// (and ran where KVM or root is required); so did every other boot backend.
fn assert_boot_backends(boot: &Entry) {
    let ready = boot.groups.get("boot/call_to_ready");
    let ran = |f: &str| ready.is_some_and(|r| r.contains(f));
    assert!(ran("process"), "the plain process must run on any host");
    let must = [
        ("vm-bare", flag("VMLAB_REQUIRE_KVM")),
        ("sandbox", flag("VMLAB_REQUIRE_ROOT")),
        ("sandbox-root", flag("VMLAB_REQUIRE_ROOT")),
    ];
    for (backend, required_here) in must {
        let skipped = boot.skipped.get(&format!("boot/{backend}"));
        assert!(
            ran(backend) || (skipped.is_some() && !required_here),
            "boot/{backend}: did not run (skipped: {skipped:?})"
        );
    }
    let exit_ran = boot
        .groups
        .get("boot/call_to_exit")
        .is_some_and(|g| g.contains("vm-bare"));
    assert_eq!(
        exit_ran,
        ran("vm-bare"),
        "vm-bare in one boot/call_to_* group only"
    );
    for (what, why) in &boot.skipped {
        assert!(!why.trim().is_empty(), "{what}: skipped without a reason");
    }
}

#[test]
fn chromium_renders_the_benches_report() {
    let Some(bin) = find_chromium() else {
        return skip_or_fail("chromium not found on PATH (apt-get install chromium)");
    };
    let dir = criterion_dir();
    let Ok(text) = std::fs::read(dir.join(RECORD)) else {
        return skip_or_fail(&format!(
            "no {}: run `VMLAB_BENCH_QUICK=1 cargo bench -p vmlab-bench` first",
            dir.join(RECORD).display()
        ));
    };
    let record: Record = serde_json::from_slice(&text).expect("the record parses");
    let Some(boot) = record.benches.get("boot") else {
        return skip_or_fail("the boot bench has not run (cargo bench -p vmlab-bench)");
    };
    assert_boot_backends(boot);
    for (bench, entry) in &record.benches {
        eprintln!(
            "{bench} ({} mode): {} groups, skipped {:?}",
            entry.mode,
            entry.groups.len(),
            entry.skipped
        );
        for (group, functions) in &entry.groups {
            for f in functions {
                let estimates = dir
                    .join(dir_name(group))
                    .join(dir_name(f))
                    .join("new/estimates.json");
                assert!(
                    estimates.is_file(),
                    "{group}/{f} ran but has no {}",
                    estimates.display()
                );
            }
        }
    }

    let profile = TempDir::new("reports-criterion-benches-profile");
    let index = dom(&bin, profile.path(), &dir.join("report/index.html"));
    let links = anchors(&index);
    for entry in record.benches.values() {
        for (group, functions) in &entry.groups {
            for f in functions {
                let href = format!("../{}/{}/report/index.html", dir_name(group), dir_name(f));
                assert!(
                    links.contains(&(href.clone(), f.clone())),
                    "the index has no link {href} named {f}"
                );
            }
            if functions.len() > 1 {
                let href = format!("../{}/report/index.html", dir_name(group));
                assert!(
                    links.contains(&(href.clone(), group.clone())),
                    "the index has no link {href} named {group}"
                );
            }
        }
    }

    let shots = TempDir::new("reports-criterion-benches-shots");
    for (group, functions) in &boot.groups {
        let group_dir = dir.join(dir_name(group));
        let names: BTreeSet<String> = functions.iter().map(|f| format!("{group}/{f}")).collect();
        let shot = shots.path().join(format!("{}.png", dir_name(group)));
        if functions.len() == 1 {
            // No group page: the backend's own page and its chart.
            let f = functions.first().unwrap();
            let report = group_dir.join(dir_name(f)).join("report");
            let page = dom(&bin, profile.path(), &report.join("index.html"));
            assert!(
                page.contains(&format!("<h2>{group}/{f}</h2>")),
                "{group}/{f}: not on its page"
            );
            assert!(
                page.contains("pdf.svg"),
                "{group}/{f}: no chart on its page"
            );
            // The density's curve and the samples' dots are drawn in the
            // blue (its area in a paler tint).
            assert_renders(&bin, profile.path(), &report.join("pdf.svg"), &shot, 50);
            continue;
        }
        let report = group_dir.join("report");
        let page = dom(&bin, profile.path(), &report.join("index.html"));
        assert_eq!(
            h4s(&page),
            names,
            "{group}: the page's backends are not those that ran"
        );
        assert!(
            page.contains("violin.svg"),
            "{group}: no violin on the page"
        );
        let violin = std::fs::read_to_string(report.join("violin.svg")).expect("a violin chart");
        assert!(
            violin.starts_with("<svg"),
            "{group}: the violin is not an SVG"
        );
        for name in &names {
            assert!(
                violin.contains(name.as_str()),
                "{name} missing from the violin chart"
            );
        }
        assert_renders(
            &bin,
            profile.path(),
            &report.join("violin.svg"),
            &shot,
            500 * names.len(),
        );
    }
}
