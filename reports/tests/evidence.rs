//! The optional evidence fields (protections, failures, isolation,
//! reproducibility, sizes) in the model and on the page.
mod common;

use common::fixture;
use vmlab_reports::model::{
    AttackTally, IsolationEvidence, Protections, Results, RunFailure, SyscallSurface,
};
use vmlab_reports::render;

/// The fixture with every new optional field filled in for some backends.
fn with_evidence() -> Results {
    let mut r = fixture();
    r.config.order_seed = Some(42);
    r.host.repro.governor = Some("performance".into());
    r.host.repro.smt = Some(false);
    r.host.repro.binary_sha256 = Some("ab12cd34".into());
    for b in &mut r.backends {
        match b.name.as_str() {
            "process" => {
                b.isolation = Some(IsolationEvidence {
                    attacks: Some(AttackTally {
                        tried: 8,
                        blocked: 1,
                        succeeded: vec!["mount-proc".into()],
                    }),
                    host_syscalls: None,
                    missing_reason: Some("strace is not installed".into()),
                })
            }
            "sandbox" => {
                b.protections = Some(Protections {
                    seccomp: Some(true),
                    seccomp_allowed: Some(60),
                    user_namespace: Some(true),
                    namespaces: vec!["pid".into(), "mount".into(), "net".into()],
                    capabilities: Some("none".into()),
                    cgroup_limits: Some("pids 1024".into()),
                    jail: None,
                });
                b.isolation = Some(IsolationEvidence {
                    attacks: Some(AttackTally {
                        tried: 8,
                        blocked: 8,
                        succeeded: vec![],
                    }),
                    host_syscalls: Some(SyscallSurface {
                        distinct: 41,
                        counted: "the workload's".into(),
                        tracer: "strace -f -c".into(),
                    }),
                    missing_reason: None,
                });
            }
            "crun" => {
                b.failures = vec![
                    RunFailure {
                        purpose: "boot".into(),
                        round: Some(3),
                        timed_out: true,
                        limit_ns: Some(10_000_000_000),
                        reason: "no ready within 10 s".into(),
                    },
                    RunFailure {
                        purpose: "overhead".into(),
                        reason: "exit status 1".into(),
                        ..RunFailure::default()
                    },
                ];
            }
            "qemu" => {
                let i = b.image.as_mut().unwrap();
                i.boots = Some("vmlinuz + initramfs.cpio".into());
                i.expanded = Some(40 << 20);
            }
            _ => {}
        }
    }
    r
}

#[test]
fn new_fields_round_trip() {
    let r = with_evidence();
    let back = Results::from_json(&r.to_json(), "again").unwrap();
    assert_eq!(back, r);
}

#[test]
fn the_page_shows_protections_failures_isolation_and_host_facts() {
    let html = render(&with_evidence(), None).unwrap();
    assert!(html.contains("<section id=\"isolation\""));
    // Isolation: measured figures, and the reason where one is missing.
    assert!(html.contains("8 &#x2f; 8 blocked"), "sandbox attacks");
    assert!(html.contains("1 &#x2f; 8 blocked"), "the positive control");
    assert!(html.contains("mount-proc"));
    assert!(html.contains("41 (the workload"), "surface");
    assert!(html.contains("not measurable here: strace is not installed"));
    // Protections, and "not recorded" rather than "off" where unknown.
    assert!(html.contains("on (60 calls)"));
    assert!(html.contains("pid, mount, net"));
    assert!(html.contains("not recorded"));
    // Failures: counts and reasons; the boot timeout as a censored sample.
    assert!(html.contains("no ready within 10 s"));
    assert!(html.contains("exit status 1"));
    assert!(html.contains("1 timed out"), "censored boot in the summary");
    // Host reproducibility facts and the order seed.
    assert!(html.contains("performance"));
    assert!(html.contains("ab12cd34"));
    assert!(html.contains("0x2a"));
    // Sizes: as shipped, expanded, the file it boots, what it needs.
    assert!(html.contains("as shipped"));
    assert!(html.contains("vmlinuz + initramfs.cpio"));
    assert!(html.contains("40.0 MiB"));
    assert!(html.contains("KVM (&#x2f;dev&#x2f;kvm) and a VMM"));
    assert!(html.contains("the host&#x27;s Linux kernel"));
    // The methodology travels with the page.
    assert!(html.contains("docs&#x2f;METHODOLOGY.md") || html.contains("docs/METHODOLOGY.md"));
    assert!(html.contains("How each figure is measured"));
}

#[test]
fn a_backend_faster_than_the_process_is_flagged() {
    let html = render(&fixture(), None).unwrap();
    assert!(
        !html.contains(">beats the process<"),
        "nothing beats it in the fixture"
    );
    let mut r = fixture();
    let sandbox = r.backends.iter_mut().find(|b| b.name == "sandbox").unwrap();
    for x in &mut sandbox.overhead[0].ns_per_iter {
        *x *= 0.5;
    }
    let html = render(&r, None).unwrap();
    assert!(html.contains(">beats the process<"));
}

#[test]
fn the_baseline_states_its_rule_and_calibration() {
    let base = fixture();
    let html = render(&base, Some(&base)).unwrap();
    assert!(html.contains("Holm"));
    assert!(html.contains("A/A calibration"));
    let cmp = vmlab_reports::baseline::compare_runs(&base, &base);
    let aa = cmp.aa.expect("the fixture has 30 runs per figure");
    assert!(aa.compared > 10);
    assert_eq!(cmp.significant, 0, "a run against itself changes nothing");
}
