//! Crafted results through the claims code: every verdict, including each
//! "not measurable here" path and an emulated VM that is faster than the
//! containers. All numbers here are made up for the test.
mod common;

use common::fixture;
use vmlab_reports::claims::{claims, Claim, Verdict};
use vmlab_reports::model::{
    AttackTally, BackendKind, BackendResult, HostFacts, ImageSize, IsolationEvidence, KvmKind,
    MemorySample, Results, RunFailure, Samples, SyscallSurface,
};

/// n boot samples spread ±5 % around `ms` milliseconds.
fn boot(ms: f64, n: usize) -> Samples {
    let to_ready_ns: Vec<u64> = (0..n)
        .map(|i| (ms * 1e6 * (0.95 + 0.1 * i as f64 / n.max(2) as f64)) as u64)
        .collect();
    Samples {
        to_exit_ns: to_ready_ns.iter().map(|x| x + 1000).collect(),
        to_ready_ns,
        ..Samples::default()
    }
}

fn backend(name: &str, kind: BackendKind, ready_ms: f64, n: usize) -> BackendResult {
    BackendResult {
        name: name.into(),
        kind,
        available: true,
        boot: boot(ready_ms, n),
        ..BackendResult::default()
    }
}

fn skipped(name: &str, kind: BackendKind, why: &str) -> BackendResult {
    BackendResult {
        name: name.into(),
        kind,
        skipped_reason: Some(why.into()),
        ..BackendResult::default()
    }
}

fn results(backends: Vec<BackendResult>) -> Results {
    Results {
        schema_version: vmlab_reports::model::SCHEMA_VERSION,
        host: HostFacts {
            kvm: KvmKind::Hardware,
            ..HostFacts::default()
        },
        backends,
        ..Results::default()
    }
}

/// The process, the sandbox and crun at 2, 20 and 40 ms, n = 10.
fn base() -> Vec<BackendResult> {
    vec![
        backend("process", BackendKind::Process, 2.0, 10),
        backend("sandbox", BackendKind::Container, 20.0, 10),
        backend("crun", BackendKind::Container, 40.0, 10),
    ]
}

fn with(mut bs: Vec<BackendResult>, more: Vec<BackendResult>) -> Results {
    bs.extend(more);
    results(bs)
}

fn row<'c>(cs: &'c [Claim], pair: &str, quote: &str) -> &'c Claim {
    cs.iter()
        .find(|c| c.pair == pair && c.quotes.iter().any(|q| q.contains(quote)))
        .unwrap_or_else(|| panic!("no row {pair} / {quote}"))
}

fn linux_boot(r: &Results) -> Claim {
    row(
        &claims(r),
        "Linux containers vs Linux VMs",
        "faster booting",
    )
    .clone()
}

fn bare_boot(r: &Results) -> Claim {
    row(
        &claims(r),
        "unikernel-style VM (vm-bare) vs process/sandbox",
        "slower booting",
    )
    .clone()
}

#[test]
fn a_slower_linux_vm_supports_the_boot_claim() {
    let r = with(
        base(),
        vec![backend("vm-linux", BackendKind::Vm, 400.0, 10)],
    );
    let c = linux_boot(&r);
    assert_eq!(c.verdict, Verdict::Supported, "{c:?}");
    assert!(
        c.container.starts_with("sandbox"),
        "fastest container: {}",
        c.container
    );
    assert!(c.vm.starts_with("vm-linux"), "{}", c.vm);
    assert!(
        c.test.contains("1.1×") && c.test.contains("exclude 1"),
        "{}",
        c.test
    );
    assert!(
        c.reason.contains("2 native pairs: 2 VM slower"),
        "{}",
        c.reason
    );
}

#[test]
fn a_faster_linux_vm_contradicts_it() {
    let r = with(
        base(),
        vec![backend("firecracker", BackendKind::Vm, 8.0, 10)],
    );
    let c = linux_boot(&r);
    assert_eq!(c.verdict, Verdict::Contradicted, "{c:?}");
    assert!(c.vm.starts_with("firecracker"), "{}", c.vm);
}

