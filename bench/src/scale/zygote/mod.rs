//! The `vm-bare` scale row: jailed held VMs from a fork server ("zygote").
//!
//! `vmlab run --backend vm-bare -- --hold` per instance (the `vm-bare-run`
//! row, [`run_row`]) pays for a fresh exec of `vmlab` and a launcher process
//! besides the jailed VMM. Here one small server process (`vmlab zygote`,
//! [`server`]) is started once per run, opens `/dev/kvm` once, and forks one
//! jailed VMM per instance with the very code of `vmlab run`'s (the VMM's
//! cgroup, the VM created in the child, setup, the jail, a hold gate):
//! one VMM process per VM, each with its own namespaces, empty root,
//! unprivileged ids, no capabilities and the seccomp filter. The children
//! share the server's pages copy-on-write, so each one costs what it
//! touches. The server is in a process group of its own, gets SIGTERM when
//! the driver dies (and sees its socket close), and kills its VMMs then;
//! each VMM gets SIGKILL when the server dies.
//!
//! Per instance the driver keeps the write end of the hold gate (a newline
//! then end of file releases the guest), the read end of the console (the
//! ready line) and of the report; the server reaps a VMM only when the
//! driver asks ([`wire`]), so the driver may signal its pid until then.
pub mod rows;
pub mod run_row;
pub mod server;
pub mod wire;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

use super::held::{self, Held, Instance};
use super::holders::{Holder, HOLD_ARGS, READY_LIMIT};
use wire::{Message, Received};

/// The row's name in results.
pub const NAME: &str = "vm-bare";

/// The hidden subcommand that runs the server.
pub const SUBCOMMAND: &str = "zygote";

/// Guest RAM of a held guest, MiB: the bare guest's minimum, as for
/// `vm-bare-inproc` and `vm-bare-run` (KVM's per-page slot metadata grows
/// with guest RAM, so held guests are kept small).
pub const MEM_MIB: u64 = super::inproc::MEM_MIB;

/// How long the server may take to be ready.
const START_LIMIT: Duration = Duration::from_secs(20);

/// The fork server and the socket to it.
pub struct Zygote {
    server: Child,
    /// `None` once closed (which stops the server).
    sock: Mutex<Option<OwnedFd>>,
}

impl Zygote {
    /// Starts `exe zygote` and waits for it to be ready (`/dev/kvm` open).
    /// Its parent-death signal follows the calling thread (the kernel's
    /// rule): start it on a thread that outlives it, such as the main one.
    pub fn start(exe: &Path) -> anyhow::Result<Zygote> {
        let (mine, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("cannot create the fork server's socket")?;
        let mut cmd = Command::new(exe);
        cmd.args([SUBCOMMAND, "--mem", &MEM_MIB.to_string(), "--"])
            .args(HOLD_ARGS);
        // A process group of its own, SIGTERM when this process dies.
        held::prepare(&mut cmd);
        cmd.stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let server = cmd
            .spawn()
            .with_context(|| format!("cannot start {} {SUBCOMMAND}", exe.display()))?;
        let z = Zygote {
            server,
            sock: Mutex::new(Some(mine)),
        };
        match z.ready() {
            Ok(()) => Ok(z),
            Err(e) => Err(e.context("the VM fork server did not start")),
        }
    }

    fn ready(&self) -> anyhow::Result<()> {
        let guard = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let sock = guard.as_ref().context("its socket is closed")?;
        let mut p = libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = START_LIMIT.as_millis() as i32;
        // SAFETY: poll reads and writes the one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, ms) } <= 0 {
            anyhow::bail!("not ready within {} s", START_LIMIT.as_secs());
        }
        match wire::recv(sock).context("cannot read from it")? {
            Received::Message(Some(Message::Ready), _) => Ok(()),
            Received::Message(Some(Message::Failed(why)), _) => anyhow::bail!("{why}"),
            Received::Message(other, _) => anyhow::bail!("it sent {other:?}"),
            Received::Closed => anyhow::bail!("it exited (see its message above)"),
        }
    }

    /// One request and its reply.
    fn ask(&self, m: &Message, fds: &[i32]) -> anyhow::Result<(Message, Vec<OwnedFd>)> {
        let guard = self.sock.lock().unwrap_or_else(|e| e.into_inner());
        let sock = guard.as_ref().context("the VM fork server was stopped")?;
        wire::send(sock, m, fds).context("cannot reach the VM fork server")?;
        loop {
            match wire::recv(sock) {
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e).context("cannot read the VM fork server's reply"),
                Ok(Received::Closed) => anyhow::bail!("the VM fork server is gone"),
                Ok(Received::Message(None, _)) => {
                    anyhow::bail!("the VM fork server sent a malformed reply")
                }
                Ok(Received::Message(Some(Message::Failed(why)), _)) => anyhow::bail!("{why}"),
                Ok(Received::Message(Some(m), fds)) => return Ok((m, fds)),
            }
        }
    }

    /// Reaps VMM `pid`: its raw wait status.
    fn wait(&self, pid: i32) -> anyhow::Result<i32> {
        match self.ask(&Message::Wait(pid), &[])? {
            (Message::Status(s), _) => Ok(s),
            (other, _) => anyhow::bail!("the VM fork server answered {other:?} to a wait"),
        }
    }
}

