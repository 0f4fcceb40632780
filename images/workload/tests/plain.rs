//! The workload binary as a plain process: every kernel, the fd protocol,
//! and bad arguments. Nothing here depends on how fast the machine is.
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};

use vmlab_workload::protocol::{Event, FD_ENV, LINE_PREFIX, PORT_ENV};
use vmlab_workload::Kernel;
use vmlab_workload_host::protocol::{Line, ResultLine};

const BIN: &str = env!("CARGO_BIN_EXE_vmlab-workload");

fn workload(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove(FD_ENV).env_remove(PORT_ENV);
    cmd
}

fn output(args: &[&str]) -> Output {
    workload(args).output().expect("run the workload binary")
}

/// Every `{"vmlab":` line of stdout, parsed.
fn json_lines(out: &Output) -> Vec<Line> {
    String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .filter(|l| l.starts_with(LINE_PREFIX))
        .map(|l| Line::parse(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
        .collect()
}

/// The result lines among `lines`.
fn results(lines: &[Line]) -> impl Iterator<Item = &ResultLine> {
    lines.iter().filter_map(|l| match l {
        Line::Result(r) => Some(r),
        _ => None,
    })
}

#[test]
fn every_kernel_reports_a_result() {
    // The I/O kernels need a host-side server and a disk: tests/io.rs.
    let local: Vec<Kernel> = Kernel::ALL.into_iter().filter(|k| !k.is_io()).collect();
    let names: Vec<&str> = local.iter().map(|k| k.name()).collect();
    let mut args = names.clone();
    args.extend(["--time", "20ms", "--size", "1M"]);
    let out = output(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let lines = json_lines(&out);
    assert_eq!(lines.first(), Some(&Line::Ready));
    assert_eq!(lines.last(), Some(&Line::Exit { code: 0 }));
    for kernel in local {
        let of: Vec<&ResultLine> = results(&lines).filter(|r| r.kernel == kernel).collect();
        let expected = if kernel == Kernel::Spawn { 2 } else { 1 };
        assert_eq!(of.len(), expected, "results for {kernel}: {lines:?}");
        for r in of {
            let (iters, total, per) = (r.iters, r.total_ns, r.ns_per_iter);
            assert!(iters > 0 && total > 0 && per > 0.0, "{r:?}");
            assert!((per - total as f64 / iters as f64).abs() < 0.01, "{r:?}");
        }
    }
    let modes: Vec<Option<&str>> = results(&lines)
        .filter(|r| r.kernel == Kernel::Spawn)
        .map(|r| r.mode.as_deref())
        .collect();
    assert_eq!(modes, [Some("fork"), Some("exec")]);
    assert!(
        lines.iter().all(|l| !matches!(l, Line::Error(_))),
        "{lines:?}"
    );
}

#[test]
fn events_go_to_the_inherited_fd_in_order() {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new close-on-exec fds into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are new and owned by nothing else.
    let (mut reader, writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let fd = writer.as_raw_fd();
    let mut cmd = workload(&["crossing", "cpu", "--time", "1ms", "--exit", "3"]);
    cmd.env(FD_ENV, fd.to_string()).stdout(Stdio::null());
    // SAFETY: runs in the forked child before exec and only calls fcntl,
    // which is async-signal-safe: the workload alone inherits the write end
    // (other tests spawning meanwhile do not).
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let status = cmd.status().unwrap();
    drop(writer);
    drop(cmd);
    assert_eq!(status.code(), Some(3));
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).unwrap();
    let events: Vec<Option<Event>> = bytes
        .chunks(4)
        .map(|w| Event::decode(u32::from_le_bytes(w.try_into().unwrap())))
        .collect();
    let expected = [
        Event::Ready,
        Event::Mark(1),
        Event::Mark(2),
        Event::Mark(3),
        Event::Exit(3),
    ];
    assert_eq!(events, expected.map(Some));
}

fn assert_usage_error(args: &[&str], word: &str) {
    let out = output(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("`{word}`")), "{stderr}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    match &lines[0] {
        Line::Error(e) => assert!(e.kernel.is_none() && e.message.contains(word), "{e:?}"),
        other => panic!("wanted an error line first, got {other:?}"),
    }
    assert_eq!(lines[1], Line::Exit { code: 2 });
}

#[test]
fn bad_arguments_exit_2_naming_the_word() {
    assert_usage_error(&["cpu", "bogus"], "bogus");
    assert_usage_error(&["memory", "--size", "3X"], "3X");
    assert_usage_error(&["--time", "5"], "5");
    assert_usage_error(&["--frobnicate"], "--frobnicate");
}

#[test]
fn exit_option_sets_the_code() {
    let out = output(&["--exit", "7"]);
    assert_eq!(out.status.code(), Some(7));
    let lines = json_lines(&out);
    assert_eq!(lines, [Line::Ready, Line::Exit { code: 7 }]);
}

#[test]
fn help_prints_usage() {
    let out = output(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: vmlab-workload"));
}

#[test]
fn a_bad_protocol_fd_is_a_clear_error() {
    let out = workload(&["cpu"]).env(FD_ENV, "abc").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("VMLAB_FD=`abc`"), "{stderr}");
    let out = workload(&["cpu"]).env(FD_ENV, "987").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VMLAB_FD=987"));
}

#[test]
fn a_bad_port_setting_is_a_clear_error() {
    let out = workload(&["cpu"]).env(PORT_ENV, "2").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("VMLAB_PORT=`2`"), "{stderr}");
}

/// Reads stdout until the ready line, then gives the reader back.
fn wait_ready(stdout: std::process::ChildStdout) -> std::io::BufReader<std::process::ChildStdout> {
    use std::io::BufRead;
    let mut r = std::io::BufReader::new(stdout);
    let mut line = String::new();
    while r.read_line(&mut line).expect("read stdout") > 0 {
        if line.trim_end() == vmlab_workload::protocol::READY_LINE {
            return r;
        }
        line.clear();
    }
    panic!("the workload exited without its ready line");
}

/// Whether `child` is still running after a short wait.
fn still_running(child: &mut std::process::Child) -> bool {
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.try_wait().expect("try_wait").is_none()
}

#[test]
fn a_held_workload_waits_for_stdin_and_exits_on_a_byte() {
    use std::io::Write;
    let mut child = workload(&["--hold"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let _out = wait_ready(child.stdout.take().unwrap());
    assert!(
        still_running(&mut child),
        "a held workload exited on its own"
    );
    child.stdin.as_mut().unwrap().write_all(b"x").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // Control: without --hold the same command ends by itself.
    let mut plain = workload(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        plain.try_wait().unwrap().is_some(),
        "control: the unheld workload kept running"
    );
}

#[test]
fn a_held_workload_waits_on_its_hold_fd_until_end_of_file() {
    let (read, write) = std::io::pipe().expect("pipe");
    let fd = read.as_raw_fd();
    let mut cmd = workload(&["--hold"]);
    cmd.env(vmlab_workload::protocol::HOLD_FD_ENV, fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    // SAFETY: pre_exec only clears FD_CLOEXEC on the hold fd (async-signal-safe).
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let mut child = cmd.spawn().expect("spawn");
    drop(read);
    let _out = wait_ready(child.stdout.take().unwrap());
    // stdin is /dev/null (end of file at once): the hold fd, not stdin, holds it.
    assert!(
        still_running(&mut child),
        "the hold fd did not hold the workload"
    );
    drop(write);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_parked_workload_waits_for_its_go_and_without_one_never_starts() {
    use std::io::Write;
    let mut child = workload(&["--park", "--exit", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    assert!(still_running(&mut child), "a parked workload went on alone");
    child.stdin.as_mut().unwrap().write_all(b"g").unwrap();
    let _out = wait_ready(child.stdout.take().unwrap());
    assert_eq!(child.wait().unwrap().code(), Some(4));
    // The host gone (end of file on stdin): exit 1, no ready line.
    let out = workload(&["--park", "--exit", "4"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("\"ready\""), "{text}");
    assert!(text.contains("closed the go pipe"), "{text}");
}
