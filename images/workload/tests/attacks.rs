//! `vmlab-workload attacks`: the escape battery as a plain process (its
//! positive control: a process on the host reaches the host's secret),
//! read with the host side's parser; it leaves nothing behind and changes
//! nothing on the host, even as root.
use std::process::{Command, Output};

use vmlab_workload::protocol::{FD_ENV, PORT_ENV};
use vmlab_workload_host::protocol::{EscapeLine, Line};

const BIN: &str = env!("CARGO_BIN_EXE_vmlab-workload");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove(FD_ENV)
        .env_remove(PORT_ENV)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the workload")
}

fn scratch_dirs() -> Vec<String> {
    let mut found = Vec::new();
    for base in ["/tmp", "/dev/shm", "/run"] {
        if let Ok(d) = std::fs::read_dir(base) {
            found.extend(
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("vmlab-attack-")),
            );
        }
    }
    found
}

#[test]
fn the_battery_reaches_the_host_from_a_plain_process_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"host only").unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let pid = std::process::id().to_string();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let before = scratch_dirs();
    let out = run(&["attacks", secret.to_str().unwrap(), &pid, &port]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let lines: Vec<Line> = stdout
        .lines()
        .map(|l| Line::parse(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let attempts: Vec<&EscapeLine> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Escape(e) => Some(e),
            _ => None,
        })
        .collect();
    let escaped = attempts.iter().filter(|e| e.escaped).count() as u32;
    assert!(lines.contains(&Line::Attacks {
        tried: attempts.len() as u32,
        escaped
    }));
    assert!(attempts.len() >= 30, "{stdout}");
    assert_eq!(lines.first(), Some(&Line::Ready));
    assert_eq!(lines.last(), Some(&Line::Exit { code: 0 }));
    // The positive control: the secret and the host's pid are reachable.
    for name in ["read_host_file", "signal_host_pid", "connect_host_loopback"] {
        let a = attempts.iter().find(|e| e.attempt == name).unwrap();
        assert!(a.escaped, "{name}: {stdout}");
    }
    // Nothing changed or left behind.
    assert_eq!(std::fs::read(&secret).unwrap(), b"host only");
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        host
    );
    let now = std::time::SystemTime::now();
    assert!(now > std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000));
    assert_eq!(scratch_dirs(), before);
}

#[test]
fn bad_battery_arguments_exit_2_with_an_error_line() {
    for args in [
        &["attacks"][..],
        &["attacks", "relative", "1", "2"],
        &["attacks", "/s", "pid", "2"],
        &["attacks", "/s", "1", "70000"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<Line> = Line::scan(&stdout).collect();
        assert!(
            matches!(lines.first(), Some(Line::Error(_))),
            "{args:?}: {stdout}"
        );
    }
}
