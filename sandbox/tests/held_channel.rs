//! A held instance's protocol channel is a socket pair with the driver, and
//! its child end is also the workload's stdin (fd 0 and fd 3). A hostile
//! workload attacks it (the probe's `channel` mode): it sends the driver a
//! directory of its rootfs and the socket itself with `SCM_RIGHTS`, reads
//! who the driver is (`SO_PEERCRED`), and queues protocol garbage until the
//! socket is full. Root only (CI sets VMLAB_REQUIRE_ROOT=1).
//!
//! Controls: a receiver with room for control data does get the probe's
//! directory fd (so the attack is real where a driver is careless), and the
//! plain process does see the driver's pid (so the probe reads the peer).
mod common;

use std::collections::BTreeMap;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{json_lines, serial, HostState, Rootfs, PROBE};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use vmlab_sandbox::held::HeldSandbox;
use vmlab_sandbox::monitor::MAX_EVENTS;
use vmlab_sandbox::{Config, ExitStatus, Outcome};
use vmlab_test_util::have_root;
use vmlab_workload::protocol::Event;

const LIMIT: Duration = Duration::from_secs(20);
/// The probe's payload word (`CHANNEL_MARK` in src/probe/modes.rs).
const CHANNEL_MARK: u32 = 0x0000_0c4a;

/// This process's fds and what each is (but the listing's own).
fn fds() -> BTreeMap<RawFd, String> {
    let listing = format!("/proc/{}/fd", std::process::id());
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_string_lossy().parse().ok()?;
            let to = std::fs::read_link(e.path()).ok()?.display().to_string();
            (to != listing).then_some((fd, to))
        })
        .collect()
}

/// The probe's `channel` line.
fn channel_line(out: &Outcome) -> serde_json::Value {
    json_lines(&out.stdout)
        .into_iter()
        .find(|l| l["vmlab"] == "channel")
        .unwrap_or_else(|| panic!("no channel line: {out:?}"))
}

/// The control: the probe as a plain child whose stdin is a socket we
/// receive from with room for control data gets us its root directory.
fn careless_receiver_gets_a_directory() {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut child = Command::new(PROBE)
        .arg("channel")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::piped())
        .env_remove(vmlab_workload::protocol::FD_ENV)
        .spawn()
        .unwrap();
    let mut word = [0u8; 4];
    let mut iov = [IoSliceMut::new(&mut word)];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let msg = recvmsg::<()>(
        ours.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut got: Vec<OwnedFd> = Vec::new();
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the kernel installed these fds in this process for us.
            got.extend(
                fds.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    assert_eq!(
        Event::decode(u32::from_le_bytes(word)),
        Some(Event::Mark(CHANNEL_MARK))
    );
    let dirs = got
        .iter()
        .filter(|fd| {
            std::fs::metadata(format!("/proc/self/fd/{}", fd.as_raw_fd())).is_ok_and(|m| m.is_dir())
        })
        .count();
    assert_eq!(
        (got.len(), dirs),
        (2, 1),
        "the control: a receiver with room for control data gets the probe's root and socket"
    );
    drop(ours);
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{text}");
}

/// One held instance of `config` under attack from its workload: what the
/// driver holds while it is held (nothing the workload sent), and the
/// probe's findings after the release.
fn attacked(name: &str, config: &Config) -> serde_json::Value {
    let before = fds();
    let state = HostState::now();
    let held = HeldSandbox::start(config, LIMIT).unwrap_or_else(|e| panic!("{name}: {e}"));
    let during = fds();
    let new: Vec<&String> = during
        .iter()
        .filter(|(fd, to)| before.get(fd) != Some(to))
        .map(|(_, to)| to)
        .collect();
    assert!(
        new.len() <= 4 && new.iter().all(|to| !to.starts_with('/')),
        "{name}: the driver holds more than its four anonymous fds: {new:?}"
    );
    let out = held
        .release(LIMIT)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(out.status, ExitStatus::Code(0), "{name}: {out:?}");
    let l = channel_line(&out);
    assert_eq!(
        l["passed_errno"], 0,
        "{name}: the fds were not even sent: {l}"
    );
    assert_eq!(l["eof"], true, "{name}: {l}");
    assert!(
        out.events
            .iter()
            .any(|(e, _)| *e == Event::Mark(CHANNEL_MARK)),
        "{name}: the word that carried the fds did not arrive: {:?}",
        out.events
    );
    // The garbage: bounded by the socket while held (the kernel's buffer,
    // not the workload, sets how much), every word of it counted on release
    // and at most MAX_EVENTS of them kept.
    let queued = l["queued"].as_u64().unwrap();
    assert!(
        queued > 0 && queued < 8 << 20,
        "{name}: queued {queued} bytes"
    );
    assert!(out.bad_words.len() <= MAX_EVENTS);
    assert_eq!(
        out.bad_words.len() as u64 + out.dropped.events,
        queued / 4,
        "{name}: every garbage word is counted"
    );
    eprintln!(
        "{name}: {l}; {} bad words kept, {} dropped",
        out.bad_words.len(),
        out.dropped.events
    );
    assert_eq!(fds(), before, "{name}: fds left in the driver");
    assert_eq!(HostState::settled(&state), state, "{name}: left behind");
    l
}

#[test]
fn a_workload_attacking_its_channel_reaches_nothing_of_the_driver() {
    if !have_root("a_workload_attacking_its_channel_reaches_nothing_of_the_driver") {
        return;
    }
    let _s = serial();
    careless_receiver_gets_a_directory();
    let fs = Rootfs::probe();
    let args = vec!["channel".to_string()];
    let mut process = Config::process(PROBE);
    process.args = args.clone();
    let mut rootless = Config::sandbox(&fs.path);
    rootless.args = args.clone();
    let mut root = rootless.clone();
    root.ns.user = None;

    // The control: a plain process sees the driver (this process) as its
    // peer; a sandboxed one sees pid 0 (outside its pid namespace).
    let l = attacked("process", &process);
    assert_eq!(l["peer_ok"], true, "{l}");
    assert_eq!(l["peer_pid"], std::process::id(), "the control: {l}");
    for (name, c) in [("sandbox (rootless)", &rootless), ("sandbox (root)", &root)] {
        let l = attacked(name, c);
        assert_eq!(l["peer_ok"], true, "{name}: {l}");
        assert_eq!(l["peer_pid"], 0, "{name}: the driver's pid leaks: {l}");
    }
}
