//! Spawning the launcher, the watchdog that stops it on timeout, and the
//! wait that reaps it only once the watchdog is gone.
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::Context;

use super::memory::TreeSampler;
use super::monotonic_ns;
use super::options::{Launched, Options};
use super::read::readers;

/// Most bytes of stderr kept for error messages.
const STDERR_KEEP: usize = 4096;

/// How long to wait for the pipes to close once the process is reaped (a
/// container left running by a killed runtime may still hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Runs `cmd` to its end (or stops it after `timeout`) and times it, as a peer.
pub fn launch(cmd: &mut Command, timeout: Duration) -> anyhow::Result<Launched> {
    launch_with(cmd, timeout, false)
}

/// [`launch`], also sampling the peak RSS of the whole process tree
/// (`Launched::tree_hwm_bytes`); the sampling thread costs CPU, so timing
/// runs do not use it.
pub fn launch_with(
    cmd: &mut Command,
    timeout: Duration,
    sample_memory: bool,
) -> anyhow::Result<Launched> {
    launch_opts(cmd, Options::peer(timeout, sample_memory))
}

/// Sends `sig` to `pid`, or to its process group.
///
/// # Safety
/// `pid` must be an unreaped child of this process (so neither it nor its
/// process group id can name another process).
unsafe fn signal(pid: libc::pid_t, group: bool, sig: libc::c_int) {
    let target = if group { -pid } else { pid };
    // SAFETY: kill has no memory effects; the caller vouches for `pid`.
    unsafe { libc::kill(target, sig) };
}

/// Runs `cmd` as `opts` say and times it.
pub fn launch_opts(cmd: &mut Command, opts: Options) -> anyhow::Result<Launched> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if opts.own_group {
        cmd.process_group(0);
    }
    let group = opts.own_group;
    let spawned_at_ns = monotonic_ns();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {program}"))?;
    let pid = child.id() as libc::pid_t;
    let (stdout, stderr) = readers(&mut child, opts.stdout);

    let sampler = opts.sample_memory.then(|| TreeSampler::start(pid));
    let timed_out = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let (stop, stopped) = mpsc::channel::<()>();
    let watchdog = {
        let timed_out = Arc::clone(&timed_out);
        let killed = Arc::clone(&killed);
        std::thread::spawn(move || {
            use mpsc::RecvTimeoutError::Timeout;
            if let Err(Timeout) = stopped.recv_timeout(opts.timeout) {
                timed_out.store(true, Ordering::SeqCst);
                // SAFETY: `pid` is our unreaped child (the main thread only
                // reaps it after this thread has been joined).
                unsafe { signal(pid, group, libc::SIGTERM) };
                if let Err(Timeout) = stopped.recv_timeout(opts.grace) {
                    killed.store(true, Ordering::SeqCst);
                    // SAFETY: as above, still unreaped.
                    unsafe { signal(pid, group, libc::SIGKILL) };
                }
            }
        })
    };
    let waited = wait_exited(pid);
    let exited_at = monotonic_ns();
    let (tree_hwm_bytes, tree_pss_bytes) = sampler.map(TreeSampler::stop).unzip();
    drop(stop);
    let _ = watchdog.join();
    let timed_out = timed_out.load(Ordering::SeqCst);
    if timed_out && group && waited.is_ok() {
        // What is left of a timed-out group once its leader is gone.
        // SAFETY: `pid` has exited but is not reaped yet.
        unsafe { signal(pid, true, libc::SIGKILL) };
    }
    let reaped = waited.and_then(|()| reap(pid));
    // When not waitable any more, nothing is left to reap or kill.
    let (status, rusage) = reaped.with_context(|| format!("cannot wait for {program}"))?;
    let stdout = stdout.recv_timeout(PIPE_GRACE).unwrap_or_default();
    let stderr = stderr.recv_timeout(PIPE_GRACE).unwrap_or_default();
    Ok(Launched {
        spawned_at_ns,
        to_ready_ns: stdout.ready_at.map(|t| t.saturating_sub(spawned_at_ns)),
        to_exit_ns: exited_at.saturating_sub(spawned_at_ns),
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        timed_out,
        killed: killed.load(Ordering::SeqCst),
        stdout: stdout.text,
        stdout_dropped: stdout.dropped,
        stderr: tail(&stderr.text, STDERR_KEEP),
        stderr_dropped: stderr.dropped,
        max_rss_bytes: u64::try_from(rusage.ru_maxrss).unwrap_or(0) * 1024,
        tree_hwm_bytes,
        tree_pss_bytes,
    })
}

