//! Boots on real KVM (skipped without `/dev/kvm`, required with
//! `VMLAB_REQUIRE_KVM=1`); each test runs its VM in a child process.
mod common;

use std::time::Duration;

use common::*;
use vmlab_test_util::kvm_available;
use vmlab_vmm::vm::Error as RunError;
use vmlab_vmm::{Error, KvmKind};

const T: Duration = Duration::from_secs(10);

fn failure(r: Result<vmlab_vmm::VmOutcome, Error>) -> RunError {
    match r {
        Err(Error::Guest { failure, .. }) => failure,
        other => panic!("expected a guest failure, got {other:?}"),
    }
}

#[test]
fn bare_guest_exits_with_the_requested_code() {
    if !kvm_available() || !in_child("bare_guest_exits_with_the_requested_code") {
        return;
    }
    let elf = guest_elf();
    for code in [0u8, 3, 42, 255] {
        let r = vmlab_vmm::run(bare(&elf, &format!("--exit {code}"), T));
        let o = match r {
            Err(e) if guest_built_with_sse(&e) => return,
            r => r.unwrap(),
        };
        assert_eq!(o.exit_code, code);
        assert!(o.to_ready_ns > 0 && o.to_ready_ns <= o.exit_event_ns);
        assert!(o.exit_event_ns <= o.to_exit_ns);
        let console = String::from_utf8_lossy(&o.console);
        assert!(console.contains("{\"vmlab\":\"ready\"}"), "{console}");
        assert!(
            console.contains(&format!("{{\"vmlab\":\"exit\",\"code\":{code}}}")),
            "{console}"
        );
        let names: Vec<_> = o.phases.iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "kvm_open",
                "vm_create",
                "memory",
                "vcpu_create",
                "load",
                "vcpu_setup",
                "guest_to_ready"
            ]
        );
        assert!(o.phases.windows(2).all(|w| w[0].1 <= w[1].1));
        // The steps end where ready is: they add up to to_ready.
        assert_eq!(o.phases.last().unwrap().1, o.to_ready_ns);
    }
}

#[test]
fn bare_guest_bad_args_never_signal_ready() {
    if !kvm_available() || !in_child("bare_guest_bad_args_never_signal_ready") {
        return;
    }
    let elf = guest_elf();
    match vmlab_vmm::run(bare(&elf, "no-such-kernel", T)) {
        Err(e) if guest_built_with_sse(&e) => {}
        r => {
            let f = failure(r);
            assert!(matches!(f, RunError::NoReady { code: 2 }), "{f}");
            assert!(f.to_string().contains("without ever signalling ready"));
        }
    }
}

#[test]
fn tiny_guest_exit_codes_and_counts() {
    if !kvm_available() || !in_child("tiny_guest_exit_codes_and_counts") {
        return;
    }
    for code in [0u8, 1, 7, 200] {
        let elf = tiny_elf(&ready_exit_code(code));
        let o = vmlab_vmm::run(bare(&elf, "", T)).unwrap();
        assert_eq!(o.exit_code, code);
        assert_eq!(o.exits.io_out, 2);
        assert_eq!(o.exits.total(), 2);
        assert_ne!(o.kvm_kind, KvmKind::Unknown);
    }
}

