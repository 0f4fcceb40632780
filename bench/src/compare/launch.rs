//! Spawning one launcher process and timing it from the outside: the spawn
//! is the origin, the workload's `{"vmlab":"ready"}` line on the piped
//! stdout is "ready", the reap is "exit". The peak RSS comes from `wait4`,
//! which reports the largest of the process and its reaped descendants.
//!
//! The process is waited for with `waitid(WNOWAIT)` first, so a watchdog
//! that signals it on timeout can never hit a recycled pid: the pid stays a
//! zombie until the watchdog has been stopped, and only then is it reaped.
//! On timeout the watchdog asks first (SIGTERM: `vmlab run` then tears its
//! sandbox or VM down, cgroups included) and kills (SIGKILL) only when the
//! process is still there [`KILL_GRACE`] later. Peers run in a process
//! group of their own, and the whole group is signalled.
//!
//! What the process writes is bounded: `vmlab run --json` output up to
//! [`JSON_CAP`] (more is counted and reported as an error), a console or
//! stderr as a [`Tail`] of its last [`DEFAULT_CAP`] bytes, with the bytes
//! dropped before them counted in [`Launched`].
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::Context;
use vmlab_workload::protocol::LINE_PREFIX;
use vmlab_workload::tail::{Tail, DEFAULT_CAP};

/// Most bytes of stderr kept for error messages.
const STDERR_KEEP: usize = 4096;

/// How long to wait for the pipes to close once the process is reaped (a
/// container left running by a killed runtime may still hold them).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// How long a timed-out process has between SIGTERM and SIGKILL: enough
/// for `vmlab run` to tear down its sandbox or VM and remove its cgroups.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// Most bytes of `vmlab run --json` output kept (the report is a few kB;
/// more means something else writes there).
pub const JSON_CAP: usize = 4 << 20;

/// The ready line the workload prints.
const READY: &[u8] = b"{\"vmlab\":\"ready\"}";

/// What the launcher's stdout is, and so what of it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// One JSON report (`vmlab run --json`): the first `cap` bytes are
    /// kept; more is counted in `Launched::stdout_dropped`.
    Json {
        /// Most bytes kept.
        cap: usize,
    },
    /// A console (the peers'): the last `cap` bytes are kept.
    Console {
        /// Most bytes kept.
        cap: usize,
    },
}

/// How to launch and watch one process.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// When the watchdog sends SIGTERM.
    pub timeout: Duration,
    /// How long after the SIGTERM it sends SIGKILL.
    pub grace: Duration,
    /// Sample the process tree's memory (costs CPU).
    pub sample_memory: bool,
    /// What of stdout is kept.
    pub stdout: Stdout,
    /// Start the process in a process group of its own and signal the
    /// whole group.
    pub own_group: bool,
}

impl Options {
    /// A peer's launch: a console on stdout, in its own process group.
    pub fn peer(timeout: Duration, sample_memory: bool) -> Options {
        Options {
            timeout,
            grace: KILL_GRACE,
            sample_memory,
            stdout: Stdout::Console { cap: DEFAULT_CAP },
            own_group: true,
        }
    }

    /// A `vmlab run --json` launch: a JSON report on stdout; the process
    /// alone is signalled (it tears down what it started on SIGTERM).
    pub fn vmlab_run(timeout: Duration, sample_memory: bool) -> Options {
        Options {
            stdout: Stdout::Json { cap: JSON_CAP },
            own_group: false,
            ..Options::peer(timeout, sample_memory)
        }
    }
}

/// What one launch measured.
#[derive(Debug, Clone, Default)]
pub struct Launched {
    /// CLOCK_MONOTONIC just before the spawn, ns.
    pub spawned_at_ns: u64,
    /// Spawn to the ready line, ns (None when it never came).
    pub to_ready_ns: Option<u64>,
    /// Spawn to reaped, ns.
    pub to_exit_ns: u64,
    /// Exit code, or None when killed by a signal.
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Stopped by the watchdog (SIGTERM on timeout).
    pub timed_out: bool,
    /// Still there after the grace, so SIGKILLed by the watchdog.
    pub killed: bool,
    /// Stdout as kept (see [`Stdout`]).
    pub stdout: String,
    /// Bytes of stdout not kept.
    pub stdout_dropped: u64,
    /// The end of stderr.
    pub stderr: String,
    /// Bytes of stderr before the last [`DEFAULT_CAP`] it kept (of which
    /// `stderr` holds the end).
    pub stderr_dropped: u64,
    /// `ru_maxrss` from wait4, bytes: the largest of the process and its
    /// reaped descendants, but never below what the spawning process (this
    /// one) had resident when the child was exec'd, so only meaningful for
    /// big launchers.
    pub max_rss_bytes: u64,
    /// Sum over the process tree of each process's peak RSS (VmHWM),
    /// sampled while it ran (every ms at first, then every 20 ms); when asked for.
    pub tree_hwm_bytes: Option<u64>,
    /// The largest sum over the process tree of the processes' PSS seen in
    /// one sample (shared pages divided among their sharers); when asked for.
    pub tree_pss_bytes: Option<u64>,
}

