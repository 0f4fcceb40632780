//! One held instance: started, ready, alive until released, killed when
//! dropped. [`Spawned`] is the out-of-process kind every backend uses
//! today: a launcher whose stdin releases the workload and whose stdout
//! carries its ready line.
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use vmlab_workload::protocol::READY_LINE;

/// Most bytes of a launcher's stdout read while waiting for ready, and of
/// its stderr kept for an error message.
const READ_CAP: usize = 64 << 10;

/// How long a released instance has to exit before it is killed.
pub const RELEASE_LIMIT: Duration = Duration::from_secs(20);

/// What a held instance is made of (a launcher process today; a VM held
/// in this process is another kind, see `vmm::held`).
pub trait Instance {
    /// The launcher's pid, if it is a process.
    fn pid(&self) -> Option<u32>;
    /// Whether it has exited by itself (before its release).
    fn exited(&mut self) -> bool;
    /// Tells it to exit (without waiting).
    fn let_go(&mut self);
    /// Waits for it to exit (killing it after `limit`); its exit code, or
    /// a message saying how it ended otherwise.
    fn reap(&mut self, limit: Duration) -> anyhow::Result<i32>;
    /// One that exited before its release: reaped, how it ended in words
    /// (`None` where the kind cannot tell).
    fn ended(&mut self) -> Option<String> {
        None
    }
}

/// A held instance of some backend.
pub struct Held<'a> {
    /// Spawn to ready, ns.
    pub to_ready_ns: u64,
    inner: Box<dyn Instance + 'a>,
}

impl<'a> Held<'a> {
    /// `inner`, ready after `to_ready_ns`.
    pub fn new(to_ready_ns: u64, inner: Box<dyn Instance + 'a>) -> Self {
        Held { to_ready_ns, inner }
    }
    /// The launcher's pid, if it is a process.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }
    /// Whether it exited before its release.
    pub fn exited(&mut self) -> bool {
        self.inner.exited()
    }
    /// One that exited: how it ended, where the kind can tell.
    pub fn ended(&mut self) -> Option<String> {
        self.inner.ended()
    }
    /// Releases it and waits for its exit code.
    pub fn release(mut self) -> anyhow::Result<i32> {
        self.inner.let_go();
        self.inner.reap(RELEASE_LIMIT)
    }
}

/// Releases every instance at once, then reaps each; the first error.
pub fn release_all(held: Vec<Held<'_>>) -> anyhow::Result<()> {
    let mut held = held;
    for h in &mut held {
        h.inner.let_go();
    }
    let mut first = None;
    for mut h in held {
        if let Err(e) = h.inner.reap(RELEASE_LIMIT) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Anything kept alive until a launcher has exited (a bundle directory, a
/// clean-up that runs when dropped).
pub trait Keep {}
impl<T> Keep for T {}

/// A spawned launcher, held by its stdin.
pub struct Spawned<'a> {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    reaped: bool,
    /// What outlives the launcher (a bundle, a `delete` to run after).
    keep: Option<Box<dyn Keep + 'a>>,
}

/// Makes `cmd` a held launcher: stdin, stdout and stderr piped, a process
/// group of its own (so a Ctrl-C at the terminal reaches the driver only,
/// which tears down in order), and SIGTERM when the driver dies (a
/// SIGKILLed driver leaves no instance behind: our launchers tear down on
/// SIGTERM; every held workload also sees its stdin close).
pub fn prepare(cmd: &mut Command) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: getpid is async-signal-safe and called before the fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (prctl, getppid, raise).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The driver may have died before the prctl.
            if libc::getppid() != parent {
                libc::raise(libc::SIGTERM);
            }
            Ok(())
        });
    }
}

impl<'a> Spawned<'a> {
    /// Spawns `cmd` (after [`prepare`]) and waits up to `limit` for the
    /// workload's ready line; `keep` is dropped after the launcher exited.
    /// On failure everything started is torn down.
    pub fn start(
        cmd: &mut Command,
        limit: Duration,
        keep: Option<Box<dyn Keep + 'a>>,
    ) -> anyhow::Result<Held<'a>> {
        prepare(cmd);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let t0 = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {program}"))?;
        let mut s = Spawned {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child,
            reaped: false,
            keep,
        };
        match s.wait_ready(t0, limit) {
            Ok(ns) => Ok(Held::new(ns, Box::new(s))),
            Err(why) => {
                s.let_go();
                let ended = s.reap(Duration::from_secs(2));
                let stderr = s.stderr_tail();
                let ended = match ended {
                    Ok(code) => format!("exited with code {code}"),
                    Err(e) => format!("{e:#}"),
                };
                anyhow::bail!("{program} {why} ({ended}){stderr}")
            }
        }
    }

    /// Reads stdout until the ready line; spawn to ready, ns.
    fn wait_ready(&mut self, t0: Instant, limit: Duration) -> Result<u64, String> {
        wait_for_ready(self.stdout.as_mut().expect("stdout is piped"), t0, limit)
    }

    /// The end of stderr, as `: text` (empty when there is none).
    fn stderr_tail(&mut self) -> String {
        let Some(err) = self.stderr.take() else {
            return String::new();
        };
        let mut v = Vec::new();
        let _ = err.take(READ_CAP as u64).read_to_end(&mut v);
        let text = String::from_utf8_lossy(&v);
        let text = text.trim();
        let start = text.len().saturating_sub(600);
        let start = (start..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(text.len());
        if text.is_empty() {
            String::new()
        } else {
            format!(": {}", &text[start..])
        }
    }

    fn signal(&self, sig: libc::c_int) {
        if !self.reaped {
            // SAFETY: the child is unreaped, so its pid (and its group,
            // which it leads) cannot name another process.
            unsafe { libc::kill(-(self.child.id() as libc::pid_t), sig) };
        }
    }
}

