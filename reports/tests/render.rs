//! Rendering the checked-in fixture: schema round trip, sections, charts,
//! the software-nested banner, skipped backends and baseline marking.
mod common;

use common::{fixture, svgs};
use vmlab_reports::baseline::compare_runs;
use vmlab_reports::model::{KvmKind, LoadError};
use vmlab_reports::{render, write_report, Results};
use vmlab_test_util::TempDir;

#[test]
fn schema_round_trip() {
    let r = fixture();
    let again = Results::from_json(&r.to_json(), "round-trip").expect("re-parse");
    assert_eq!(r, again);
    // Field names are part of the schema: spot-check a few.
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["host"]["kvm"], "pvm-software-nested");
    assert_eq!(v["host"]["cgroup_mode"], "hybrid");
    assert!(v["backends"][0]["boot"]["to_ready_ns"].is_array());
}

#[test]
fn every_section_and_chart_is_present() {
    let html = render(&fixture(), None).expect("render");
    for id in [
        "banner",
        "summary",
        "claims",
        "boot",
        "phases",
        "images",
        "overhead",
        "io",
        "memory",
        "methodology",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\"")),
            "section {id} missing"
        );
    }
    assert!(!html.contains("id=\"baseline\""), "no baseline was given");
    let charts = svgs(&html);
    // boot, phases, images, memory and one overhead chart per kernel (4).
    assert_eq!(charts.len(), 8, "charts: {}", charts.len());
    for svg in &charts {
        assert!(svg.len() > 2000, "suspiciously small chart: {svg}");
        assert!(svg.contains("<text"), "chart without text");
        assert!(
            svg.contains("<rect") || svg.contains("<circle"),
            "chart without marks"
        );
    }
    // No network and no scripts.
    assert!(!html.contains("<script"));
    for fetch in [
        "src=\"http",
        "href=\"http",
        "url(",
        "@import",
        "<link",
        "<iframe",
    ] {
        assert!(!html.contains(fetch), "page may fetch something: {fetch}");
    }
}

#[test]
fn emulated_vms_are_labelled() {
    let html = render(&fixture(), None).unwrap();
    let boot = svgs(&html)[0];
    assert!(
        boot.contains("vm-bare (emulated)"),
        "boot chart lacks the emulated label"
    );
    assert!(boot.contains("sandbox"));
    assert!(html.contains("software nested (pvm)"));
}

#[test]
fn every_vm_is_marked_on_a_software_nested_host() {
    let mut r = fixture();
    for b in &mut r.backends {
        b.emulated = false;
    }
    let html = render(&r, None).unwrap();
    assert!(svgs(&html)[0].contains("vm-bare (emulated)"));
    assert!(svgs(&html)[0].contains("qemu (emulated)"));
}

#[test]
fn banner_only_for_emulated_hosts() {
    let mut r = fixture();
    r.host.kvm = KvmKind::Hardware;
    for b in &mut r.backends {
        b.emulated = false;
    }
    let html = render(&r, None).unwrap();
    assert!(!html.contains("id=\"banner\""), "banner on a hardware host");
    assert!(!html.contains("(emulated)"));
    assert!(html.contains("<section id=\"boot\""));
}

#[test]
fn skipped_backends_are_listed_with_reason() {
    let r = fixture();
    let html = render(&r, None).unwrap();
    let skipped: Vec<_> = r.backends.iter().filter(|b| !b.available).collect();
    assert!(
        skipped.len() >= 2,
        "the fixture should have skipped backends"
    );
    for b in skipped {
        assert!(
            html.contains(&format!("<td>{}</td>", b.name)),
            "{} not listed",
            b.name
        );
        let reason = b.skipped_reason.as_deref().unwrap();
        assert!(
            html.contains(&escape(reason)),
            "reason for {} missing",
            b.name
        );
    }
}

/// minijinja's HTML escaping.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

#[test]
fn claims_quote_the_notes() {
    let html = render(&fixture(), None).unwrap();
    for q in [
        "VM provides better isolation",
        "VMs generally have larger size than containers",
        "VM has slower booting time",
        "have faster booting time",
    ] {
        assert!(html.contains(q), "claim {q:?} missing");
    }
    assert!(html.contains("not measurable here"));
}

