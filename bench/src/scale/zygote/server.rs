//! The fork server's side: `vmlab zygote` (hidden), started by the scale
//! driver with its socket as stdin. A fresh exec, so single-threaded (it
//! checks), it opens `/dev/kvm` once and then, per start request, makes the
//! VMM's cgroup and forks one jailed VMM with `vmlab_vmm::JailedVm::start`
//! (the child code `vmlab run --backend vm-bare` runs), its console on the
//! client's pipe and its hold gate the client's pipe. It reaps a VMM only
//! when the client asks (so the client may signal the pid until then: an
//! unreaped pid is never reused), then removes its cgroup. When the client
//! closes its end, or on SIGTERM (its parent-death signal) or SIGINT, it
//! kills and reaps every VMM it started and removes their cgroups; each VMM
//! also gets SIGKILL if the server dies first.
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use vmlab_sandbox::cgroup::Cgroup;
use vmlab_vmm::{HoldGate, Host, JailedVm, VmConfig};

use super::wire::{self, Message, Received};
use crate::vmm_cgroup;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// What every VMM the server starts boots.
pub struct Guest {
    /// Guest RAM, MiB.
    pub mem_mib: u64,
    /// The workload's arguments (space separated).
    pub args: String,
    /// The boot's timeout (held time included).
    pub timeout: Duration,
}

/// The server's state: `/dev/kvm`, what to boot, the VMMs not reaped yet.
struct Server {
    host: Host,
    guest: Guest,
    devnull: OwnedFd,
    live: BTreeMap<i32, Option<Cgroup>>,
}

/// Serves the client on `sock` until it closes its end or a signal stops
/// the server; every VMM started is gone when it returns.
pub fn serve(sock: OwnedFd, guest: Guest) -> anyhow::Result<()> {
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:").map(|t| t.trim().to_string()))
        });
    if threads.as_deref() != Some("1") {
        anyhow::bail!("the VM fork server must be single-threaded (it has {threads:?} threads)");
    }
    install_handlers()?;
    no_fastbins();
    let host = match open() {
        Ok(h) => h,
        Err(e) => {
            let _ = wire::send(&sock, &Message::Failed(format!("{e:#}")), &[]);
            return Err(e);
        }
    };
    let devnull: OwnedFd = std::fs::File::open("/dev/null")
        .context("cannot open /dev/null")?
        .into();
    // Stdin and stdout become /dev/null: the VMMs inherit fds 0 to 2.
    redirect(devnull.as_raw_fd(), 0)?;
    redirect(devnull.as_raw_fd(), 1)?;
    let mut server = Server {
        host,
        guest,
        devnull,
        live: BTreeMap::new(),
    };
    let result = server.run(&sock);
    server.kill_all();
    result
}

fn open() -> anyhow::Result<Host> {
    let host = Host::open().context("cannot open /dev/kvm for the VM fork server")?;
    vmlab_vmm::held::raise_fd_limit(0).context("cannot raise the open-file limit")?;
    Ok(host)
}

/// Turns malloc's fastbins off in the server. Every VMM shares the
/// server's heap copy-on-write from its fork; with fastbins, the
/// consolidation that a larger allocation or free triggers walks and
/// rewrites free chunks all over the heap, so each later start (in the
/// server, and in the VMM while it sets up) copies pages the VMMs forked
/// before still share, and a held VMM ends up owning a private copy of
/// most of the server's heap, which grows with the VMMs it tracks
/// (measured: 276 kB private heap in a new VMM with 300 held; 60 kB
/// without fastbins). Without them freed chunks are coalesced where
/// they lie. Best effort: a refusal costs memory, not correctness.
fn no_fastbins() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes the allocator's tuning; it is called
    // before any other thread exists (checked above) and while no
    // allocation is in progress.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
    }
}

fn install_handlers() -> anyhow::Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    // No SA_RESTART: a signal ends the blocking receive with EINTR.
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { sigaction(sig, &act) }.with_context(|| format!("cannot catch {sig}"))?;
    }
    Ok(())
}

/// Makes fd `to` (0 or 1) a duplicate of `fd`.
fn redirect(fd: RawFd, to: RawFd) -> anyhow::Result<()> {
    // SAFETY: dup2 only replaces fd 0 or 1, which no Rust object here owns
    // (the server never reads stdin, once its socket moved away, nor
    // writes to stdout; its children inherit fd 1 as their console).
    if unsafe { libc::dup2(fd, to) } < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("cannot redirect fd {to}"));
    }
    Ok(())
}

