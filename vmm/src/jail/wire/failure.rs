//! The typed parts of a report: the KVM kind and a guest failure
//! ([`vm::Error`]), which cross with their variant and fields.
use super::bytes::{Malformed, R, W};
use crate::kvm::KvmKind;
use crate::{timer, vm};

pub(super) fn kind_code(k: KvmKind) -> u8 {
    match k {
        KvmKind::Intel => 0,
        KvmKind::Amd => 1,
        KvmKind::Pvm => 2,
        KvmKind::Unknown => 3,
    }
}

pub(super) fn kind_of(c: u8) -> Result<KvmKind, Malformed> {
    Ok(match c {
        0 => KvmKind::Intel,
        1 => KvmKind::Amd,
        2 => KvmKind::Pvm,
        3 => KvmKind::Unknown,
        _ => return Err(Malformed),
    })
}

pub(super) fn errno_of_io(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

pub(super) fn failure(w: &mut W, f: &vm::Error) {
    match f {
        vm::Error::Timeout { secs, ready } => {
            w.u8(0);
            w.u64(secs.to_bits());
            w.u8(u8::from(*ready));
        }
        vm::Error::TripleFault { ready } => {
            w.u8(1);
            w.u8(u8::from(*ready));
        }
        vm::Error::Reset => w.u8(2),
        vm::Error::Halted => w.u8(3),
        vm::Error::NoReady { code } => {
            w.u8(4);
            w.u8(*code);
        }
        vm::Error::FailEntry { reason } => {
            w.u8(5);
            w.u64(*reason);
        }
        vm::Error::Internal {
            suberror,
            rip,
            bytes,
        } => {
            w.u8(6);
            w.u32(*suberror);
            w.u64(*rip);
            w.bytes(bytes);
        }
        vm::Error::UnexpectedExit(s) => {
            w.u8(7);
            w.str(s);
        }
        vm::Error::Run(e) => {
            w.u8(8);
            w.i32(e.errno());
        }
        vm::Error::Timer(timer::Error::Handler(e)) => {
            w.u8(9);
            w.i32(errno_of_io(e));
        }
        vm::Error::Timer(timer::Error::Timer(e)) => {
            w.u8(10);
            w.i32(errno_of_io(e));
        }
        vm::Error::Irq(e) => {
            w.u8(11);
            w.i32(e.errno());
        }
        vm::Error::Hold(e) => {
            w.u8(12);
            w.i32(errno_of_io(e));
        }
        vm::Error::HeldBeforeReady => w.u8(13),
    }
}

pub(super) fn failure_of(r: &mut R<'_>) -> Result<vm::Error, Malformed> {
    let io = |e: i32| std::io::Error::from_raw_os_error(e);
    Ok(match r.u8()? {
        0 => vm::Error::Timeout {
            secs: f64::from_bits(r.u64()?),
            ready: r.bool()?,
        },
        1 => vm::Error::TripleFault { ready: r.bool()? },
        2 => vm::Error::Reset,
        3 => vm::Error::Halted,
        4 => vm::Error::NoReady { code: r.u8()? },
        5 => vm::Error::FailEntry { reason: r.u64()? },
        6 => vm::Error::Internal {
            suberror: r.u32()?,
            rip: r.u64()?,
            bytes: r.bytes()?,
        },
        7 => vm::Error::UnexpectedExit(r.str()?),
        8 => vm::Error::Run(kvm_ioctls::Error::new(r.i32()?)),
        9 => vm::Error::Timer(timer::Error::Handler(io(r.i32()?))),
        10 => vm::Error::Timer(timer::Error::Timer(io(r.i32()?))),
        11 => vm::Error::Irq(kvm_ioctls::Error::new(r.i32()?)),
        12 => vm::Error::Hold(io(r.i32()?)),
        13 => vm::Error::HeldBeforeReady,
        _ => return Err(Malformed),
    })
}