#[test]
fn overlapping_boot_times_are_mixed() {
    let r = with(base(), vec![backend("qemu", BackendKind::Vm, 21.0, 10)]);
    assert_eq!(linux_boot(&r).verdict, Verdict::Mixed);
}

#[test]
fn a_skipped_linux_vm_is_not_measurable_with_its_reason() {
    let r = with(
        base(),
        vec![
            skipped("vm-linux", BackendKind::Vm, "no guest kernel in the cache"),
            backend("vm-bare", BackendKind::Vm, 5.0, 10),
        ],
    );
    let c = linux_boot(&r);
    assert_eq!(c.verdict, Verdict::NotMeasurable, "{c:?}");
    assert!(
        c.reason.contains("no guest kernel in the cache"),
        "{}",
        c.reason
    );
    // vm-bare (faster than every container here) decides nothing in this row...
    assert_eq!(c.container, "–");
    // ...but gets its own row against the sandbox.
    let b = bare_boot(&r);
    assert_eq!(b.verdict, Verdict::Contradicted, "{b:?}");
    assert!(
        b.container.starts_with("sandbox") && b.vm.starts_with("vm-bare"),
        "{b:?}"
    );
    assert!(
        b.reason.contains("Against the plain process"),
        "{}",
        b.reason
    );
}

#[test]
fn an_emulated_vm_faster_than_the_containers_is_not_measurable() {
    let mut qemu = backend("qemu", BackendKind::Vm, 1.0, 10);
    qemu.emulated = true;
    let r = with(base(), vec![qemu]);
    let c = linux_boot(&r);
    assert_eq!(c.verdict, Verdict::NotMeasurable, "not contradicted: {c:?}");
    assert!(c.reason.contains("qemu ran only emulated"), "{}", c.reason);
}

#[test]
fn on_software_nested_kvm_every_vm_is_emulated() {
    let mut r = with(
        base(),
        vec![
            backend("vm-linux", BackendKind::Vm, 1.0, 10),
            backend("vm-bare", BackendKind::Vm, 1.0, 10),
        ],
    );
    r.host.kvm = KvmKind::PvmSoftwareNested;
    assert_eq!(linux_boot(&r).verdict, Verdict::NotMeasurable);
    let b = bare_boot(&r);
    assert_eq!(b.verdict, Verdict::NotMeasurable);
    assert!(
        b.reason.contains("vm-bare ran only emulated"),
        "{}",
        b.reason
    );
}

#[test]
fn timed_out_boots_count_against_the_backend() {
    // Ten fast boots, but thirty more that timed out: the VM is slower.
    // (With 10 against 12 the interval's low end is still a fast boot, so
    // the honest answer there is "mixed".)
    let mut vm = backend("vm-linux", BackendKind::Vm, 8.0, 10);
    vm.failures = (0..30)
        .map(|_| RunFailure {
            purpose: "boot".into(),
            timed_out: true,
            limit_ns: Some(10_000_000_000),
            reason: "no ready".into(),
            ..RunFailure::default()
        })
        .collect();
    let c = linux_boot(&with(base(), vec![vm.clone()]));
    assert_eq!(c.verdict, Verdict::Supported, "{c:?}");
    assert!(c.vm.contains("timed out"), "{}", c.vm);
    vm.failures.truncate(12);
    assert_eq!(
        linux_boot(&with(base(), vec![vm.clone()])).verdict,
        Verdict::Mixed
    );
    // Without them, the same ten boots contradict the claim.
    vm.failures.clear();
    assert_eq!(
        linux_boot(&with(base(), vec![vm])).verdict,
        Verdict::Contradicted
    );
}