impl Launched {
    /// The workload's JSON lines (`{"vmlab":...}`) from stdout, wherever
    /// they start on a line (a serial console may prefix them).
    pub fn vmlab_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter_map(|l| l.find(LINE_PREFIX).map(|i| l[i..].trim_end()))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// "exit code 3", "signal 9", "timed out after ...": for messages.
    pub fn describe(&self, timeout: Duration) -> String {
        let how = if self.timed_out {
            let how = if self.killed {
                "SIGTERM, then SIGKILL"
            } else {
                "SIGTERM"
            };
            format!(
                "was stopped after the {:.0} s timeout ({how})",
                timeout.as_secs_f64()
            )
        } else if let Some(s) = self.signal {
            format!("was killed by signal {s}")
        } else {
            format!("exited with code {}", self.code.unwrap_or(-1))
        };
        let err = self.stderr.trim();
        if err.is_empty() {
            how
        } else {
            let last: Vec<&str> = err.lines().rev().take(3).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            format!("{how}: {}", last.join(" | "))
        }
    }
}

/// CLOCK_MONOTONIC now, ns (one definition, the sandbox's).
pub use vmlab_sandbox::sys::monotonic_ns;

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

/// What a reader kept of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    /// The bytes kept (lossy UTF-8).
    pub text: String,
    /// Bytes read but not kept.
    pub dropped: u64,
    /// CLOCK_MONOTONIC when the ready line was first seen, ns.
    pub ready_at: Option<u64>,
}

/// Reads `r` to its end, keeping what `keep` says (a bounded amount,
/// whatever is written) and noting when [`READY`] first shows up.
pub fn read_bounded(mut r: impl Read, keep: Stdout) -> Kept {
    enum Store {
        Head(Vec<u8>, usize),
        Tail(Tail<Box<[u8]>>),
    }
    let mut store = match keep {
        Stdout::Json { cap } => Store::Head(Vec::new(), cap),
        Stdout::Console { cap } => Store::Tail(Tail::new(vec![0u8; cap].into_boxed_slice())),
    };
    let mut dropped = 0u64;
    let mut ready_at = None;
    let mut buf = vec![0u8; 64 << 10];
    // The end of the previous read, so a ready line split across reads is seen.
    let mut carry: Vec<u8> = Vec::with_capacity(2 * READY.len());
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buf[..n];
        if ready_at.is_none() {
            let keep = READY.len() - 1;
            carry.extend_from_slice(&chunk[..n.min(keep)]);
            let seen = contains(&carry, READY) || contains(chunk, READY);
            // The last `keep` bytes of everything read so far.
            if n >= keep {
                carry.clear();
                carry.extend_from_slice(&chunk[n - keep..]);
            } else {
                carry.drain(..carry.len().saturating_sub(keep));
            }
            if seen {
                ready_at = Some(monotonic_ns());
            }
        }
        match &mut store {
            Store::Head(v, cap) => {
                let room = cap.saturating_sub(v.len()).min(n);
                v.extend_from_slice(&chunk[..room]);
                dropped += (n - room) as u64;
            }
            Store::Tail(t) => t.push(chunk),
        }
    }
    let (text, dropped) = match store {
        Store::Head(v, _) => (String::from_utf8_lossy(&v).into_owned(), dropped),
        Store::Tail(t) => (
            String::from_utf8_lossy(&t.chunks().concat()).into_owned(),
            t.dropped(),
        ),
    };
    Kept {
        text,
        dropped,
        ready_at,
    }
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

type Output = mpsc::Receiver<Kept>;

/// Threads reading stdout (noting when the ready line arrives) and stderr,
/// each keeping a bounded amount.
fn readers(child: &mut Child, keep: Stdout) -> (Output, Output) {
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            let _ = out_tx.send(read_bounded(out, keep));
        });
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            let _ = err_tx.send(read_bounded(err, Stdout::Console { cap: DEFAULT_CAP }));
        });
    }
    (out_rx, err_rx)
}

/// A thread reading VmHWM and PSS of a process and its descendants until
/// stopped.
struct TreeSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u64)>,
}

impl TreeSampler {
    fn start(root: libc::pid_t) -> TreeSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut peaks = std::collections::HashMap::<i32, u64>::new();
            let mut pss_peak = 0;
            let started = std::time::Instant::now();
            while !flag.load(Ordering::SeqCst) {
                let mut pss = 0;
                for m in tree_memory(root) {
                    let peak = peaks.entry(m.pid).or_default();
                    *peak = (*peak).max(m.hwm_kb);
                    pss += m.pss_kb;
                }
                pss_peak = pss_peak.max(pss);
                std::thread::sleep(sample_interval(started.elapsed()));
            }
            (peaks.values().sum::<u64>() * 1024, pss_peak * 1024)
        });
        TreeSampler { stop, thread }
    }

    /// Stops sampling; the summed VmHWM peaks and the peak summed PSS, bytes.
    fn stop(self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or((0, 0))
    }
}