impl Instance for Spawned<'_> {
    fn pid(&self) -> Option<u32> {
        Some(self.child.id())
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn let_go(&mut self) {
        // A newline, then end of file: either releases a workload reading
        // a pipe, and the newline also one reading a terminal line (a
        // guest's serial console behind QEMU's `-serial stdio`, where the
        // end of QEMU's input does not reach the guest). A launcher that
        // is gone already cannot take it, which is fine.
        if let Some(mut stdin) = self.stdin.take() {
            let _ = std::io::Write::write_all(&mut stdin, b"\n");
        }
        // Nothing more is read: what the launcher still prints must not
        // block it.
        drop(self.stdout.take());
    }

    fn reap(&mut self, limit: Duration) -> anyhow::Result<i32> {
        if self.reaped {
            anyhow::bail!("already reaped");
        }
        let t0 = Instant::now();
        let mut termed = false;
        let status = loop {
            if let Some(st) = self
                .child
                .try_wait()
                .context("cannot wait for a launcher")?
            {
                break st;
            }
            if t0.elapsed() > limit && !termed {
                self.signal(libc::SIGTERM);
                termed = true;
            } else if t0.elapsed() > limit + Duration::from_secs(2) {
                self.signal(libc::SIGKILL);
                break self.child.wait().context("cannot wait for a launcher")?;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        self.reaped = true;
        drop(self.keep.take());
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) if !termed => Ok(c),
            (_, Some(s)) => anyhow::bail!("killed by signal {s}"),
            _ => anyhow::bail!(
                "did not exit within {:.0} s of its release",
                limit.as_secs_f64()
            ),
        }
    }
}

impl Drop for Spawned<'_> {
    fn drop(&mut self) {
        if !self.reaped {
            self.let_go();
            self.signal(libc::SIGTERM);
            let _ = self.reap(Duration::from_secs(3));
        }
    }
}

/// Reads `out` (at most [`READ_CAP`] bytes) until the workload's ready
/// line, for up to `limit` from `t0`; `t0` to ready, ns, or why not.
pub fn wait_for_ready(
    out: &mut (impl Read + AsRawFd),
    t0: Instant,
    limit: Duration,
) -> Result<u64, String> {
    let fd = out.as_raw_fd();
    let mut seen = Vec::with_capacity(256);
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(t0.elapsed());
        if left.is_zero() {
            return Err(format!("was not ready within {:.1} s", limit.as_secs_f64()));
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: poll reads and writes the one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r <= 0 {
            continue;
        }
        let n = match out.read(&mut buf) {
            Ok(0) => return Err("ended its output before the ready line".into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("output could not be read: {e}")),
        };
        seen.extend_from_slice(&buf[..n]);
        if contains(&seen, READY_LINE.as_bytes()) {
            return Ok(t0.elapsed().as_nanos() as u64);
        }
        if seen.len() > READ_CAP {
            return Err(format!("printed {READ_CAP} bytes without the ready line"));
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    #[test]
    fn holds_until_released_and_returns_the_exit_code() {
        let mut c = sh("echo '{\"vmlab\":\"ready\"}'; read x; exit 7");
        let mut h = Spawned::start(&mut c, Duration::from_secs(10), None).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(!h.exited(), "it waits for its release");
        assert_eq!(h.release().unwrap(), 7);
    }

    #[test]
    fn no_ready_line_is_an_error_with_stderr() {
        let mut c = sh("echo broken >&2; exit 3");
        let e = Spawned::start(&mut c, Duration::from_secs(10), None)
            .err()
            .unwrap();
        let e = format!("{e:#}");
        assert!(
            e.contains("before the ready line") && e.contains("broken"),
            "{e}"
        );
    }

    #[test]
    fn a_slow_start_is_stopped_at_the_limit() {
        let mut c = sh("sleep 30");
        let t = Instant::now();
        let e = Spawned::start(&mut c, Duration::from_millis(200), None)
            .err()
            .unwrap();
        assert!(format!("{e}").contains("not ready within"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn dropping_kills_an_instance_that_ignores_its_release() {
        let mut c = sh("trap '' HUP; echo '{\"vmlab\":\"ready\"}'; exec sleep 60");
        let h = Spawned::start(&mut c, Duration::from_secs(10), None).unwrap();
        let pid = h.pid().unwrap() as i32;
        let t = Instant::now();
        drop(h);
        assert!(t.elapsed() < Duration::from_secs(10));
        // SAFETY: signal 0 only checks that the pid exists.
        assert_ne!(unsafe { libc::kill(pid, 0) }, 0, "{pid} is gone");
    }
}