#[test]
fn backends_sharing_rounds_are_paired_by_round() {
    // Both drift 10x over ten rounds; the VM is always 1.5x the sandbox.
    // Unpaired, the drift hides that; paired by round it is clear.
    let drift = |b: &mut BackendResult, ms: f64| {
        b.boot.to_ready_ns = (0..10)
            .map(|r| (ms * 1e6 * f64::from(r + 1)) as u64)
            .collect();
        b.boot.to_exit_ns = b.boot.to_ready_ns.clone();
        b.boot.rounds = (0..10).collect();
    };
    let mut bs = base();
    drift(&mut bs[1], 20.0);
    bs.truncate(2);
    let mut vm = backend("vm-linux", BackendKind::Vm, 0.0, 0);
    drift(&mut vm, 30.0);
    let c = linux_boot(&with(bs.clone(), vec![vm.clone()]));
    assert_eq!(c.verdict, Verdict::Supported, "{c:?}");
    assert!(
        c.reason.contains("paired by round over 10 rounds"),
        "{}",
        c.reason
    );
    // Without rounds, the same samples give no verdict.
    vm.boot.rounds.clear();
    let c = linux_boot(&with(bs, vec![vm]));
    assert_eq!(c.verdict, Verdict::Mixed, "{c:?}");
}

#[test]
fn too_few_samples_are_not_measurable() {
    let r = with(base(), vec![backend("vm-linux", BackendKind::Vm, 400.0, 3)]);
    let c = linux_boot(&r);
    assert_eq!(c.verdict, Verdict::NotMeasurable, "{c:?}");
    assert!(
        c.reason.contains("n = 3") && c.reason.contains("n ≥ 7"),
        "{}",
        c.reason
    );
}

fn image(bytes: u64, zstd: u64) -> Option<ImageSize> {
    Some(ImageSize {
        contents: "x".into(),
        uncompressed: bytes,
        zstd,
        ..ImageSize::default()
    })
}

#[test]
fn sizes_compare_linux_vm_images_with_container_images() {
    let mut bs = base();
    bs[1].image = image(700_000, 270_000);
    let mut vm = backend("vm-linux", BackendKind::Vm, 400.0, 10);
    vm.image = image(12_000_000, 8_000_000);
    let mut bare = backend("vm-bare", BackendKind::Vm, 5.0, 10);
    bare.image = image(150_000, 50_000);
    let r = with(bs.clone(), vec![vm.clone(), bare.clone()]);
    let size = row(&claims(&r), "Linux containers vs Linux VMs", "larger size").clone();
    assert_eq!(size.verdict, Verdict::Supported, "{size:?}");
    assert!(
        size.reason.contains("Not counted: vm-bare"),
        "{}",
        size.reason
    );
    // Without a Linux VM image, vm-bare's small ELF does not contradict it.
    let r = with(bs, vec![bare]);
    let size = row(&claims(&r), "Linux containers vs Linux VMs", "larger size").clone();
    assert_eq!(size.verdict, Verdict::NotMeasurable, "{size:?}");
}