/// How long the sampler sleeps `elapsed` into a run: every millisecond at
/// first (short boots), then every 20 ms. Reading smaps walks the address
/// space under the process's mmap lock; sampled every millisecond for
/// seconds, that slows an emulated VM so much its guest kernel stalls.
fn sample_interval(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_millis(100) {
        Duration::from_millis(1)
    } else {
        Duration::from_millis(20)
    }
}

/// Memory of one process, from /proc.
#[derive(Debug, Clone, Copy)]
struct ProcMemory {
    pid: i32,
    /// Peak RSS (VmHWM), kB.
    hwm_kb: u64,
    /// Proportional set size now, kB.
    pss_kb: u64,
}

/// The value of `key` (e.g. `VmHWM:`) in /proc's "key   123 kB" text.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Memory of `root` and every descendant alive now (processes that are
/// gone or are zombies are left out).
fn tree_memory(root: libc::pid_t) -> Vec<ProcMemory> {
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        if let Some(hwm_kb) = kb_field(&status, "VmHWM:") {
            let rollup =
                std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
            out.push(ProcMemory {
                pid,
                hwm_kb,
                pss_kb: kb_field(&rollup, "Pss:").unwrap_or(0),
            });
        }
        let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
        for task in tasks.into_iter().flatten().flatten() {
            let children =
                std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            todo.extend(
                children
                    .split_whitespace()
                    .filter_map(|c| c.parse::<i32>().ok()),
            );
        }
    }
    out
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
    fn samples_the_memory_of_a_process_tree() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 0.2 & sleep 0.2; wait"]);
        let l = launch_with(&mut cmd, Duration::from_secs(20), true).unwrap();
        let own = tree_memory(std::process::id() as i32);
        assert!(
            !own.is_empty() && own[0].hwm_kb > 0 && own[0].pss_kb > 0,
            "{own:?}"
        );
        // sh and two sleeps: more than nothing, less than a gigabyte.
        let bytes = l.tree_hwm_bytes.unwrap();
        assert!(bytes > 0 && bytes < 1 << 30, "{bytes}");
        let pss = l.tree_pss_bytes.unwrap();
        assert!(pss > 0 && pss <= bytes, "{pss} > {bytes}");
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
    fn a_console_keeps_its_tail_and_counts_the_rest() {
        let flood = vec![b'x'; 100_000];
        let mut input = b"boot {\"vmlab\":\"ready\"}\n".to_vec();
        input.extend_from_slice(&flood);
        input.extend_from_slice(b"\nthe end\n");
        let k = read_bounded(&input[..], Stdout::Console { cap: 1000 });
        assert_eq!(k.text.len(), 1000);
        assert!(k.text.ends_with("x\nthe end\n"), "{}", &k.text[990..]);
        assert_eq!(k.dropped, input.len() as u64 - 1000);
        assert!(k.ready_at.is_some());
        let small = read_bounded(&b"abc"[..], Stdout::Console { cap: 1000 });
        assert_eq!((small.text.as_str(), small.dropped), ("abc", 0));
        assert_eq!(small.ready_at, None);
    }

    #[test]
    fn json_keeps_its_head_and_counts_the_rest() {
        let input = vec![b'{'; 5000];
        let k = read_bounded(&input[..], Stdout::Json { cap: 4096 });
        assert_eq!((k.text.len(), k.dropped), (4096, 904));
        let k = read_bounded(&input[..4096], Stdout::Json { cap: 4096 });
        assert_eq!((k.text.len(), k.dropped), (4096, 0));
    }

    /// A reader that hands out its bytes a few at a time.
    struct Dribble<'a>(&'a [u8], usize);

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_ready_line_split_across_reads_is_seen() {
        let text = b"[ 0.1] x {\"vmlab\":\"ready\"}\r\n";
        for step in 1..text.len() {
            let k = read_bounded(Dribble(text, step), Stdout::Console { cap: 8 });
            assert!(k.ready_at.is_some(), "reads of {step}");
        }
        let k = read_bounded(Dribble(b"{\"vmlab\":\"rea", 3), Stdout::Console { cap: 8 });
        assert_eq!(k.ready_at, None);
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
    fn console_prefixes_are_tolerated() {
        let l = Launched {
            stdout: "[ 1.0] noise\n{\"vmlab\":\"ready\"}\r\nx {\"vmlab\":\"result\",\"kernel\":\"cpu\",\"ns_per_iter\":2.5}\n".into(),
            ..Launched::default()
        };
        let v = l.vmlab_lines();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1]["kernel"], "cpu");
    }

    #[test]
    fn tail_cuts_at_a_char_boundary() {
        assert_eq!(tail("abc", 10), "abc");
        assert_eq!(tail("aé", 1), "");
        assert_eq!(tail("abcdef", 3), "def");
    }
}