#[test]
fn marks_are_timestamped_in_order() {
    if !kvm_available() || !in_child("marks_are_timestamped_in_order") {
        return;
    }
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    for id in [1, 2, 3] {
        code.extend(out_word(vmlab_workload::Event::Mark(id).encode()));
    }
    code.extend(out_word(0xdead_beef)); // not a protocol word: counted, ignored
    code.extend(ready_exit_code(5));
    let elf = tiny_elf(&code);
    let o = vmlab_vmm::run(bare(&elf, "", T)).unwrap();
    assert_eq!(o.exit_code, 5);
    let ids: Vec<u32> = o.marks.iter().map(|m| m.0).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert!(o.marks.windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(o.to_ready_ns <= o.marks[0].1);
    assert_eq!(o.unhandled.bad_words, 1);
}

#[test]
fn triple_fault_is_reported() {
    if !kvm_available() || !in_child("triple_fault_is_reported") {
        return;
    }
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    code.extend([0x0f, 0x0b]); // ud2 with an empty IDT
    let elf = tiny_elf(&code);
    let f = failure(vmlab_vmm::run(bare(&elf, "", T)));
    assert!(matches!(f, RunError::TripleFault { ready: true }), "{f}");
    assert!(f.to_string().contains("triple faulted"));
}

#[test]
fn timeout_kills_a_guest_that_never_signals_ready() {
    if !kvm_available() || !in_child("timeout_kills_a_guest_that_never_signals_ready") {
        return;
    }
    let elf = tiny_elf(&[0xeb, 0xfe]); // jmp .
    let f = failure(vmlab_vmm::run(bare(&elf, "", Duration::from_millis(300))));
    assert!(matches!(f, RunError::Timeout { ready: false, .. }), "{f}");
    assert!(f.to_string().contains("did not signal ready within 0.3 s"));
    // The process is still fine afterwards: the next boot works.
    let elf = tiny_elf(&ready_exit_code(9));
    assert_eq!(vmlab_vmm::run(bare(&elf, "", T)).unwrap().exit_code, 9);
}

#[test]
fn timeout_after_ready_says_so() {
    if !kvm_available() || !in_child("timeout_after_ready_says_so") {
        return;
    }
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    code.extend([0xeb, 0xfe]);
    let elf = tiny_elf(&code);
    let f = failure(vmlab_vmm::run(bare(&elf, "", Duration::from_millis(200))));
    assert!(matches!(f, RunError::Timeout { ready: true, .. }), "{f}");
}

#[test]
fn halt_without_exit_is_reported() {
    if !kvm_available() || !in_child("halt_without_exit_is_reported") {
        return;
    }
    let elf = tiny_elf(&[0xf4]);
    let f = failure(vmlab_vmm::run(bare(&elf, "", T)));
    assert!(matches!(f, RunError::Halted), "{f}");
}

#[test]
fn unknown_ports_read_all_ones() {
    if !kvm_available() || !in_child("unknown_ports_read_all_ones") {
        return;
    }
    // in al, 0x80 ; out 0x80, al ; then exit with the byte read (0xff).
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    code.extend([0xe4, 0x80, 0xe6, 0x80]);
    code.extend([0x0d, 0x00, 0x00, 0x00, 0x03]); // or eax, 0x03000000 (Exit kind)
    code.extend([0x25, 0xff, 0x00, 0x00, 0x03]); // and eax, 0x030000ff
    code.extend([0x66, 0xba, 0xf4, 0x00, 0xef, 0xf4]);
    let elf = tiny_elf(&code);
    let o = vmlab_vmm::run(bare(&elf, "", T)).unwrap();
    assert_eq!(o.exit_code, 0xff);
    assert_eq!((o.unhandled.reads, o.unhandled.writes), (1, 1));
}

#[test]
fn a_library_caller_may_pass_any_timeout() {
    if !kvm_available() || !in_child("a_library_caller_may_pass_any_timeout") {
        return;
    }
    let elf = guest_elf();
    // Far beyond what an Instant or a timespec holds: no overflow, no abort.
    for timeout in [Duration::MAX, Duration::from_secs(18_446_744_074)] {
        let o = match vmlab_vmm::run(bare(&elf, "--exit 0", timeout)) {
            Err(e) if guest_built_with_sse(&e) => return,
            r => r.unwrap(),
        };
        assert_eq!(o.exit_code, 0);
        assert_eq!((o.console_dropped_bytes, o.marks_dropped), (0, 0));
    }
}

#[test]
fn a_flooding_guest_costs_bounded_memory() {
    if !kvm_available() || !in_child("a_flooding_guest_costs_bounded_memory") {
        return;
    }
    // Rounds of 4096 bytes: 1.25 MiB of console, beyond the 1 MiB kept
    // (software KVM exits once per byte, so a bigger flood is slow here).
    const ROUNDS: u32 = 320;
    const MARKS: u32 = vmlab_vmm::vm::MAX_MARKS as u32 + 1464;
    let mut code = out_word(vmlab_workload::Event::Ready.encode());
    // mov ebx, ROUNDS; again: mov dx, COM1; mov esi, 1 MiB; mov ecx, 4096;
    // rep outsb; dec ebx; jnz again
    code.push(0xbb);
    code.extend_from_slice(&ROUNDS.to_le_bytes());
    let again = code.len();
    code.extend_from_slice(&[0x66, 0xba, 0xf8, 0x03]);
    code.extend_from_slice(&[0xbe, 0x00, 0x00, 0x10, 0x00]);
    code.extend_from_slice(&[0xb9, 0x00, 0x10, 0x00, 0x00]);
    code.extend_from_slice(&[0xf3, 0x6e, 0xff, 0xcb, 0x75]);
    code.push((again as i64 - code.len() as i64 - 1) as i8 as u8);
    // mov ebx, MARKS; again: <mark 7>; dec ebx; jnz again
    code.push(0xbb);
    code.extend_from_slice(&MARKS.to_le_bytes());
    let again = code.len();
    code.extend(out_word(vmlab_workload::Event::Mark(7).encode()));
    code.extend_from_slice(&[0xff, 0xcb, 0x75]);
    code.push((again as i64 - code.len() as i64 - 1) as i8 as u8);
    code.extend(out_word(vmlab_workload::Event::Exit(0).encode()));
    code.push(0xf4);
    let elf = tiny_elf(&code);
    let o = match vmlab_vmm::run(bare(&elf, "", Duration::from_secs(300))) {
        Ok(o) => o,
        // Not `unwrap`: the error's Debug holds a megabyte of console.
        Err(e) => panic!("the flooding guest failed: {e}"),
    };
    let cap = vmlab_vmm::devices::serial::CONSOLE_CAP;
    let written = u64::from(ROUNDS) * 4096;
    assert_eq!(o.console.len(), cap);
    assert_eq!(o.console_dropped_bytes, written - cap as u64);
    assert_eq!(o.marks.len(), vmlab_vmm::vm::MAX_MARKS);
    assert_eq!(o.marks_dropped, 1464);
}
