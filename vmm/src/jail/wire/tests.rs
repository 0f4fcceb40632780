use super::*;
use crate::devices::port::Unhandled;
use crate::kvm::KvmKind;
use crate::vm::{self, ExitCounts};
use crate::{Error, VmOutcome};

fn outcome() -> VmOutcome {
    VmOutcome {
        exit_code: 3,
        kvm_kind: KvmKind::Pvm,
        to_ready_ns: 10,
        exit_event_ns: 20,
        to_exit_ns: 30,
        phases: vec![("kvm_open", 1), ("jail", 9)],
        marks: vec![(7, 15), (8, 16)],
        marks_dropped: 2,
        exits: ExitCounts {
            io_out: 5,
            other: 1,
            ..Default::default()
        },
        unhandled: Unhandled {
            reads: 1,
            writes: 2,
            bad_words: 3,
        },
        console: b"hello\n".to_vec(),
        console_dropped_bytes: 4,
        tsc_khz: 2_000_000,
        mem_mib: 16,
        entry: crate::builder::BARE_ENTRY,
        jailed: true,
        probe: Some("x".into()),
        virtio: vec![crate::devices::virtio::DeviceReport {
            kind: "virtio-net",
            mmio_base: 0xd000_1000,
            irq: 6,
            counters: crate::devices::virtio::VirtioCounters {
                notifies: 1,
                completed: 2,
                bytes_from_guest: 3,
                bytes_to_guest: 4,
                bad_chains: 5,
                bad_requests: 6,
                io_errors: 7,
                dropped: 8,
                bad_registers: 9,
                interrupts: 10,
            },
        }],
    }
}

#[test]
fn outcomes_and_errors_round_trip() {
    let o = outcome();
    let back = decode(&encode(&Ok(o.clone()))).unwrap().unwrap();
    assert_eq!(format!("{back:?}"), format!("{o:?}"));

    for f in [
        vm::Error::NoReady { code: 2 },
        vm::Error::Timeout {
            secs: 1.5,
            ready: true,
        },
        vm::Error::Internal {
            suberror: 1,
            rip: 0x1000,
            bytes: vec![0x0f, 0x57],
        },
        vm::Error::Run(kvm_ioctls::Error::new(libc::EFAULT)),
        vm::Error::Reset,
        vm::Error::Hold(std::io::Error::from_raw_os_error(libc::EBADF)),
        vm::Error::HeldBeforeReady,
    ] {
        let msg = f.to_string();
        let e = Error::Guest {
            failure: f,
            console: b"c".to_vec(),
            console_dropped_bytes: 9,
            exits: ExitCounts::default(),
        };
        match decode(&encode(&Err(e))).unwrap() {
            Err(Error::Guest {
                failure,
                console,
                console_dropped_bytes: 9,
                ..
            }) => {
                assert_eq!(failure.to_string(), msg);
                assert_eq!(console, b"c");
            }
            other => panic!("{other:?}"),
        }
    }
    let e = Error::Vcpu(crate::vcpu::Error::Msrs { set: 1, total: 2 });
    let msg = e.to_string();
    match decode(&encode(&Err(e))).unwrap() {
        Err(Error::Jail(crate::jail::Error::InVmm(m))) => assert_eq!(m, msg),
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_or_padded_reports_are_malformed() {
    let bytes = encode(&Ok(outcome()));
    for n in 0..bytes.len() {
        assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes decoded");
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(decode(&long).is_err());
    // A length beyond the report is refused before anything is allocated.
    let mut huge = vec![0u8, 0, 0];
    huge.extend_from_slice(&[0; 24]);
    huge.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode(&huge).is_err());
}
