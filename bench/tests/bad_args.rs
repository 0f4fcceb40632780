//! `vmlab` refuses out-of-range numbers on its command line with a clear
//! message and an exit code, never an abort: timeouts that are not finite,
//! not positive or longer than a day, and guest memory sizes that are zero
//! or absurd; and backend names it does not know (clap lists the known
//! ones).
use std::process::Command;

/// Runs `vmlab ARGS` and returns (exit code, stderr); fails if a signal
/// (an abort, say) ended it.
fn vmlab(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .env("VMLAB_KERNEL", "/nonexistent/vmlab-test-kernel")
        .output()
        .expect("vmlab runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or_else(|| {
        panic!(
            "vmlab {args:?} was killed by a signal: {:?}\n{stderr}",
            out.status
        )
    });
    (code, stderr)
}

const BAD_TIMEOUTS: &[&str] = &[
    "1e20",
    "1e19",
    "18446744074",
    "86401",
    "0",
    "-1",
    "nan",
    "inf",
    "1e-30",
    "soon",
];

#[test]
fn run_refuses_bad_timeouts_for_every_backend() {
    for backend in ["process", "sandbox", "vm-bare", "vm-linux"] {
        for bad in BAD_TIMEOUTS {
            let flag = format!("--timeout={bad}");
            let (code, stderr) = vmlab(&["run", "--backend", backend, &flag, "--", "cpu"]);
            assert_ne!(code, 0, "{backend} {flag} exited 0: {stderr}");
            assert!(
                stderr.contains("--timeout"),
                "{backend} {flag}: the message does not name --timeout: {stderr}"
            );
        }
    }
}

#[test]
fn rig_refuses_bad_timeouts() {
    for bad in ["0", "86401", "18446744074", "-1", "1e20"] {
        let flag = format!("--timeout={bad}");
        let (code, stderr) = vmlab(&["rig", &flag]);
        assert_ne!(code, 0, "rig {flag} exited 0: {stderr}");
        assert!(stderr.contains("--timeout"), "rig {flag}: {stderr}");
    }
}

#[test]
fn run_refuses_bad_memory_sizes() {
    for bad in ["0", "-5", "99999999999999", "18446744073709551615", "lots"] {
        let flag = format!("--mem={bad}");
        let (code, stderr) = vmlab(&["run", "--backend", "vm-bare", &flag, "--", "cpu"]);
        assert_ne!(code, 0, "{flag} exited 0: {stderr}");
        assert!(stderr.contains("--mem"), "{flag}: {stderr}");
    }
}

#[test]
fn an_unknown_backend_is_refused_with_the_known_ones() {
    for bad in ["docker", "process,docker", "VM-BARE"] {
        let (code, stderr) = vmlab(&["compare", "--backends", bad]);
        assert_eq!(code, 2, "--backends {bad}: {stderr}");
        assert!(stderr.contains("invalid value"), "{stderr}");
        for known in ["process", "vm-linux", "bwrap", "qemu", "firecracker"] {
            assert!(stderr.contains(known), "{known} is not listed: {stderr}");
        }
    }
    // `vmlab run` boots ours only, and lists only those.
    let (code, stderr) = vmlab(&["run", "--backend", "crun", "--", "cpu"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("[possible values: process, sandbox, vm-bare, vm-linux]"),
        "{stderr}"
    );
}

#[test]
fn scale_refuses_bad_counts_budgets_and_backends() {
    let cases: &[(&[&str], &str)] = &[
        (&["--max", "0"], "--max"),
        (&["--max=-3"], "--max"),
        (&["--budget", "0%"], "--budget"),
        (&["--budget", "150%"], "--budget"),
        (&["--budget", "999999G"], "more than this host's memory"),
        (&["--budget", "lots"], "--budget"),
        (&["--concurrency", "4,0"], "--concurrency"),
        (&["--time-limit", "0"], "--time-limit"),
        (&["--backends", "firecracker,vm-linux"], "can hold"),
        (&["--backends", "docker"], "invalid value"),
    ];
    for (args, want) in cases {
        let mut all = vec!["scale", "--images", "/nonexistent/vmlab-images"];
        all.extend_from_slice(args);
        let (code, stderr) = vmlab(&all);
        assert_ne!(code, 0, "{args:?} exited 0: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn compare_refuses_a_zero_scale_max() {
    let (code, stderr) = vmlab(&["compare", "--scale-max", "0", "--backends", "process"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("--scale-max") && stderr.contains("--no-scale"),
        "{stderr}"
    );
}

#[test]
fn snapshot_and_restore_refuse_bad_input_naming_the_file_and_the_fix() {
    let dir = std::env::temp_dir().join(format!("vmlab-bad-snapshot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_snap = dir.join("not-a-snapshot");
    std::fs::write(
        &not_snap,
        b"hello, I am not a snapshot at all, just some text",
    )
    .unwrap();
    let short = dir.join("short");
    std::fs::write(&short, b"VMLABSNP").unwrap();
    let missing = dir.join("missing.vmlab");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["--restore".into(), path(&missing)], "missing.vmlab"),
        (
            vec!["--restore".into(), path(&not_snap)],
            "is not a vmlab snapshot",
        ),
        (vec!["--restore".into(), path(&short)], "truncated"),
        (
            vec![
                "--restore".into(),
                path(&not_snap),
                "--".into(),
                "cpu".into(),
            ],
            "takes no workload arguments",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["run", "--backend", "vm-bare"];
        args.extend(extra.iter().map(String::as_str));
        let (code, stderr) = vmlab(&args);
        assert_ne!(code, 0, "{args:?} exited 0: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, stderr) = vmlab(&["run", "--backend", "sandbox", "--restore", &path(&not_snap)]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--backend vm-bare"), "{stderr}");

    let (code, stderr) = vmlab(&["snapshot", "--backend", "sandbox", "--out", &path(&missing)]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--backend vm-bare or vm-linux"), "{stderr}");
    let nowhere = dir.join("no/such/dir/s.vmlab");
    let (code, stderr) = vmlab(&["snapshot", "--backend", "vm-bare", "--out", &path(&nowhere)]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("does not exist; create it first"),
        "{stderr}"
    );
    let (code, stderr) = vmlab(&["snapshot", "--backend", "vm-bare", "--out", &path(&dir)]);
    assert_ne!(code, 0);
    assert!(stderr.contains("is not a file name"), "{stderr}");
    let (code, stderr) = vmlab(&[
        "snapshot",
        "--backend",
        "vm-bare",
        "--timeout=0",
        "--out",
        &path(&missing),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--timeout"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_refuses_a_disk_for_a_process_and_a_tap_for_a_non_vm() {
    let (code, stderr) = vmlab(&[
        "run",
        "--backend",
        "process",
        "--disk",
        "/dev/null",
        "--",
        "cpu",
    ]);
    assert_ne!(code, 0, "process --disk exited 0: {stderr}");
    assert!(
        stderr.contains("a process opens the file itself"),
        "{stderr}"
    );
    for backend in ["process", "sandbox"] {
        let (code, stderr) = vmlab(&["run", "--backend", backend, "--tap", "t0", "--", "cpu"]);
        assert_ne!(code, 0, "{backend} --tap exited 0: {stderr}");
        assert!(
            stderr.contains("use --backend vm-bare"),
            "{backend}: {stderr}"
        );
    }
}
