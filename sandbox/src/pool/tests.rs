//! Parking a plain process (no root needed): the same steps and the same
//! release path as a sandbox, without the namespaces.
use super::*;

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
