//! Parking a plain process (no root needed): the same steps and the same
//! release path as a sandbox, without the namespaces.
use super::*;
use vmlab_workload::protocol::{Event, PARK_MARK};

fn echo(word: &str) -> Config {
    let mut c = Config::process("/bin/echo");
    c.args = vec![word.to_string()];
    c
}

#[test]
fn a_parked_process_runs_only_when_released() {
    let parked = Parked::prepare(&echo("warm")).unwrap();
    let pid = parked.pid();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Still parked: not exec'd yet, so its command line is still ours.
    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(!cmd.starts_with(b"/bin/echo"), "ran before its release");
    let out = parked.run(None).unwrap();
    assert_eq!(out.status, crate::ExitStatus::Code(0));
    assert_eq!(out.stdout, b"warm\n");
    let names: Vec<_> = out.phases.iter().map(|(n, _)| *n).collect();
    assert_eq!(&names[..2], ["release", "exec"], "{names:?}");
    assert!(out.prepared.iter().any(|(n, _)| *n == "park"));
}

#[test]
fn a_dropped_parked_process_is_killed_and_reaped() {
    let parked = Parked::prepare(&echo("never")).unwrap();
    let pid = parked.pid();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    drop(parked);
    // Reaped: no zombie left under that pid (or it was reused by another).
    let gone = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => !s.contains("(echo)") && !s.contains(") Z "),
    };
    assert!(gone, "pid {pid} left behind");
}

#[test]
fn a_pool_refills_after_each_run() {
    let mut pool = Pool::new(echo("again"), 2).unwrap();
    assert_eq!(pool.warm(), 2);
    for _ in 0..3 {
        let out = pool.run(None).unwrap();
        assert_eq!(out.stdout, b"again\n");
        assert_eq!(pool.warm(), 2);
    }
    let one = pool.take().unwrap();
    assert_eq!(pool.warm(), 1);
    drop(one);
    assert_eq!(pool.refill().unwrap(), 1);
}

/// A plain process that parks as the vmlab workload does (`sh -c`; the
/// pool's `--park` lands in `$0`): the park mark, one byte from stdin
/// (end of file: exit 1), then ready and a line with what stdin holds next.
fn sh_parker() -> Config {
    let mut c = Config::process("/bin/sh");
    let script = concat!(
        r#"printf '\362\377\377\002' >&"$VMLAB_FD"; "#,
        r#"[ "$(head -c 1 | wc -c)" -eq 1 ] || exit 1; "#,
        r#"printf '\000\000\000\001' >&"$VMLAB_FD"; "#,
        r#"echo "$0 rest=$(cat)""#,
    );
    c.args = vec!["-c".into(), script.into()];
    c
}

#[test]
fn a_process_parked_in_its_workload_runs_on_only_when_released() {
    let parked = Parked::prepare_at(&sh_parker(), ParkAt::Workload).unwrap();
    assert_eq!(parked.at(), ParkAt::Workload);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = parked.run(None).unwrap();
    assert_eq!(out.status, crate::ExitStatus::Code(0), "{out:?}");
    // The pool added --park; stdin held the go byte, then end of file.
    assert_eq!(out.stdout, b"--park rest=\n");
    let names: Vec<_> = out.phases.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["release", "go", "ready"], "{names:?}");
    // The park mark came before the release (at 0), ready after it.
    assert_eq!(out.events[0], (Event::Mark(PARK_MARK), 0));
    assert!(out.ready.is_some_and(|r| r > 0), "{:?}", out.ready);
    assert!(out.prepared.iter().any(|(n, _)| *n == "parked"));
}

#[test]
fn a_workload_that_does_not_park_is_an_error_naming_park() {
    let mut c = Config::process("/bin/sh");
    c.args = vec!["-c".into(), "echo oops >&2; exit 4".into()];
    let e = Parked::prepare_at(&c, ParkAt::Workload).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("code 4") && text.contains("oops"), "{text}");
    assert!(text.contains("--park"), "{text}");
    // Never parking within the timeout is an error too.
    c.args = vec!["-c".into(), "sleep 5".into()];
    c.timeout = std::time::Duration::from_millis(200);
    let e = Parked::prepare_at(&c, ParkAt::Workload).unwrap_err();
    assert!(matches!(e, LaunchError::NotParked(_)), "{e}");
}

#[test]
fn a_pool_parked_in_the_workload_refills_and_a_dropped_one_is_reaped() {
    let mut pool = Pool::new_at(sh_parker(), 2, ParkAt::Workload).unwrap();
    assert_eq!(pool.at(), ParkAt::Workload);
    for _ in 0..2 {
        let out = pool.run(None).unwrap();
        assert_eq!(out.stdout, b"--park rest=\n");
        assert_eq!(pool.warm(), 2);
    }
    let one = pool.take().unwrap();
    let pid = one.pid();
    drop(one);
    let gone = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => !s.contains("(sh)") && !s.contains(") Z "),
    };
    assert!(gone, "pid {pid} left behind");
}