fn held(name: &str, per: f64) -> vmlab_reports::model::ScaleResult {
    vmlab_reports::model::ScaleResult {
        backend: name.into(),
        reached: 10,
        bytes_per_instance: Some(per),
        density: (1..=10)
            .map(|n| vmlab_reports::model::DensityStep {
                n,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn memory_row(r: &Results) -> Claim {
    claims(r)
        .into_iter()
        .find(|c| c.metric.starts_with("memory"))
        .expect("a memory row")
}

#[test]
fn memory_compares_the_lightest_held_instance_of_each_class() {
    let bs = base();
    let vm = backend("vm-linux", BackendKind::Vm, 400.0, 10);
    let mut r = with(bs, vec![vm]);
    r.scale = vec![
        held("sandbox", 1e6),
        held("runc", 4e6),
        held("vm-linux", 150e6),
    ];
    let m = memory_row(&r);
    assert_eq!(m.verdict, Verdict::Supported, "{m:?}");
    assert!(m.container.starts_with("sandbox"), "{}", m.container);
    assert!(m.vm.contains("per extra held instance"), "{}", m.vm);
}

#[test]
fn memory_uses_held_instance_slopes_only_never_one_instances_peak() {
    let mut bs = base();
    // One instance's peak says the VM is much heavier: that alone is no
    // verdict.
    bs[1].memory = Some(MemorySample {
        rss_bytes: 3 << 20,
        ..MemorySample::default()
    });
    let mut vm = backend("vm-linux", BackendKind::Vm, 400.0, 10);
    vm.memory = Some(MemorySample {
        rss_bytes: 150 << 20,
        ..MemorySample::default()
    });
    let mut r = with(bs, vec![vm]);
    let none = memory_row(&r);
    assert_eq!(none.verdict, Verdict::NotMeasurable, "{none:?}");
    r.scale = vec![held("sandbox", 2e6)];
    let one_side = memory_row(&r);
    assert_eq!(one_side.verdict, Verdict::NotMeasurable, "{one_side:?}");
    assert!(one_side.reason.contains("held"), "{}", one_side.reason);
    // Held on both sides: the slopes decide (here, no real difference).
    r.scale.push(held("vm-linux", 2.1e6));
    let both = memory_row(&r);
    assert!(
        both.container.contains("per extra held instance"),
        "{both:?}"
    );
    assert_ne!(both.verdict, Verdict::Supported, "{both:?}");
    assert_ne!(both.verdict, Verdict::NotMeasurable, "{both:?}");
}

fn evidence(b: &mut BackendResult, tried: u32, blocked: u32, syscalls: u32) {
    b.isolation = Some(IsolationEvidence {
        attacks: Some(AttackTally {
            tried,
            blocked,
            succeeded: Vec::new(),
        }),
        host_syscalls: Some(SyscallSurface {
            distinct: syscalls,
            counted: "test".into(),
            tracer: "test".into(),
        }),
        missing_reason: None,
    });
}

fn isolation_rows(r: &Results) -> (Claim, Claim) {
    let cs = claims(r);
    (
        row(&cs, "Linux containers vs Linux VMs", "better isolation").clone(),
        row(&cs, "Linux containers vs the plain process", "penetrate").clone(),
    )
}

#[test]
fn isolation_verdicts_come_from_attacks_and_surface() {
    let mut bs = base();
    evidence(&mut bs[0], 8, 0, 80); // the positive control lets everything through
    evidence(&mut bs[1], 8, 8, 60);
    evidence(&mut bs[2], 8, 6, 90);
    let mut vm = backend("vm-linux", BackendKind::Vm, 400.0, 10);
    evidence(&mut vm, 8, 8, 20);
    let (better, contain) = isolation_rows(&with(bs.clone(), vec![vm.clone()]));
    assert_eq!(better.verdict, Verdict::Supported, "{better:?}");
    assert!(
        better.container.starts_with("sandbox"),
        "strongest: {}",
        better.container
    );
    assert_eq!(contain.verdict, Verdict::Supported, "{contain:?}");
    assert!(
        contain.container.starts_with("crun"),
        "weakest: {}",
        contain.container
    );
    // A VM that lets attacks through and reaches more of the host: contradicted.
    evidence(&mut vm, 8, 5, 100);
    let (better, _) = isolation_rows(&with(bs.clone(), vec![vm.clone()]));
    assert_eq!(better.verdict, Verdict::Contradicted, "{better:?}");
    // The same share blocked, a similar surface: mixed.
    evidence(&mut vm, 8, 8, 58);
    assert_eq!(
        isolation_rows(&with(bs.clone(), vec![vm.clone()]))
            .0
            .verdict,
        Verdict::Mixed
    );
    // A container that blocks no more than the control contradicts "harder to penetrate".
    evidence(&mut bs[2], 8, 0, 90);
    assert_eq!(
        isolation_rows(&with(bs.clone(), vec![vm.clone()]))
            .1
            .verdict,
        Verdict::Contradicted
    );
    // No positive control (the process blocked everything): neither row has a verdict.
    evidence(&mut bs[0], 8, 8, 80);
    let (better, contain) = isolation_rows(&with(bs, vec![vm]));
    assert_eq!(better.verdict, Verdict::NotMeasurable);
    assert!(
        better.reason.contains("positive control"),
        "{}",
        better.reason
    );
    assert_eq!(contain.verdict, Verdict::NotMeasurable);
}

/// What `vmlab compare` records: attack tallies only (no tracer, say), a
/// process that lets the secret through and a sandbox that blocks all.
#[test]
fn a_sandbox_that_blocks_what_the_process_lets_through_is_harder_to_penetrate() {
    let tally = |tried, succeeded: &[&str]| IsolationEvidence {
        attacks: Some(AttackTally {
            tried,
            blocked: tried - succeeded.len() as u32,
            succeeded: succeeded.iter().map(|s| s.to_string()).collect(),
        }),
        host_syscalls: None,
        missing_reason: Some("strace is not installed".into()),
    };
    let mut bs = base();
    bs.truncate(2);
    bs[0].isolation = Some(tally(40, &["read_host_file", "signal_host_pid", "mount"]));
    bs[1].isolation = Some(tally(38, &[]));
    let (better, contain) = isolation_rows(&results(bs.clone()));
    assert_eq!(contain.verdict, Verdict::Supported, "{contain:?}");
    assert!(
        contain.reason.contains("sandbox, blocked 38/38")
            && contain.reason.contains("process 37/40"),
        "{}",
        contain.reason
    );
    // No VM ran: the other row says so rather than guessing.
    assert_eq!(better.verdict, Verdict::NotMeasurable, "{better:?}");
    // A sandbox that lets as much through as the process: contradicted.
    bs[1].isolation = Some(tally(40, &["read_host_file", "signal_host_pid", "mount"]));
    let (_, contain) = isolation_rows(&results(bs.clone()));
    assert_eq!(contain.verdict, Verdict::Contradicted, "{contain:?}");
    // The battery invalidated by its control: every backend has a reason.
    for b in &mut bs {
        b.isolation = Some(IsolationEvidence {
            missing_reason: Some(
                "attack battery: the battery's positive control, the plain process, let no attack through".into(),
            ),
            ..IsolationEvidence::default()
        });
    }
    let (_, contain) = isolation_rows(&results(bs));
    assert_eq!(contain.verdict, Verdict::NotMeasurable);
    assert!(
        contain.reason.contains("positive control"),
        "{}",
        contain.reason
    );
}

#[test]
fn isolation_without_evidence_is_not_measurable() {
    let mut bs = base();
    evidence(&mut bs[0], 8, 0, 80);
    evidence(&mut bs[1], 8, 8, 60);
    let mut vm = backend("vm-linux", BackendKind::Vm, 400.0, 10);
    vm.isolation = Some(IsolationEvidence {
        missing_reason: Some("the battery needs a shell in the guest".into()),
        ..IsolationEvidence::default()
    });
    let (better, _) = isolation_rows(&with(bs, vec![vm]));
    assert_eq!(better.verdict, Verdict::NotMeasurable);
    assert!(
        better.reason.contains("vm-linux has no isolation evidence")
            && better.reason.contains("needs a shell in the guest"),
        "{}",
        better.reason
    );
}

/// Every quote under the notes' "VMs Versus Containers" sections in
/// docs/claims-source.md has a row, and every row states its test.
#[test]
fn every_quoted_claim_has_a_row_with_a_test() {
    let source = include_str!("../../docs/claims-source.md");
    // The quotes start after the first "From ..." line (above it is the
    // citation of the notes, also a block quote).
    let from = source.find("\nFrom ").expect("the quotes section");
    let quotes: Vec<&str> = source[from..]
        .lines()
        .filter_map(|l| l.strip_prefix("> "))
        .collect();
    assert_eq!(quotes.len(), 6, "{quotes:?}");
    let cs = claims(&fixture());
    for q in quotes {
        assert!(
            cs.iter().any(|c| c.quotes.contains(&q)),
            "no row quotes {q:?}"
        );
    }
    for c in &cs {
        assert!(!c.test.is_empty() && !c.reason.is_empty(), "{c:?}");
    }
}

/// The fixture (software-nested KVM; vm-bare and qemu emulated): no verdict
/// is decided by vm-bare against a Linux container, nor by an emulated VM.
#[test]
fn fixture_verdicts() {
    let cs = claims(&fixture());
    let boot = row(&cs, "Linux containers vs Linux VMs", "faster booting");
    assert_eq!(boot.verdict, Verdict::NotMeasurable, "{boot:?}");
    assert!(
        boot.reason.contains("qemu ran only emulated"),
        "{}",
        boot.reason
    );
    assert!(
        boot.reason.contains("vm-linux did not run"),
        "{}",
        boot.reason
    );
    let bare = row(
        &cs,
        "unikernel-style VM (vm-bare) vs process/sandbox",
        "slower",
    );
    assert_eq!(bare.verdict, Verdict::NotMeasurable);
    // Sizes are bytes on disk: qemu's kernel + initramfs against the containers.
    let size = row(&cs, "Linux containers vs Linux VMs", "larger size");
    assert_eq!(size.verdict, Verdict::Supported, "{size:?}");
    assert!(size.vm.starts_with("qemu"), "{}", size.vm);
    let deps = row(&cs, "Linux containers vs Linux VMs", "pack up");
    assert_eq!(deps.verdict, Verdict::NotMeasurable);
    assert!(
        deps.container.contains("host's Linux kernel"),
        "{}",
        deps.container
    );
    assert!(deps.vm.contains("KVM"), "{}", deps.vm);
}

mod warm {
    use super::*;
    use vmlab_reports::model::{StartKind, Timing, WarmRow, WarmSection};

    fn warm_row(
        backend: &str,
        kind: BackendKind,
        start: StartKind,
        timing: Timing,
        us: u64,
    ) -> WarmRow {
        let mut r = WarmRow::new(backend, kind, start, timing, "test");
        r.to_ready_ns = (0..10).map(|i| us * 1000 + i * 10).collect();
        r
    }

    fn with_warm(rows: Vec<WarmRow>) -> Results {
        let mut r = results(base());
        r.warm = Some(WarmSection { runs: 10, rows });
        r
    }

    fn claim<'c>(cs: &'c [Claim], pair: &str) -> &'c Claim {
        cs.iter()
            .find(|c| c.pair.starts_with(pair))
            .unwrap_or_else(|| panic!("no row {pair}"))
    }

    const RESTORE: &str = "VM restored from a snapshot vs container restored";
    const POOL: &str = "VM from a pool vs container from a pool";
    const COLD: &str = "VM cold vs container cold";
    const CROSS: &str = "VM restored from a snapshot vs container cold";

    #[test]
    fn pool_pairs_with_pool_cold_with_cold_and_never_across() {
        use StartKind::*;
        let r = with_warm(vec![
            warm_row(
                "sandbox",
                BackendKind::Container,
                Cold,
                Timing::InProcess,
                3000,
            ),
            warm_row(
                "sandbox",
                BackendKind::Container,
                Pool,
                Timing::InProcess,
                1000,
            ),
            warm_row("vm-bare", BackendKind::Vm, Cold, Timing::InProcess, 1000),
            warm_row("vm-bare", BackendKind::Vm, Restore, Timing::InProcess, 400),
            warm_row(
                "vm-bare-inproc",
                BackendKind::Vm,
                Pool,
                Timing::InProcess,
                100,
            ),
        ]);
        let cs = claims(&r);
        // Pool with pool: the pooled VM is faster than the pooled sandbox.
        let p = claim(&cs, POOL);
        assert_eq!(p.verdict, Verdict::Contradicted, "{p:?}");
        assert!(p.vm.contains("vm-bare-inproc pool") && p.container.contains("sandbox pool"));
        // A restored VM is not set against the sandbox pool: no container
        // restore ran, so that row says so.
        let w = claim(&cs, RESTORE);
        assert_eq!(w.verdict, Verdict::NotMeasurable, "{w:?}");
        assert!(
            w.reason.contains("no such VM row and container row"),
            "{}",
            w.reason
        );
        // Cold with cold, same run: the VM is faster here too.
        let c = claim(&cs, COLD);
        assert_eq!(c.verdict, Verdict::Contradicted, "{c:?}");
        assert!(c.vm.contains("vm-bare cold") && c.container.contains("sandbox cold"));
        // Warm against cold is never formed.
        let x = claim(&cs, CROSS);
        assert_eq!(x.verdict, Verdict::NotMeasurable);
        assert!(x.reason.contains("not like for like"), "{}", x.reason);
    }

    #[test]
    fn slower_vms_support_the_claim_restore_with_restore_pool_with_pool() {
        use StartKind::*;
        let r = with_warm(vec![
            warm_row(
                "sandbox",
                BackendKind::Container,
                Pool,
                Timing::InProcess,
                300,
            ),
            warm_row(
                "vm-bare-inproc",
                BackendKind::Vm,
                Pool,
                Timing::InProcess,
                900,
            ),
            warm_row(
                "runc",
                BackendKind::Container,
                Restore,
                Timing::EndToEnd,
                1000,
            ),
            warm_row(
                "qemu-bare",
                BackendKind::Vm,
                Restore,
                Timing::EndToEnd,
                9000,
            ),
        ]);
        let cs = claims(&r);
        assert_eq!(claim(&cs, POOL).verdict, Verdict::Supported);
        let w = claim(&cs, RESTORE);
        assert_eq!(w.verdict, Verdict::Supported, "{w:?}");
        assert!(w.vm.contains("qemu-bare restore") && w.container.contains("runc restore"));
    }

    #[test]
    fn rows_on_different_clocks_are_not_paired() {
        use StartKind::*;
        let r = with_warm(vec![
            warm_row(
                "runc",
                BackendKind::Container,
                Restore,
                Timing::InProcess,
                1000,
            ),
            warm_row(
                "qemu-bare",
                BackendKind::Vm,
                Restore,
                Timing::EndToEnd,
                90_000,
            ),
        ]);
        let w = claims(&r);
        let w = claim(&w, RESTORE);
        assert_eq!(w.verdict, Verdict::NotMeasurable);
        assert!(w.reason.contains("share a clock"), "{}", w.reason);
    }

    #[test]
    fn an_emulated_vm_decides_nothing() {
        use StartKind::*;
        let mut vm = warm_row(
            "qemu-bare",
            BackendKind::Vm,
            Restore,
            Timing::EndToEnd,
            9_000,
        );
        vm.emulated = true;
        let r = with_warm(vec![
            warm_row(
                "runc",
                BackendKind::Container,
                Restore,
                Timing::EndToEnd,
                90_000,
            ),
            vm,
        ]);
        let cs = claims(&r);
        let w = claim(&cs, RESTORE);
        assert_eq!(w.verdict, Verdict::NotMeasurable);
        assert!(w.reason.contains("emulated"), "{}", w.reason);
    }

    #[test]
    fn skipped_rows_and_a_missing_section_say_why() {
        use StartKind::*;
        let skipped = warm_row("runc", BackendKind::Container, Restore, Timing::EndToEnd, 1)
            .skip("`criu check` failed");
        let vm = warm_row("vm-bare", BackendKind::Vm, Restore, Timing::EndToEnd, 400);
        let cs = claims(&with_warm(vec![skipped, vm]));
        let w = claim(&cs, RESTORE);
        assert_eq!(w.verdict, Verdict::NotMeasurable);
        assert!(
            w.reason.contains("no such VM row and container row"),
            "{}",
            w.reason
        );
        let none = claims(&results(base()));
        for pair in [RESTORE, POOL, COLD] {
            let c = claim(&none, pair);
            assert_eq!(c.verdict, Verdict::NotMeasurable);
            assert!(c.reason.contains("no warm-start section"), "{}", c.reason);
        }
    }
}
