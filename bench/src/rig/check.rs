//! The checks the rig runs inside L1, and how each is judged.
use serde::Serialize;
use vmlab_bench::record::RunRecord;
use vmlab_workload_host::protocol::Line;

use super::outcome::CheckRun;

/// What a check must show to pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The guest reached ready, ran these kernels and exited with this code.
    Exit { code: u8, kernels: Vec<String> },
    /// `vmlab run` failed cleanly: non-zero exit, this text in its error, and
    /// well before the rig's own per-check timeout.
    Error { contains: String },
}

/// One `vmlab run` inside L1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    /// Arguments after `vmlab run`.
    pub argv: Vec<String>,
    pub expect: Expect,
}

/// The exit status busybox `timeout` gives a command it had to kill.
const TIMED_OUT: i32 = 143;

/// Judges one check against what L1 reported; `Err` says why it failed.
pub fn judge(check: &Check, run: Option<&CheckRun>) -> Result<(), String> {
    let run = run.ok_or("L1 never reported this check (L1 hung, crashed or timed out)")?;
    if run.garbled {
        return Err(
            "both copies of this check's output arrived garbled on the results channel \
             (CRC-32 mismatch): the serial line lost bytes, not the VMM"
                .into(),
        );
    }
    if run.rc == TIMED_OUT || run.rc == 124 {
        return Err("vmlab run hung and was killed by the L1 timeout".into());
    }
    match &check.expect {
        Expect::Exit { code, kernels } => {
            let out: RunRecord = serde_json::from_str(&run.stdout).map_err(|e| {
                format!(
                    "exit {}, output is not vmlab run's JSON ({e}); stderr: {}",
                    run.rc,
                    tail(&run.stderr)
                )
            })?;
            if run.rc != i32::from(*code) {
                return Err(format!(
                    "exit code {} (wanted {code}); stderr: {}",
                    run.rc,
                    tail(&run.stderr)
                ));
            }
            if out.to_ready_ns.is_none() {
                return Err("the guest never signalled ready".into());
            }
            let got: Vec<String> = out
                .results
                .iter()
                .filter_map(|l| match l {
                    Line::Result(r) => Some(r.name()),
                    _ => None,
                })
                .collect();
            for k in kernels {
                // Some kernels report several results (e.g. spawn-fork, spawn-exec).
                if !got.iter().any(|g| g.starts_with(k.as_str())) {
                    return Err(format!("no result for kernel {k} (got {got:?})"));
                }
            }
            Ok(())
        }
        Expect::Error { contains } => {
            if run.rc == 0 {
                Err("vmlab run succeeded but was expected to fail".into())
            } else if !run.stderr.contains(contains.as_str()) {
                Err(format!(
                    "failed (exit {}) but without the expected message {contains:?}: {}",
                    run.rc,
                    tail(&run.stderr)
                ))
            } else {
                Ok(())
            }
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit_check(code: u8) -> Check {
        Check {
            name: "linux".into(),
            argv: vec![],
            expect: Expect::Exit {
                code,
                kernels: vec!["cpu".into()],
            },
        }
    }

    fn run(rc: i32, stdout: &str, stderr: &str) -> CheckRun {
        CheckRun {
            name: "linux".into(),
            rc,
            stdout: stdout.into(),
            stderr: stderr.into(),
            ..CheckRun::default()
        }
    }

    const GOOD: &str = r#"{"backend":"vm-linux","exit_code":3,"to_ready_ns":5,"to_exit_ns":9,
        "results":[{"vmlab":"result","kernel":"cpu","iters":1,"total_ns":2,"ns_per_iter":2.0,"bytes":0}]}"#;

    #[test]
    fn a_good_run_passes() {
        assert_eq!(judge(&exit_check(3), Some(&run(3, GOOD, ""))), Ok(()));
    }

    #[test]
    fn a_garbled_run_fails_naming_the_channel() {
        let garbled = CheckRun {
            garbled: true,
            ..run(3, GOOD, "")
        };
        let why = judge(&exit_check(3), Some(&garbled)).unwrap_err();
        assert!(why.contains("garbled"), "{why}");
    }

    #[test]
    fn wrong_code_missing_ready_missing_kernel_and_hangs_fail() {
        assert!(judge(&exit_check(4), Some(&run(3, GOOD, ""))).is_err());
        let no_ready = GOOD.replace(r#""to_ready_ns":5"#, r#""to_ready_ns":null"#);
        assert_ne!(no_ready, GOOD);
        assert!(judge(&exit_check(3), Some(&run(3, &no_ready, ""))).is_err());
        let no_kernel =
            r#"{"backend":"vm-linux","exit_code":3,"to_ready_ns":5,"to_exit_ns":9,"results":[]}"#;
        assert!(judge(&exit_check(3), Some(&run(3, no_kernel, ""))).is_err());
        assert!(judge(&exit_check(3), Some(&run(TIMED_OUT, GOOD, ""))).is_err());
        assert!(judge(&exit_check(3), None).is_err());
    }

    #[test]
    fn expected_errors_need_the_message_and_a_failure() {
        let c = Check {
            name: "bad".into(),
            argv: vec![],
            expect: Expect::Error {
                contains: "initramfs".into(),
            },
        };
        assert_eq!(judge(&c, Some(&run(1, "", "error: bad initramfs"))), Ok(()));
        assert!(judge(&c, Some(&run(1, "", "error: something else"))).is_err());
        assert!(judge(&c, Some(&run(0, GOOD, "initramfs"))).is_err());
        assert!(judge(&c, Some(&run(TIMED_OUT, "", "initramfs"))).is_err());
    }
}
