//! The page's evidence tables: protections per backend, failed and
//! timed-out runs, isolation evidence, and the reproducibility facts.
use serde::Serialize;

use crate::model::{BackendResult, Reproducibility, Results};

/// Protections one backend ran with, formatted.
#[derive(Debug, Serialize)]
pub struct ProtectionRow {
    pub backend: String,
    pub kind: &'static str,
    pub seccomp: String,
    pub user_namespace: String,
    pub namespaces: String,
    pub capabilities: String,
    pub cgroup_limits: String,
    pub jail: String,
}

/// Failed and timed-out runs of one backend.
#[derive(Debug, Serialize)]
pub struct FailureRow {
    pub backend: String,
    pub failed: usize,
    pub timed_out: usize,
    pub reasons: String,
}

/// Isolation evidence of one backend, or why there is none.
#[derive(Debug, Serialize)]
pub struct IsolationRow {
    pub backend: String,
    pub kind: &'static str,
    pub emulated: bool,
    pub attacks: String,
    pub succeeded: String,
    pub surface: String,
    pub allow_list: String,
}

/// One reproducibility fact.
#[derive(Debug, Serialize)]
pub struct Fact {
    pub name: &'static str,
    pub value: String,
}

const NOT_RECORDED: &str = "not recorded";

fn yes_no(v: Option<bool>, yes: &str, no: &str) -> String {
    v.map_or(
        NOT_RECORDED.into(),
        |b| if b { yes.into() } else { no.into() },
    )
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| NOT_RECORDED.into())
}

/// The allow-list size, or what is known.
fn allow_list(b: &BackendResult) -> String {
    let Some(p) = &b.protections else {
        return NOT_RECORDED.into();
    };
    match (p.seccomp, p.seccomp_allowed) {
        (Some(false), _) => "no filter".into(),
        (_, Some(n)) => format!("{n} calls"),
        (Some(true), None) => "filter on, size not recorded".into(),
        (None, None) => NOT_RECORDED.into(),
    }
}

pub fn protections(results: &Results) -> Vec<ProtectionRow> {
    results
        .backends
        .iter()
        .filter(|b| b.available)
        .map(|b| {
            let kind = b.kind.label();
            let Some(p) = &b.protections else {
                return ProtectionRow {
                    backend: b.label(),
                    kind,
                    seccomp: NOT_RECORDED.into(),
                    user_namespace: NOT_RECORDED.into(),
                    namespaces: NOT_RECORDED.into(),
                    capabilities: NOT_RECORDED.into(),
                    cgroup_limits: NOT_RECORDED.into(),
                    jail: NOT_RECORDED.into(),
                };
            };
            ProtectionRow {
                backend: b.label(),
                kind,
                seccomp: match p.seccomp {
                    Some(true) => format!("on ({})", allow_list(b)),
                    Some(false) => "off".into(),
                    None => NOT_RECORDED.into(),
                },
                user_namespace: yes_no(p.user_namespace, "yes", "no"),
                namespaces: if p.namespaces.is_empty() {
                    "none recorded".into()
                } else {
                    p.namespaces.join(", ")
                },
                capabilities: text(&p.capabilities),
                cgroup_limits: text(&p.cgroup_limits),
                jail: text(&p.jail),
            }
        })
        .collect()
}

pub fn failures(results: &Results) -> Vec<FailureRow> {
    results
        .backends
        .iter()
        .filter(|b| !b.failures.is_empty())
        .map(|b| {
            let timed_out = b.failures.iter().filter(|f| f.timed_out).count();
            let mut reasons: Vec<String> = Vec::new();
            for f in &b.failures {
                let r = if f.reason.is_empty() {
                    "no reason recorded".to_string()
                } else {
                    f.reason.clone()
                };
                let r = if f.purpose.is_empty() {
                    r
                } else {
                    format!("{}: {r}", f.purpose)
                };
                if !reasons.contains(&r) {
                    reasons.push(r);
                }
            }
            FailureRow {
                backend: b.label(),
                failed: b.failures.len() - timed_out,
                timed_out,
                reasons: reasons.join("; "),
            }
        })
        .collect()
}