#[test]
fn baseline_flags_only_the_changed_backend() {
    let base = fixture();
    let mut current = base.clone();
    let sandbox = current
        .backends
        .iter_mut()
        .find(|b| b.name == "sandbox")
        .unwrap();
    for x in &mut sandbox.boot.to_ready_ns {
        *x = *x * 3 / 2;
    }
    let cmp = compare_runs(&base, &current);
    assert!(cmp.rows.len() > 10);
    for row in &cmp.rows {
        let expect = row.backend == "sandbox" && row.metric == "boot.to_ready";
        assert_eq!(row.significant, expect, "{row:?}");
    }
    assert_eq!(cmp.significant, 1);
    assert!(cmp.host_differences.is_empty());
    let html = render(&current, Some(&base)).unwrap();
    assert!(html.contains("<section id=\"baseline\""));
    assert!(html.contains("class=\"mark slower\""));
}

#[test]
fn write_report_writes_both_files() {
    let dir = TempDir::new("reports-write");
    let r = fixture();
    let index = write_report(&r, None, &dir.path().join("out")).unwrap();
    assert!(index.ends_with("out/index.html"));
    let back = Results::load(&dir.path().join("out/results.json")).unwrap();
    assert_eq!(back, r);
    let html = std::fs::read_to_string(index).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
}

#[test]
fn load_errors_name_the_file() {
    let dir = TempDir::new("reports-load");
    let missing = dir.path().join("nope.json");
    let e = Results::load(&missing).unwrap_err();
    assert!(matches!(e, LoadError::Read { .. }));
    assert!(e.to_string().contains("nope.json"));
    let future = dir.path().join("future.json");
    std::fs::write(&future, r#"{"schema_version": 2, "x": 1}"#).unwrap();
    let e = Results::load(&future).unwrap_err();
    assert!(e.to_string().contains("schema_version 2"), "{e}");
}

#[test]
fn renders_sparse_results() {
    let f = fixture();
    let mut r = Results::new(f.host.clone(), vec![], "test".into(), f.config.clone());
    let html = render(&r, None).expect("render an empty run");
    assert!(svgs(&html).is_empty());
    assert!(html.contains("No boot samples in this run."));
    assert!(html.contains("not measurable here"));
    // One skipped backend and one with boot samples only.
    let mut only_boot = f.backends[1].clone();
    only_boot.overhead.clear();
    only_boot.memory = None;
    only_boot.image = None;
    r.backends = vec![f.backends[5].clone(), only_boot];
    let html = render(&r, None).expect("render a sparse run");
    assert_eq!(svgs(&html).len(), 2, "boot and phases only");
    assert!(html.contains(&f.backends[5].name));
    assert!(r.generated_at.ends_with('Z') && r.generated_at.len() == 20);
}

#[test]
fn the_warm_start_section_shows_each_row_and_its_ratio_to_cold() {
    use vmlab_reports::model::{BackendKind, StartKind, Timing, WarmRow, WarmSection};
    let mut r = fixture();
    let html = render(&r, None).expect("render");
    assert!(html.contains("No warm-start section in this run"));
    let row = |start, us: u64| {
        let mut w = WarmRow::new(
            "sandbox",
            BackendKind::Container,
            start,
            Timing::InProcess,
            "m",
        );
        w.to_ready_ns = vec![us * 1000; 5];
        w
    };
    let mut qemu = WarmRow::new(
        "qemu-bare",
        BackendKind::Vm,
        StartKind::Restore,
        Timing::EndToEnd,
        "q",
    );
    qemu.snapshot_bytes = Some(2 << 20);
    qemu.skipped = Some("qemu-system-x86_64 is not installed".into());
    r.warm = Some(WarmSection {
        runs: 5,
        rows: vec![row(StartKind::Cold, 4000), row(StartKind::Pool, 1000), qemu],
    });
    let html = render(&r, None).expect("render");
    assert!(html.contains("id=\"warm\""));
    assert!(html.contains("0.25"), "pool ÷ cold missing");
    assert!(html.contains("qemu-system-x86_64 is not installed"));
    assert!(
        html.contains("2.0 MiB") || html.contains("2 MiB"),
        "snapshot size"
    );
    let again = Results::from_json(&r.to_json(), "warm").unwrap();
    assert_eq!(again.warm, r.warm);
}
