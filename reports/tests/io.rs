//! The I/O section and the claims' I/O row on the fixture with the four
//! I/O kernels added (made-up numbers, never a measurement).
mod common;

use common::fixture;
use vmlab_reports::model::{KernelSamples, Results};
use vmlab_reports::render;

/// `n` runs near `ns` per iteration, with latency and throughput.
fn kernel(name: &str, ns: f64) -> KernelSamples {
    let n = 9;
    KernelSamples {
        kernel: name.into(),
        ns_per_iter: (0..n).map(|i| ns * (1.0 + 0.002 * i as f64)).collect(),
        p50_ns: vec![(ns * 0.9) as u64; n],
        p99_ns: vec![(ns * 4.0) as u64; n],
        mib_per_s: vec![65536.0 / ns * 1e9 / 1048576.0; n],
    }
}

/// The fixture with each I/O kernel at `scale` × the process's time.
pub fn with_io(scales: &[(&str, f64)]) -> Results {
    let mut r = fixture();
    let base = [
        ("net-rr", 40_000.0),
        ("net-stream/up", 30_000.0),
        ("net-stream/down", 25_000.0),
        ("blk-rand/read", 90_000.0),
        ("blk-rand/write", 900_000.0),
        ("blk-seq/write", 700_000.0),
        ("blk-seq/read", 500_000.0),
    ];
    for b in r.backends.iter_mut().filter(|b| b.available) {
        let scale = match scales.iter().find(|(n, _)| *n == b.name) {
            Some((_, s)) => *s,
            None if b.name == "process" => 1.0,
            None => continue,
        };
        for (k, ns) in base {
            // One cached backend reads faster than direct I/O can.
            let s = if b.name == "bwrap" && k == "blk-seq/read" {
                0.3
            } else {
                scale
            };
            b.overhead.push(kernel(k, ns * s));
        }
    }
    r
}

#[test]
fn the_io_section_gives_units_ratios_and_labels() {
    let html = render(&fixture(), None).unwrap();
    assert!(html.contains("No I/O kernels in this run"));
    let r = with_io(&[("sandbox", 1.2), ("bwrap", 1.05), ("qemu", 8.0)]);
    let html = render(&r, None).unwrap();
    let io = &html[html.find("<section id=\"io\"").unwrap()..];
    let io = io[..io.find("</section>").unwrap()].replace("&#x2f;", "/");
    for want in [
        "net-rr",
        "net-stream/up",
        "blk-rand/write",
        "blk-seq/read",
        "MiB/s",
        "IOPS",
        "p99",
    ] {
        assert!(io.contains(want), "{want} missing from the I/O section");
    }
    assert!(io.contains("1.20"), "the sandbox's ratio");
    // qemu on a software-nested host (the fixture's) is labelled emulated.
    let qemu = io.find("<td>qemu").expect("a qemu row");
    let row = &io[qemu..qemu + io[qemu..].find("</tr>").unwrap()];
    assert!(row.contains("emulated"), "{row}");
    // The cached reads say why instead of a bare ratio.
    assert!(io.contains("not like for like"));
    assert!(io.contains("O_DIRECT"));
    assert_eq!(io.matches("not like for like</span>").count(), 1);
}

/// The claims' I/O row of `r`.
fn io_claim(r: &Results) -> vmlab_reports::claims::Claim {
    vmlab_reports::claims::claims(r)
        .into_iter()
        .find(|c| c.metric.starts_with("what isolation costs in I/O"))
        .expect("the I/O row")
}

/// `r` as if its KVM were hardware and qemu native.
fn native_vms(mut r: Results) -> Results {
    r.host.kvm = vmlab_reports::model::KvmKind::Hardware;
    for b in r.backends.iter_mut() {
        b.emulated = false;
    }
    r
}

#[test]
fn the_io_claim_needs_a_native_linux_vm_and_says_why_not() {
    use vmlab_reports::claims::Verdict;
    let c = io_claim(&fixture());
    assert_eq!(c.verdict, Verdict::NotMeasurable);
    assert!(c.reason.contains("no I/O kernel ran"), "{}", c.reason);
    // The fixture's host is software nested: qemu's rows are emulated.
    let r = with_io(&[("sandbox", 1.2), ("bwrap", 1.05), ("qemu", 8.0)]);
    let c = io_claim(&r);
    assert_eq!(c.verdict, Verdict::NotMeasurable);
    assert!(c.reason.contains("qemu ran only emulated"), "{}", c.reason);
    assert!(c.container.contains("net-rr: bwrap 1.0"), "{}", c.container);
    // The cached reads are left out: the lightest like-for-like container is sandbox.
    assert!(
        c.container.contains("blk-seq/read: sandbox 1.2"),
        "{}",
        c.container
    );
}

#[test]
fn native_io_ratios_decide_the_claim_both_ways() {
    use vmlab_reports::claims::Verdict;
    let r = native_vms(with_io(&[("sandbox", 1.2), ("bwrap", 1.05), ("qemu", 8.0)]));
    let c = io_claim(&r);
    assert_eq!(c.verdict, Verdict::Supported, "{}", c.reason);
    assert!(c.vm.contains("net-rr: qemu 8.0"), "{}", c.vm);
    let r = native_vms(with_io(&[("sandbox", 3.0), ("bwrap", 3.0), ("qemu", 1.2)]));
    let c = io_claim(&r);
    assert_eq!(c.verdict, Verdict::Contradicted, "{}", c.reason);
    // Within noise of each other: no verdict either way.
    let r = native_vms(with_io(&[("sandbox", 1.2), ("bwrap", 1.2), ("qemu", 1.21)]));
    assert_eq!(io_claim(&r).verdict, Verdict::Mixed);
}

#[test]
fn the_csv_export_carries_each_io_kernels_latency_and_throughput() {
    let r = with_io(&[("sandbox", 1.2)]);
    let csv = vmlab_reports::export::csv::render(&r);
    let row = |figure: &str| {
        csv.lines()
            .find(|l| l.starts_with("process,") && l.contains(&format!(",{figure},")))
            .unwrap_or_else(|| panic!("no {figure} row"))
            .to_string()
    };
    assert!(row("latency_p99/net-rr").contains(",ns,9,"));
    assert!(row("latency_p50/blk-rand/read").contains(",ns,9,"));
    assert!(row("throughput/net-stream/up").contains(",MiB/s,9,"));
}

#[test]
fn the_markdown_export_has_the_io_table_only_when_there_is_io() {
    let md = vmlab_reports::export::markdown::render(&fixture());
    assert!(!md.contains("### I/O across the boundary"));
    let md = vmlab_reports::export::markdown::render(&with_io(&[("sandbox", 1.2), ("bwrap", 1.0)]));
    let at = md
        .find("### I/O across the boundary")
        .expect("the I/O table");
    let table = &md[at..md[at..].find("\n### ").map_or(md.len(), |e| at + e)];
    assert!(
        table.contains("| net-rr |") && table.contains("IOPS"),
        "{table}"
    );
    assert!(table.contains("not like for like"), "{table}");
}