/// Blocks until `pid` has exited, leaving it unreaped.
fn wait_exited(pid: libc::pid_t) -> std::io::Result<()> {
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value for waitid to fill.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes into the valid `info`; WNOWAIT leaves the
        // child waitable.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Reaps `pid`: its wait status and resource usage.
fn reap(pid: libc::pid_t) -> std::io::Result<(libc::c_int, libc::rusage)> {
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes into the valid `status` and `usage`.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The last `max` bytes of `s`, cut at a character boundary.
fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmlab_workload::tail::DEFAULT_CAP;

    #[test]
    fn times_a_ready_line_and_the_exit() {
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo '{\"vmlab\":\"ready\"}'; sleep 0.05; echo x >&2; exit 3",
        ]);
        let l = launch(&mut cmd, Duration::from_secs(20)).unwrap();
        let ready = l.to_ready_ns.expect("the ready line was seen");
        assert!(ready <= l.to_exit_ns, "{l:?}");
        assert_eq!(l.code, Some(3));
        assert!(!l.timed_out);
        assert!(l.max_rss_bytes > 0);
        assert_eq!(l.stderr, "x\n");
        assert_eq!(l.vmlab_lines().len(), 1);
        assert_eq!((l.tree_hwm_bytes, l.tree_pss_bytes), (None, None));
    }

    #[test]
    fn stops_after_the_timeout() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let l = launch(&mut cmd, Duration::from_millis(100)).unwrap();
        assert!(l.timed_out && !l.killed, "{l:?}");
        assert_eq!(l.signal, Some(libc::SIGTERM));
        assert_eq!(l.to_ready_ns, None);
        assert!(l.describe(Duration::from_millis(100)).contains("timeout"));
    }

    fn quick(own_group: bool) -> Options {
        Options {
            timeout: Duration::from_millis(200),
            grace: Duration::from_millis(700),
            own_group,
            ..Options::vmlab_run(Duration::ZERO, false)
        }
    }

    #[test]
    fn a_timeout_asks_with_sigterm_first() {
        // Like `vmlab run`: tears down on TERM (here: writes a file, exits 7).
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("torn-down");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("trap 'kill $!; echo bye > \"$0\"; exit 7' TERM; sleep 30 >/dev/null 2>&1 & wait")
            .arg(&done);
        let l = launch_opts(&mut cmd, quick(false)).unwrap();
        assert!(l.timed_out && !l.killed, "{l:?}");
        assert_eq!((l.code, l.signal), (Some(7), None));
        assert_eq!(std::fs::read_to_string(&done).unwrap(), "bye\n");
        assert!(l.describe(Duration::from_millis(200)).contains("(SIGTERM)"));
    }

    /// Whether process `pid` is gone (or a zombie, waiting for init).
    fn gone(pid: i32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.is_empty()
            || stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
    }

    #[test]
    fn what_ignores_sigterm_is_killed_after_the_grace_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let mut cmd = Command::new("sh");
        // A member of its group that ignores TERM too, and outlives it.
        cmd.arg("-c")
            .arg("trap '' TERM; sleep 30 >/dev/null 2>&1 & echo $! > \"$0\"; wait")
            .arg(&pidfile);
        let started = std::time::Instant::now();
        let l = launch_opts(&mut cmd, quick(true)).unwrap();
        let took = started.elapsed();
        assert!(l.timed_out && l.killed, "{l:?}");
        assert_eq!(l.signal, Some(libc::SIGKILL));
        assert!(
            took >= Duration::from_millis(900),
            "the grace was given: {took:?}"
        );
        assert!(l
            .describe(Duration::from_millis(200))
            .contains("SIGTERM, then SIGKILL"));
        let member: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while !gone(member) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(gone(member), "the group member {member} was killed too");
    }

    #[test]
    fn peers_get_a_group_of_their_own() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "awk '{print $5}' /proc/$$/stat; echo $$"]);
        let l = launch(&mut cmd, Duration::from_secs(20)).unwrap();
        let v: Vec<&str> = l.stdout.split_whitespace().collect();
        assert_eq!(v.len(), 2, "{l:?}");
        assert_eq!(v[0], v[1], "pgid == pid");
    }

    #[test]
    fn a_flooding_child_costs_a_bounded_amount() {
        // 8 MiB on stdout and stderr, without a newline.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "head -c 8388608 /dev/zero | tr '\\0' x; head -c 8388608 /dev/zero >&2",
        ]);
        let l = launch(&mut cmd, Duration::from_secs(60)).unwrap();
        assert_eq!(l.code, Some(0), "{l:?}");
        assert_eq!(l.stdout.len(), DEFAULT_CAP);
        assert_eq!(l.stdout_dropped, (8 << 20) - DEFAULT_CAP as u64);
        assert_eq!(l.stderr.len(), STDERR_KEEP);
        assert_eq!(l.stderr_dropped, (8 << 20) - DEFAULT_CAP as u64);
    }

    #[test]
    fn a_missing_program_is_named() {
        let mut cmd = Command::new("/nonexistent/vmlab-no-such-launcher");
        let e = launch(&mut cmd, Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("vmlab-no-such-launcher"));
    }

    #[test]
    fn tail_cuts_at_a_char_boundary() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("abcdef", 3), "def");
    }
}
