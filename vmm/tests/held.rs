//! Held guests on real KVM (skipped without `/dev/kvm`, required with
//! `VMLAB_REQUIRE_KVM=1`): a held VM stays parked after ready until it is
//! released, then exits with its marks; dropping one tears it down; 200
//! of them leave nothing behind; the hold gate of a one-shot run waits
//! for its fd, in the jail too; and, as the control, a guest without a gate
//! or without `--hold` exits by itself.
mod common;

use std::io::Write;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use common::*;
use vmlab_test_util::kvm_available;
use vmlab_vmm::held::Error as HeldError;
use vmlab_vmm::vm::Error as RunError;
use vmlab_vmm::{Error, HeldVm, HoldGate, Host};
use vmlab_workload::protocol::HOLD_MARK;

const T: Duration = Duration::from_secs(20);
const HELD: usize = 200;
/// RSS growth allowed over 200 held VMs (allocator caches, lazily mapped code).
const RSS_TOLERANCE_KIB: u64 = 2048;

/// `mov dx, 0xf5; in eax, dx`: a read of the hold port.
const IN_HOLD: [u8; 5] = [0x66, 0xba, 0xf5, 0x00, 0xed];

/// The real guest if it runs here, else `None` (a guest built with SSE).
fn real_guest() -> Option<Vec<u8>> {
    let elf = guest_elf();
    match vmlab_vmm::run(bare(&elf, "--exit 0", T)) {
        Err(e) if guest_built_with_sse(&e) => None,
        r => {
            r.unwrap();
            Some(elf)
        }
    }
}

/// Threads of this process whose name does not start with `prefix`.
fn threads_not_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = std::fs::read_to_string(t.as_ref().unwrap().path().join("comm"));
            !comm.unwrap_or_default().starts_with(prefix)
        })
        .count()
}

fn pipe() -> (OwnedFd, std::fs::File) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    (r, std::fs::File::from(w))
}

#[test]
fn a_held_vm_waits_until_released_then_exits_with_its_marks() {
    if !kvm_available() || !in_child("a_held_vm_waits_until_released_then_exits_with_its_marks") {
        return;
    }
    let Some(elf) = real_guest() else { return };
    let host = Host::open().unwrap();
    let vm = HeldVm::start(&host, bare(&elf, "cpu --time 1us --hold", T)).unwrap();
    assert!(vm.to_ready_ns() > 0);
    assert!(vm.held_ns() >= vm.to_ready_ns());
    let pause = Duration::from_millis(200);
    std::thread::sleep(pause);
    // Released on another thread than the one that started it.
    let o = std::thread::spawn(move || vm.release().unwrap())
        .join()
        .unwrap();
    assert_eq!(o.exit_code, 0);
    let ids: Vec<u32> = o.marks.iter().map(|m| m.0).collect();
    assert_eq!(ids.last(), Some(&HOLD_MARK), "{ids:?}");
    let held_at = o.marks.last().unwrap().1;
    // The exit came after the pause: the guest did not go on by itself.
    assert!(
        o.exit_event_ns >= held_at + pause.as_nanos() as u64,
        "exit {} ns, hold mark {held_at} ns",
        o.exit_event_ns
    );
    let console = String::from_utf8_lossy(&o.console);
    assert!(
        console.contains("{\"vmlab\":\"exit\",\"code\":0}"),
        "{console}"
    );
}

#[test]
fn dropping_a_held_vm_tears_it_down_without_running_it() {
    if !kvm_available() || !in_child("dropping_a_held_vm_tears_it_down_without_running_it") {
        return;
    }
    let host = Host::open().unwrap();
    // Ready, hold, then exit 0 — the exit must never be seen.
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    code.extend(IN_HOLD);
    code.extend(ready_exit_code(0));
    let elf = tiny_elf(&code);
    let start = || HeldVm::start(&host, bare(&elf, "", T)).unwrap();
    drop(start()); // warm up
    let before = process_usage();
    let vm = start();
    assert!(process_usage().0 > before.0, "a held VM holds its fds");
    drop(vm);
    assert_eq!(process_usage().0, before.0, "fds left after the drop");
    // And released, the same code goes on to its exit.
    let o = start().release().unwrap();
    assert_eq!((o.exit_code, o.exits.io_in), (0, 1));
}

