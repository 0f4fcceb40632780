use super::*;
use crate::model::{BackendResult, KvmKind};

/// `n` runs around `ns` per iteration (a small spread so intervals exist).
fn runs(ns: f64, n: usize) -> Vec<f64> {
    (0..n).map(|i| ns * (1.0 + 0.001 * i as f64)).collect()
}

fn kernel(name: &str, ns: f64) -> KernelSamples {
    KernelSamples {
        kernel: name.into(),
        ns_per_iter: runs(ns, 9),
        p50_ns: vec![(ns * 0.9) as u64; 9],
        p99_ns: vec![(ns * 3.0) as u64; 9],
        mib_per_s: vec![4096.0 / ns * 1e3; 9],
    }
}

fn backend(name: &str, kind: BackendKind, kernels: Vec<KernelSamples>) -> BackendResult {
    BackendResult {
        name: name.into(),
        kind,
        available: true,
        overhead: kernels,
        ..BackendResult::default()
    }
}

fn results() -> Results {
    let mut r = Results::default();
    r.host.kvm = KvmKind::PvmSoftwareNested;
    r.backends = vec![
        backend(
            "process",
            BackendKind::Process,
            vec![
                kernel("cpu", 1.0),
                kernel("blk-seq/read", 1000.0),
                kernel("net-rr", 50_000.0),
                kernel("blk-rand/read", 100_000.0),
            ],
        ),
        backend(
            "sandbox",
            BackendKind::Container,
            vec![
                kernel("net-rr", 55_000.0),
                kernel("blk-rand/read", 101_000.0),
            ],
        ),
        // Reads three times faster than the process's direct reads.
        backend(
            "cached",
            BackendKind::Container,
            vec![kernel("blk-seq/read", 330.0)],
        ),
        backend(
            "vm-bare",
            BackendKind::Vm,
            vec![kernel("net-rr", 500_000.0)],
        ),
    ];
    r
}

#[test]
fn kernels_in_order_with_the_process_figure_and_each_ratio() {
    let s = section(&results());
    let names: Vec<_> = s.iter().map(|r| r.kernel.as_str()).collect();
    assert_eq!(
        names,
        ["net-rr", "blk-rand/read", "blk-seq/read"],
        "cpu is no I/O kernel"
    );
    let rr = &s[0];
    assert_eq!(rr.headline, Headline::Latency);
    let p = rr.process.unwrap();
    assert_eq!((p.value, p.p99_ns, p.n), (45_000.0, Some(150_000.0), 9));
    let sb = &rr.backends[0];
    assert!((sb.ratio.ratio - 1.1).abs() < 0.01 && sb.ratio.ci_lo > 1.0);
    assert!(sb.native && sb.not_like_for_like.is_none());
    // On a software-nested host the VM row is not native.
    let vm = rr
        .backends
        .iter()
        .find(|c| c.ratio.backend == "vm-bare")
        .unwrap();
    assert!(!vm.native);
    assert!(has_vm(&s));
    let iops = s[1].process.unwrap();
    assert_eq!(iops.headline, Headline::Iops);
    assert!((iops.value - 1e9 / median(&runs(100_000.0, 9))).abs() < 1e-6);
}

#[test]
fn a_backend_faster_than_the_process_direct_io_says_why_instead_of_a_cost() {
    let s = section(&results());
    let seq = s.iter().find(|r| r.kernel == "blk-seq/read").unwrap();
    let c = &seq.backends[0];
    assert!(c.ratio.beats_process);
    let why = c.not_like_for_like.as_deref().unwrap();
    assert!(why.contains("O_DIRECT") && why.contains("cache"), "{why}");
    // A backend that is slower, or within noise, is a cost like any other.
    let rand = s.iter().find(|r| r.kernel == "blk-rand/read").unwrap();
    assert!(rand.backends[0].not_like_for_like.is_none());
}

#[test]
fn no_process_or_no_io_kernel_means_no_section() {
    let mut r = results();
    r.backends.remove(0);
    assert!(section(&r).is_empty());
    let mut r = results();
    r.backends[0].overhead.retain(|k| k.kernel == "cpu");
    assert!(section(&r).is_empty());
    assert!(is_io("net-stream/up") && is_io("net-rr") && !is_io("tcp") && !is_io("net"));
}
