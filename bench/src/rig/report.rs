//! What the rig prints and stores: one report per run, every check judged,
//! the KVM kind relabelled as emulated.
use std::path::Path;

use serde::Serialize;

use super::check::{self, Check};
use super::cpu::Cpu;
use super::outcome::L1Report;
use super::proc::L1Exit;

/// What `vmlab rig --json` prints.
#[derive(Debug, Serialize)]
pub struct RigReport {
    pub passed: bool,
    /// Which emulated CPU L1 had.
    pub cpu: Cpu,
    pub emulator: &'static str,
    /// The KVM kind of the L2 guests (vmlab's label inside L1, overridden).
    pub kvm: &'static str,
    /// Always true: nothing here is a performance figure.
    pub emulated: bool,
    pub note: String,
    pub wall_s: f64,
    pub l1_timed_out: bool,
    pub l1_milestones_s: Vec<(String, f64)>,
    pub l1_failures: Vec<String>,
    pub checks: Vec<CheckReport>,
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    #[serde(flatten)]
    pub check: Check,
    pub passed: bool,
    pub reason: Option<String>,
    pub exit_code: Option<i32>,
    pub l1_seconds: Option<f64>,
    /// `vmlab run --json`'s output, when it printed one (KVM kind relabelled).
    pub run: Option<serde_json::Value>,
    pub stderr: Option<String>,
}

/// The note every report carries.
pub fn note(cpu: Cpu) -> String {
    format!(
        "L1 runs under emulation ({}): times prove behaviour, not performance",
        cpu.emulator()
    )
}

/// Judges every check against what L1 reported.
pub fn assemble(cpu: Cpu, checks: Vec<Check>, exit: &L1Exit, l1: L1Report) -> RigReport {
    let mut reports = Vec::new();
    for c in checks {
        let run = l1.checks.iter().find(|r| r.name == c.name);
        let verdict = check::judge(&c, run);
        let json = run.and_then(|r| serde_json::from_str(&r.stdout).ok());
        reports.push(CheckReport {
            passed: verdict.is_ok(),
            reason: verdict.err(),
            exit_code: run.map(|r| r.rc),
            l1_seconds: run.map(|r| r.t1 - r.t0),
            run: json.map(|mut v| {
                cpu.relabel_run(&mut v);
                v
            }),
            stderr: run
                .map(|r| cpu.relabel_text(&r.stderr))
                .filter(|s| !s.is_empty()),
            check: c,
        });
    }
    RigReport {
        passed: !exit.timed_out && l1.done && reports.iter().all(|r| r.passed),
        cpu,
        emulator: cpu.emulator(),
        kvm: cpu.label(),
        emulated: true,
        note: note(cpu),
        wall_s: exit.wall.as_secs_f64(),
        l1_timed_out: exit.timed_out,
        l1_milestones_s: l1.milestones,
        l1_failures: l1.failures,
        checks: reports,
    }
}

/// The human-readable summary, on stderr.
pub fn print_summary(r: &RigReport, console: &Path) {
    eprintln!(
        "rig: {} (L1 wall {:.1} s; {})",
        verdict(r.passed),
        r.wall_s,
        r.note
    );
    eprintln!("  L2 KVM: {}", r.kvm);
    for (m, t) in &r.l1_milestones_s {
        eprintln!("  L1 {m:<6} at {t:6.2} s (L1 uptime)");
    }
    for f in &r.l1_failures {
        eprintln!("  L1 failure: {f}");
    }
    for c in &r.checks {
        let secs = c.l1_seconds.map_or("-".into(), |s| format!("{s:.2} s"));
        eprintln!("  {:<28} {:<4} {secs:>8}", c.check.name, verdict(c.passed));
        if let Some(why) = &c.reason {
            eprintln!("      {why}");
        }
    }
    if !r.passed && r.checks.iter().all(|c| c.exit_code.is_none()) {
        eprintln!("L1 console ends with:\n{}", console_tail(console));
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "FAIL"
    }
}

/// The last lines of L1's console log.
pub fn console_tail(console: &Path) -> String {
    let text = std::fs::read_to_string(console).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rig::check::Expect;
    use crate::rig::outcome::CheckRun;
    use std::time::Duration;

    #[test]
    fn stored_runs_carry_the_emulated_label_and_the_cpu() {
        let cpu = Cpu::Intel;
        let line = r#"{"vmlab":"result","kernel":"cpu","iters":1,"total_ns":5,"ns_per_iter":5.0,"bytes":0}"#;
        let mut record =
            vmlab_bench::record::RunRecord::new(vmlab_bench::id::BackendId::VmBare, 3, 9)
                .with_results_of(line);
        record.to_ready_ns = Some(5);
        record
            .facts
            .insert("kvm".into(), cpu.label_inside().to_string());
        assert_eq!(record.results.len(), 1, "the crafted result line parses");
        let stdout = serde_json::to_string(&record).unwrap();
        let l1 = L1Report {
            done: true,
            checks: vec![CheckRun {
                name: "vm-bare".into(),
                rc: 3,
                stdout,
                stderr: format!("kvm: {}\n", cpu.label_inside()),
                ..CheckRun::default()
            }],
            ..L1Report::default()
        };
        let check = Check {
            name: "vm-bare".into(),
            argv: vec![],
            expect: Expect::Exit {
                code: 3,
                kernels: vec!["cpu".into()],
            },
        };
        let exit = L1Exit {
            wall: Duration::from_secs(1),
            timed_out: false,
            status: None,
        };
        let r = assemble(cpu, vec![check], &exit, l1);
        assert!(r.passed && r.emulated);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["cpu"], "intel");
        let text = json.to_string();
        assert!(!text.contains(cpu.label_inside()), "{text}");
        assert_eq!(json["checks"][0]["run"]["facts"]["kvm"], cpu.label());
    }

    #[test]
    fn a_timed_out_l1_fails_even_with_passing_checks() {
        let exit = L1Exit {
            wall: Duration::from_secs(1),
            timed_out: true,
            status: None,
        };
        let l1 = L1Report {
            done: true,
            ..L1Report::default()
        };
        assert!(!assemble(Cpu::Amd, vec![], &exit, l1).passed);
    }
}
