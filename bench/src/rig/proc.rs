//! Running an emulator (L1) so that nothing outlives the rig: its own
//! session and process group, killed with vmlab (parent-death signal), and
//! the whole group killed on timeout, on SIGINT/SIGTERM/SIGHUP (which then
//! end the rig with an error, so its scratch directory is removed), or when
//! the guard is dropped.
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{killpg, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

/// The signals that stop the rig early.
fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    set
}

/// Stop signals, received as data instead of killing vmlab outright.
pub struct Stop(SignalFd);

impl Stop {
    /// Blocks the stop signals in this thread (and the threads it starts
    /// later) and opens a descriptor to read them from. Call it before the
    /// rig starts any thread.
    pub fn install() -> anyhow::Result<Stop> {
        let set = stop_signals();
        set.thread_block()
            .context("cannot block SIGINT/SIGTERM for the rig")?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .context("cannot open a signalfd for the rig")?;
        Ok(Stop(fd))
    }

    /// A stop signal that has arrived, if any.
    fn pending(&self) -> Option<Signal> {
        let info = self.0.read_signal().ok()??;
        Signal::try_from(info.ssi_signo as i32).ok()
    }
}

/// What an emulator boots as L1, and for how long.
pub struct L1<'a> {
    /// The guest kernel (bzImage).
    pub kernel: &'a Path,
    /// L1's initramfs.
    pub initramfs: &'a Path,
    /// The kernel command line.
    pub append: &'a str,
    /// The scratch directory: the emulator's files and L1's logs.
    pub dir: &'a Path,
    /// L1's memory.
    pub mem_mib: u64,
    /// The emulator is killed after this long.
    pub timeout: Duration,
    /// Stop signals end the run early.
    pub stop: &'a Stop,
}

/// How L1 ended.
#[derive(Debug)]
pub struct L1Exit {
    pub wall: Duration,
    pub timed_out: bool,
    /// The emulator's exit status (None when it was killed on timeout).
    pub status: Option<ExitStatus>,
}

/// A running emulator; dropping it kills its process group.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            if let Ok(pid) = i32::try_from(self.0.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
        let _ = self.0.wait();
    }
}

/// Starts `cmd` in a new session and runs it for at most `timeout`, or
/// until a stop signal arrives (an error). `missing` is the message when
/// the program is not installed.
pub fn run(
    mut cmd: Command,
    missing: &str,
    timeout: Duration,
    stop: &Stop,
) -> anyhow::Result<L1Exit> {
    let unblock = stop_signals();
    // SAFETY: the closure runs in the forked child before exec and calls only
    // setsid, prctl and sigprocmask, all async-signal-safe; it reads the
    // signal set built before the fork and touches no other shared state.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&unblock), None)?;
            Ok(())
        });
    }
    let program = cmd.get_program().to_string_lossy().into_owned();
    let start = Instant::now();
    let child = cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("{missing}"),
        _ => anyhow::Error::new(e).context(format!("cannot start {program}")),
    })?;
    drop(cmd);
    let mut group = Group(child);
    loop {
        if let Some(status) = group.0.try_wait().context("waiting for the emulator")? {
            return Ok(L1Exit {
                wall: start.elapsed(),
                timed_out: false,
                status: Some(status),
            });
        }
        if let Some(signal) = stop.pending() {
            drop(group);
            bail!("stopped by {signal}: L1 was killed");
        }
        if start.elapsed() > timeout {
            drop(group);
            return Ok(L1Exit {
                wall: start.elapsed(),
                timed_out: true,
                status: None,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_outlives_the_timeout_is_killed_with_its_group() {
        let pidfile = tempfile::NamedTempFile::new().unwrap();
        let mut cmd = Command::new("sh");
        // The background sleep is a grandchild: only a group kill ends it.
        cmd.arg("-c").arg(format!(
            "sleep 30 & echo $! > {}; wait",
            pidfile.path().display()
        ));
        let stop = Stop::install().unwrap();
        let exit = run(cmd, "sh is missing", Duration::from_millis(500), &stop).unwrap();
        assert!(exit.timed_out && exit.status.is_none());
        assert!(exit.wall < Duration::from_secs(10));
        let pid: i32 = std::fs::read_to_string(pidfile.path())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let alive = nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z ");
        assert!(!alive, "the grandchild {pid} survived the timeout");
    }

    #[test]
    fn a_quick_command_reports_its_status_and_a_missing_one_its_message() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 1"]);
        let stop = Stop::install().unwrap();
        let exit = run(cmd, "x", Duration::from_secs(30), &stop).unwrap();
        assert!(!exit.timed_out);
        assert_eq!(exit.status.unwrap().code(), Some(1));
        let err = run(
            Command::new("/nonexistent/emulator"),
            "the emulator is not installed",
            Duration::from_secs(1),
            &stop,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "the emulator is not installed");
    }

    #[test]
    fn a_stop_signal_kills_the_emulator_and_is_an_error() {
        let stop = Stop::install().unwrap();
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        // Thread-directed: blocked here, so it waits in the signalfd.
        nix::sys::signal::raise(Signal::SIGTERM).unwrap();
        let start = Instant::now();
        let err = run(cmd, "sleep is missing", Duration::from_secs(30), &stop).unwrap_err();
        assert!(err.to_string().contains("SIGTERM"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(10));
        // Positive control: without a signal the same command runs to its timeout.
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let exit = run(cmd, "x", Duration::from_millis(300), &stop).unwrap();
        assert!(exit.timed_out);
    }
}