/// Waits for `pid` (a child of this process); its raw wait status.
fn reap(pid: i32) -> std::io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid writes the status into the one valid int.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(status);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Server {
    fn run(&mut self, sock: &OwnedFd) -> anyhow::Result<()> {
        wire::send(sock, &Message::Ready, &[]).context("cannot reach the scale driver")?;
        loop {
            if STOP.load(Ordering::SeqCst) {
                return Ok(());
            }
            let (m, fds) = match wire::recv(sock) {
                Err(nix::Error::EINTR) => continue,
                Err(e) => return Err(e).context("cannot read the scale driver's request"),
                Ok(Received::Closed) => return Ok(()),
                Ok(Received::Message(m, fds)) => (m, fds),
            };
            let sent = match (m, fds.len()) {
                (Some(Message::Start), 2) => {
                    let mut fds = fds.into_iter();
                    let (hold, console) = (fds.next().unwrap(), fds.next().unwrap());
                    match self.start(hold, console) {
                        Ok((pid, report)) => {
                            wire::send(sock, &Message::Pid(pid), &[report.as_raw_fd()])
                        }
                        Err(e) => wire::send(sock, &Message::Failed(format!("{e:#}")), &[]),
                    }
                }
                (Some(Message::Wait(pid)), 0) => {
                    let reply = match self.wait(pid) {
                        Ok(status) => Message::Status(status),
                        Err(e) => Message::Failed(format!("{e:#}")),
                    };
                    wire::send(sock, &reply, &[])
                }
                (m, n) => wire::send(
                    sock,
                    &Message::Failed(format!("malformed request {m:?} with {n} fds")),
                    &[],
                ),
            };
            sent.context("cannot answer the scale driver")?;
        }
    }

    /// Starts one jailed VMM: its pid and its report's read end.
    fn start(&mut self, hold: OwnedFd, console: OwnedFd) -> anyhow::Result<(i32, OwnedFd)> {
        let (cgroup, _) = vmm_cgroup::create(self.guest.mem_mib)?;
        let mut config = VmConfig::bare(
            vmlab_images::embedded::GUEST,
            &self.guest.args,
            self.guest.mem_mib,
            self.guest.timeout,
        );
        config.jail = true;
        config.hold = Some(HoldGate::new(hold));
        config.serial_stream = Some(Box::new(std::io::stdout()));
        config.cgroup_tasks = cgroup
            .as_ref()
            .map_or_else(Vec::new, vmm_cgroup::task_files);
        // The child inherits fd 1 as its console (its filter allows writes
        // to fd 1); the server's own fd 1 goes back to /dev/null at once.
        redirect(console.as_raw_fd(), 1)?;
        let started = JailedVm::start(&self.host, config);
        redirect(self.devnull.as_raw_fd(), 1)?;
        drop(console);
        match started {
            Ok(vm) => {
                let (pid, report) = vm.into_parts();
                self.live.insert(pid, cgroup);
                Ok((pid, report))
            }
            Err(e) => {
                if let Some(cg) = cgroup {
                    let _ = cg.remove();
                }
                Err(anyhow::Error::new(e).context("cannot start a jailed VMM"))
            }
        }
    }

    /// Reaps VMM `pid` and removes its cgroup: its raw wait status.
    fn wait(&mut self, pid: i32) -> anyhow::Result<i32> {
        let cgroup = self
            .live
            .remove(&pid)
            .with_context(|| format!("process {pid} is not a VMM this server started"))?;
        let status = reap(pid).with_context(|| format!("cannot wait for the VMM {pid}"))?;
        if let Some(cg) = cgroup {
            cg.remove()
                .context("cannot remove the jailed VMM's cgroup")?;
        }
        Ok(status)
    }

    /// Kills, reaps and un-cgroups every VMM not reaped yet.
    fn kill_all(&mut self) {
        for &pid in self.live.keys() {
            // SAFETY: kill sends a signal; `pid` is an unreaped child, so it
            // names no other process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for (pid, cgroup) in std::mem::take(&mut self.live) {
            let _ = reap(pid);
            if let Some(cg) = cgroup {
                let _ = cg.remove();
            }
        }
    }
}

/// `vmlab zygote`: serves on stdin (the socket the driver passed), moved
/// to a close-on-exec fd above 2 first.
pub fn main(guest: Guest) -> anyhow::Result<()> {
    // SAFETY: fcntl duplicates fd 0 (the driver's socket) and touches no
    // memory.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("cannot take the driver's socket");
    }
    // SAFETY: `fd` was just made by fcntl and is owned by nothing else.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    serve(sock, guest)
}