impl Drop for Zygote {
    fn drop(&mut self) {
        // Its socket closing stops it (it kills what it still holds).
        drop(
            self.sock
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let t = Instant::now();
        while matches!(self.server.try_wait(), Ok(None)) {
            if t.elapsed() > held::RELEASE_LIMIT {
                let _ = self.server.kill();
                let _ = self.server.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Holder for Zygote {
    fn name(&self) -> &str {
        NAME
    }

    fn start_held(&self) -> anyhow::Result<Held<'_>> {
        let cloexec = nix::fcntl::OFlag::O_CLOEXEC;
        let (hold_r, hold_w) = nix::unistd::pipe2(cloexec).context("cannot create a pipe")?;
        let (out_r, out_w) = nix::unistd::pipe2(cloexec).context("cannot create a pipe")?;
        let t0 = Instant::now();
        let (m, mut fds) = self
            .ask(&Message::Start, &[hold_r.as_raw_fd(), out_w.as_raw_fd()])
            .context("the VM fork server could not start a VM")?;
        drop((hold_r, out_w));
        let (Message::Pid(pid), Some(report)) = (m.clone(), fds.pop()) else {
            anyhow::bail!("the VM fork server answered {m:?} to a start");
        };
        let mut vm = Forked {
            z: self,
            pid,
            t0,
            hold: Some(File::from(hold_w)),
            console: Some(File::from(out_r)),
            report: Some(File::from(report)),
            reaped: false,
        };
        let console = vm.console.as_mut().expect("just set");
        match held::wait_for_ready(console, t0, READY_LIMIT) {
            Ok(ns) => Ok(Held::new(ns, Box::new(vm))),
            Err(why) => {
                // SAFETY: kill sends a signal; the server has not reaped
                // `pid` (only this instance asks it to), so it names the VMM.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                let ended = match vm.reap(Duration::from_secs(2)) {
                    Ok(code) => format!("its guest exited with code {code}"),
                    Err(e) => format!("{e:#}"),
                };
                anyhow::bail!("the jailed VMM {pid} {why} ({ended})")
            }
        }
    }
}

/// One jailed VMM from the server, held by its gate.
struct Forked<'a> {
    z: &'a Zygote,
    pid: i32,
    t0: Instant,
    hold: Option<File>,
    console: Option<File>,
    report: Option<File>,
    reaped: bool,
}

impl Forked<'_> {
    fn kill(&self) {
        if !self.reaped {
            // SAFETY: kill sends a signal; `pid` is unreaped (the server
            // reaps it only when `reap` asks), so it names the VMM.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }

    /// Reads the report to its end, killing the VMM after `limit`; the
    /// bytes (`None`: unreadable) and whether it was killed.
    fn read_report(&mut self, limit: Duration) -> (Option<Vec<u8>>, bool) {
        let Some(mut file) = self.report.take() else {
            return (None, false);
        };
        let t0 = Instant::now();
        let mut killed = false;
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let left = limit.saturating_sub(t0.elapsed());
            if left.is_zero() && !killed {
                self.kill();
                killed = true;
            }
            let ms = if killed {
                2000
            } else {
                left.as_millis().clamp(1, 60_000) as i32
            };
            if !readable(&file, ms) {
                if killed {
                    return (None, true);
                }
                continue;
            }
            match file.read(&mut buf) {
                Ok(0) => return (Some(bytes), killed),
                Ok(n) if bytes.len() + n <= vmlab_vmm::jailed::MAX_REPORT => {
                    bytes.extend_from_slice(&buf[..n])
                }
                // Too long to be a report: it fails to decode.
                Ok(_) => return (Some(bytes), killed),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return (None, killed),
            }
        }
    }
}

fn readable(f: &File, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd: f.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll reads and writes the one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

impl Instance for Forked<'_> {
    fn pid(&self) -> Option<u32> {
        u32::try_from(self.pid).ok()
    }

    fn exited(&mut self) -> bool {
        // The report is written, and its pipe closed, only at the end.
        self.report.as_ref().is_none_or(|f| readable(f, 0))
    }

    fn let_go(&mut self) {
        if let Some(mut hold) = self.hold.take() {
            let _ = hold.write_all(b"\n");
        }
        drop(self.console.take());
    }

    fn reap(&mut self, limit: Duration) -> anyhow::Result<i32> {
        if self.reaped {
            anyhow::bail!("already reaped");
        }
        let (report, killed) = self.read_report(limit);
        if report.is_none() {
            self.kill();
        }
        let status = self.z.wait(self.pid);
        self.reaped = true;
        let status = status?;
        if killed {
            anyhow::bail!(
                "the jailed VMM {} did not exit within {:.0} s of its release",
                self.pid,
                limit.as_secs_f64()
            );
        }
        let outcome = vmlab_vmm::jailed::conclude(self.pid, report.as_deref(), status, self.t0)
            .with_context(|| format!("the jailed VMM {} failed", self.pid))?;
        Ok(i32::from(outcome.exit_code))
    }
}

impl Drop for Forked<'_> {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            self.reaped = true;
            let _ = self.z.wait(self.pid);
        }
    }
}
