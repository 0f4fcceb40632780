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
    /// As [`Expect::Exit`], and the run was a restore from a snapshot
    /// (`vmlab run --restore`: its record says `start: restore`).
    Restored { code: u8, kernels: Vec<String> },
    /// As [`Expect::Exit`] with code 0, and each of these virtio devices
    /// (`virtio_net`, `virtio_blk`: the prefix of `vmlab run`'s counters)
    /// completed requests: the kernels' I/O went over virtio.
    Io {
        kernels: Vec<String>,
        devices: Vec<String>,
    },
    /// `vmlab snapshot --json` wrote a snapshot of a guest with this much
    /// memory, with guest pages and MSRs in it.
    Snapshot { mem_bytes: u64 },
    /// The command failed cleanly: non-zero exit, this text in its error, and
    /// well before the rig's own per-check timeout.
    Error { contains: String },
}

/// One command inside L1 (`vmlab run` mostly).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    /// The command line, program first (see [`vmlab`]).
    pub argv: Vec<String>,
    pub expect: Expect,
}

/// Where the rig's `vmlab` sits inside L1.
pub const VMLAB: &str = "/rig/vmlab";

/// `/rig/vmlab` with `args` (the subcommand first): a check's command line.
pub fn vmlab<S: AsRef<str>>(args: &[S]) -> Vec<String> {
    std::iter::once(VMLAB)
        .chain(args.iter().map(AsRef::as_ref))
        .map(String::from)
        .collect()
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
        Expect::Exit { code, kernels } => judge_exit(run, *code, kernels).map(|_| ()),
        Expect::Restored { code, kernels } => {
            let out = judge_exit(run, *code, kernels)?;
            match out.facts.get("start").map(String::as_str) {
                Some("restore") => Ok(()),
                other => Err(format!(
                    "the run was not a restore (its start fact is {other:?})"
                )),
            }
        }
        Expect::Io { kernels, devices } => {
            let out = judge_exit(run, 0, kernels)?;
            for d in devices {
                let name = format!("{d}_completed");
                match out.counters.get(&name) {
                    Some(&n) if n > 0 => {}
                    n => {
                        return Err(format!(
                            "{name} is {n:?}: the kernels' I/O did not go over {d}"
                        ))
                    }
                }
            }
            Ok(())
        }
        Expect::Snapshot { mem_bytes } => judge_snapshot(run, *mem_bytes),
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

/// The run's record when it exited with `code` after ready and ran `kernels`.
fn judge_exit(run: &CheckRun, code: u8, kernels: &[String]) -> Result<RunRecord, String> {
    let out: RunRecord = serde_json::from_str(&run.stdout).map_err(|e| {
        format!(
            "exit {}, output is not vmlab run's JSON ({e}); stderr: {}",
            run.rc,
            tail(&run.stderr)
        )
    })?;
    if run.rc != i32::from(code) {
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
    Ok(out)
}

/// `vmlab snapshot --json` succeeded and describes a snapshot of
/// `mem_bytes` of guest memory with pages and MSRs in it.
fn judge_snapshot(run: &CheckRun, mem_bytes: u64) -> Result<(), String> {
    if run.rc != 0 {
        return Err(format!(
            "vmlab snapshot failed (exit {}): {}",
            run.rc,
            tail(&run.stderr)
        ));
    }
    let out: serde_json::Value = serde_json::from_str(&run.stdout)
        .map_err(|e| format!("output is not vmlab snapshot's JSON ({e})"))?;
    let field = |name: &str| out[name].as_u64();
    if field("mem_bytes") != Some(mem_bytes) {
        return Err(format!(
            "a snapshot of {:?} bytes of memory (wanted {mem_bytes})",
            field("mem_bytes")
        ));
    }
    let has = |name: &str| field(name).is_some_and(|n| n > 0);
    if !(has("data_pages") && has("msrs")) {
        return Err(format!(
            "the snapshot has no guest pages or no MSRs: {}",
            run.stdout.trim()
        ));
    }
    Ok(())
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
    fn a_restore_must_say_it_was_one() {
        let c = Check {
            name: "restore".into(),
            argv: vec![],
            expect: Expect::Restored {
                code: 3,
                kernels: vec!["cpu".into()],
            },
        };
        assert!(judge(&c, Some(&run(3, GOOD, ""))).is_err(), "a cold run");
        let restored = GOOD.replace(
            r#""to_exit_ns":9,"#,
            r#""to_exit_ns":9,"facts":{"start":"restore"},"#,
        );
        assert_ne!(restored, GOOD);
        assert_eq!(judge(&c, Some(&run(3, &restored, ""))), Ok(()));
        assert!(judge(&c, Some(&run(4, &restored, ""))).is_err());
    }

    #[test]
    fn an_io_run_needs_its_kernels_and_completed_virtio_requests() {
        let c = Check {
            name: "io".into(),
            argv: vec![],
            expect: Expect::Io {
                kernels: vec!["cpu".into()],
                devices: vec!["virtio_net".into(), "virtio_blk".into()],
            },
        };
        let good = GOOD.replace(
            r#""exit_code":3,"#,
            r#""exit_code":0,"counters":{"virtio_net_completed":4,"virtio_blk_completed":9},"#,
        );
        assert_ne!(good, GOOD);
        assert_eq!(judge(&c, Some(&run(0, &good, ""))), Ok(()));
        let no_blk = good.replace(r#""virtio_blk_completed":9"#, r#""virtio_blk_completed":0"#);
        let why = judge(&c, Some(&run(0, &no_blk, ""))).unwrap_err();
        assert!(why.contains("virtio_blk_completed is Some(0)"), "{why}");
        let no_net = good.replace(r#""virtio_net_completed":4,"#, "");
        let why = judge(&c, Some(&run(0, &no_net, ""))).unwrap_err();
        assert!(why.contains("virtio_net_completed is None"), "{why}");
        assert!(judge(&c, Some(&run(3, &good, ""))).is_err(), "a failed run");
    }

    #[test]
    fn a_snapshot_needs_its_memory_pages_and_msrs() {
        let c = Check {
            name: "snap".into(),
            argv: vec![],
            expect: Expect::Snapshot { mem_bytes: 1024 },
        };
        let good = r#"{"mem_bytes":1024,"data_pages":5,"msrs":40}"#;
        assert_eq!(judge(&c, Some(&run(0, good, ""))), Ok(()));
        assert!(judge(&c, Some(&run(1, good, "error"))).is_err());
        let other = r#"{"mem_bytes":2048,"data_pages":5,"msrs":40}"#;
        assert!(judge(&c, Some(&run(0, other, ""))).is_err());
        let empty = r#"{"mem_bytes":1024,"data_pages":0,"msrs":40}"#;
        assert!(judge(&c, Some(&run(0, empty, ""))).is_err());
        assert!(judge(&c, Some(&run(0, "wrote it", ""))).is_err());
    }

    #[test]
    fn a_check_runs_the_rigs_vmlab() {
        assert_eq!(vmlab(&["run", "--json"]), ["/rig/vmlab", "run", "--json"]);
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