pub fn isolation(results: &Results) -> Vec<IsolationRow> {
    results
        .backends
        .iter()
        .filter(|b| b.available)
        .map(|b| {
            let ev = b.isolation.as_ref();
            let missing = ev
                .and_then(|e| e.missing_reason.clone())
                .unwrap_or_else(|| "this run did not record it".into());
            let attacks = ev.and_then(|e| e.attacks.as_ref());
            let surface = ev.and_then(|e| e.host_syscalls.as_ref());
            IsolationRow {
                backend: b.label(),
                kind: b.kind.label(),
                emulated: b.emulated,
                attacks: attacks.map_or(format!("not measurable here: {missing}"), |a| {
                    format!("{} / {} blocked", a.blocked, a.tried)
                }),
                succeeded: attacks.map_or(String::new(), |a| a.succeeded.join(", ")),
                surface: surface.map_or(format!("not measurable here: {missing}"), |s| {
                    format!("{} ({}, {})", s.distinct, s.counted, s.tracer)
                }),
                allow_list: allow_list(b),
            }
        })
        .collect()
}

pub fn repro(r: &Reproducibility) -> Vec<Fact> {
    let opt = |name, v: &Option<String>| Fact {
        name,
        value: text(v),
    };
    vec![
        opt("CPU flags", &r.cpu_flags),
        opt("governor", &r.governor),
        Fact {
            name: "boost",
            value: yes_no(r.boost, "on", "off"),
        },
        Fact {
            name: "SMT",
            value: yes_no(r.smt, "on", "off"),
        },
        opt("transparent huge pages", &r.thp),
        opt("mitigations", &r.mitigations),
        Fact {
            name: "load at start",
            value: r
                .load_at_start
                .map_or(NOT_RECORDED.into(), |l| format!("{l:.2}")),
        },
        opt("kernel command line", &r.kernel_cmdline),
        opt("rustc", &r.rustc),
        opt("build profile", &r.build_profile),
        opt("vmlab binary sha256", &r.binary_sha256),
        opt("guest kernel release", &r.guest_kernel_release),
        opt("guest kernel command line", &r.guest_kernel_cmdline),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttackTally, BackendKind, IsolationEvidence, Protections, RunFailure};

    #[test]
    fn missing_evidence_reads_not_measurable_with_the_reason() {
        let mut r = Results::default();
        let mut b = BackendResult {
            name: "crun".into(),
            kind: BackendKind::Container,
            available: true,
            ..BackendResult::default()
        };
        b.isolation = Some(IsolationEvidence {
            attacks: Some(AttackTally {
                tried: 7,
                blocked: 6,
                succeeded: vec!["ptrace".into()],
            }),
            host_syscalls: None,
            missing_reason: Some("strace is not installed".into()),
        });
        b.protections = Some(Protections {
            seccomp: Some(true),
            seccomp_allowed: Some(60),
            ..Protections::default()
        });
        b.failures = vec![
            RunFailure {
                purpose: "boot".into(),
                timed_out: true,
                reason: "timeout".into(),
                ..RunFailure::default()
            },
            RunFailure {
                purpose: "boot".into(),
                reason: "exit 1".into(),
                ..RunFailure::default()
            },
        ];
        r.backends.push(b);
        let iso = isolation(&r);
        assert_eq!(iso[0].attacks, "6 / 7 blocked");
        assert_eq!(
            iso[0].surface,
            "not measurable here: strace is not installed"
        );
        assert_eq!(iso[0].allow_list, "60 calls");
        assert_eq!(protections(&r)[0].seccomp, "on (60 calls)");
        assert_eq!(protections(&r)[0].jail, "not recorded");
        let f = failures(&r);
        assert_eq!((f[0].failed, f[0].timed_out), (1, 1));
        assert_eq!(f[0].reasons, "boot: timeout; boot: exit 1");
    }
}