#[test]
fn two_hundred_held_vms_leave_nothing_behind() {
    if !kvm_available() || !in_child("two_hundred_held_vms_leave_nothing_behind") {
        return;
    }
    let host = Host::open().unwrap();
    let real = real_guest();
    let tiny = {
        let mut c = out_word(vmlab_workload::Event::Ready.encode());
        c.extend(IN_HOLD);
        c.extend(ready_exit_code(0));
        tiny_elf(&c)
    };
    let (elf, args) = match &real {
        Some(e) => (e.as_slice(), "--hold"),
        None => (tiny.as_slice(), ""),
    };
    let start = || HeldVm::start(&host, bare(elf, args, T)).unwrap();
    for _ in 0..5 {
        start().release().unwrap();
    }
    let before = process_usage();
    let vms: Vec<HeldVm> = (0..HELD).map(|_| start()).collect();
    let during = process_usage();
    assert!(during.0 >= before.0 + 2 * HELD, "{during:?} vs {before:?}");
    // No thread of the VMM's; KVM may start one worker per VM in the
    // process (x86's NX huge page recovery, `kvm-nx-lpage-re`).
    let ours = threads_not_named("kvm-nx-lpage");
    eprintln!("threads while held: {} ({} not KVM's)", during.1, ours);
    assert_eq!(
        ours as u64, before.1,
        "a held VM needs no thread of the VMM's"
    );
    assert!(during.1 <= before.1 + HELD as u64);
    let mut released = 0;
    for (i, vm) in vms.into_iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(vm.release().unwrap().exit_code, 0);
            released += 1;
        } else {
            drop(vm);
        }
    }
    assert_eq!(released, HELD / 2);
    let after = process_usage();
    eprintln!("fds, threads, RSS KiB: before {before:?}, held {during:?}, after {after:?}");
    assert_eq!(after.0, before.0, "open fds changed");
    assert_eq!(after.1, before.1, "thread count changed");
    assert!(
        after.2 <= before.2 + RSS_TOLERANCE_KIB,
        "RSS grew by {} KiB",
        after.2 - before.2
    );
}

#[test]
fn without_hold_or_gate_the_guest_exits_by_itself() {
    if !kvm_available() || !in_child("without_hold_or_gate_the_guest_exits_by_itself") {
        return;
    }
    let host = Host::open().unwrap();
    // The control for the tests above: a guest that reads the hold port
    // with nobody holding it goes on at once...
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    code.extend(IN_HOLD);
    code.extend(ready_exit_code(4));
    let tiny = tiny_elf(&code);
    let o = vmlab_vmm::run(bare(&tiny, "", T)).unwrap();
    assert_eq!((o.exit_code, o.exits.io_in, o.unhandled.reads), (4, 1, 0));
    if let Some(elf) = real_guest() {
        let o = vmlab_vmm::run(bare(&elf, "--hold", T)).unwrap();
        assert_eq!(o.exit_code, 0);
        assert_eq!(o.marks.last().map(|m| m.0), Some(HOLD_MARK));
        // ...and a guest that never reads it is no held VM.
        match HeldVm::start(&host, bare(&elf, "--exit 3", T)) {
            Err(Error::Held(HeldError::NotHeld { code: 3 })) => {}
            other => panic!("{other:?}"),
        }
    }
    // A read of the hold port before ready is a failure, not a hold.
    let mut early = IN_HOLD.to_vec();
    early.extend(ready_exit_code(0));
    let elf = tiny_elf(&early);
    match HeldVm::start(&host, bare(&elf, "", T)) {
        Err(Error::Guest {
            failure: RunError::HeldBeforeReady,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let mut jailed = bare(&tiny, "", T);
    jailed.jail = true;
    assert!(matches!(
        HeldVm::start(&host, jailed),
        Err(Error::Held(HeldError::Jailed))
    ));
}

/// Runs `config` (holding on a pipe) on a thread, checks it is still
/// running after a pause, releases it with a byte, and returns the outcome.
fn gate_holds(mut config: vmlab_vmm::VmConfig<'static>) -> vmlab_vmm::VmOutcome {
    let (r, mut w) = pipe();
    config.hold = Some(HoldGate::new(r));
    let started = Instant::now();
    let vm = std::thread::spawn(move || vmlab_vmm::run(config));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!vm.is_finished(), "the guest did not wait at its gate");
    w.write_all(b"x").unwrap();
    let o = vm.join().unwrap().unwrap();
    assert!(started.elapsed() >= Duration::from_millis(500));
    o
}

#[test]
fn a_hold_gate_keeps_a_one_shot_guest_until_its_fd_is_read() {
    if !kvm_available() || !in_child("a_hold_gate_keeps_a_one_shot_guest_until_its_fd_is_read") {
        return;
    }
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    code.extend(IN_HOLD);
    code.extend(ready_exit_code(6));
    let elf: &'static [u8] = Box::leak(tiny_elf(&code).into_boxed_slice());
    let o = gate_holds(bare(elf, "", T));
    assert_eq!(o.exit_code, 6);
    assert!(!o.jailed);
    // In the jail: the VMM keeps the gate's fd and its filter lets it read.
    let mut jailed = bare(elf, "", T);
    jailed.jail = true;
    let o = gate_holds(jailed);
    assert_eq!(o.exit_code, 6);
    assert!(o.jailed);
    // End of file releases too, and the timeout still applies while held.
    let (r, w) = pipe();
    let mut c = bare(elf, "", Duration::from_millis(300));
    c.hold = Some(HoldGate::new(r));
    match vmlab_vmm::run(c) {
        Err(Error::Guest {
            failure: RunError::Timeout { ready: true, .. },
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let (r2, w2) = pipe();
    drop(w2);
    let mut c = bare(elf, "", T);
    c.hold = Some(HoldGate::new(r2));
    assert_eq!(vmlab_vmm::run(c).unwrap().exit_code, 6);
    drop(w);
}
