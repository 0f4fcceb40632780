//! The jailed VMM's report to its parent: a boot's [`VmOutcome`] or error,
//! encoded as little-endian fields. Guest failures keep their type (callers
//! match on them); any other error crosses as its message chain.

use crate::devices::port::Unhandled;
use crate::kvm::KvmKind;
use crate::vm::{self, ExitCounts};
use crate::{timer, Error, VmOutcome};

/// The most bytes a report may have (console tail, marks and the rest fit
/// with room to spare); a longer one is malformed.
pub const MAX_REPORT: usize = 16 << 20;

/// Phase names a report may carry.
const PHASES: [&str; 10] = [
    "read_files",
    "kvm_open",
    "fork",
    "cgroup",
    "vm_create",
    "memory",
    "vcpu_create",
    "load",
    "vcpu_setup",
    "jail",
];

/// Entry labels a report may carry.
const ENTRIES: [&str; 3] = [
    crate::builder::BARE_ENTRY,
    "Linux 64-bit boot protocol",
    "Linux PVH (32-bit)",
];

fn known(list: &[&'static str], s: &str) -> Option<&'static str> {
    list.iter().copied().find(|&k| k == s)
}

/// A report that does not decode.
#[derive(Debug)]
pub struct Malformed;

#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.u32(v as u32);
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn exits(&mut self, e: &ExitCounts) {
        for v in [
            e.io_in,
            e.io_out,
            e.mmio_read,
            e.mmio_write,
            e.interrupted,
            e.other,
        ] {
            self.u64(v);
        }
    }
}

struct R<'a>(&'a [u8]);

impl R<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn bool(&mut self) -> Result<bool, Malformed> {
        Ok(self.u8()? != 0)
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().map_err(|_| Malformed)?,
        ))
    }
    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().map_err(|_| Malformed)?,
        ))
    }
    fn len(&mut self) -> Result<usize, Malformed> {
        let n = usize::try_from(self.u64()?).map_err(|_| Malformed)?;
        if n > self.0.len() {
            return Err(Malformed);
        }
        Ok(n)
    }
    fn bytes(&mut self) -> Result<Vec<u8>, Malformed> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }
    fn str(&mut self) -> Result<String, Malformed> {
        String::from_utf8(self.bytes()?).map_err(|_| Malformed)
    }
    fn exits(&mut self) -> Result<ExitCounts, Malformed> {
        Ok(ExitCounts {
            io_in: self.u64()?,
            io_out: self.u64()?,
            mmio_read: self.u64()?,
            mmio_write: self.u64()?,
            interrupted: self.u64()?,
            other: self.u64()?,
        })
    }
}

fn kind_code(k: KvmKind) -> u8 {
    match k {
        KvmKind::Intel => 0,
        KvmKind::Amd => 1,
        KvmKind::Pvm => 2,
        KvmKind::Unknown => 3,
    }
}

fn kind_of(c: u8) -> Result<KvmKind, Malformed> {
    Ok(match c {
        0 => KvmKind::Intel,
        1 => KvmKind::Amd,
        2 => KvmKind::Pvm,
        3 => KvmKind::Unknown,
        _ => return Err(Malformed),
    })
}

fn errno_of_io(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// An error and its sources as one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

fn failure(w: &mut W, f: &vm::Error) {
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
    }
}

fn failure_of(r: &mut R<'_>) -> Result<vm::Error, Malformed> {
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
        _ => return Err(Malformed),
    })
}

/// Encodes a boot's result.
pub fn encode(result: &Result<VmOutcome, Error>) -> Vec<u8> {
    let mut w = W::default();
    match result {
        Ok(o) => {
            w.u8(0);
            w.u8(o.exit_code);
            w.u8(kind_code(o.kvm_kind));
            w.u64(o.to_ready_ns);
            w.u64(o.exit_event_ns);
            w.u64(o.to_exit_ns);
            w.u64(o.phases.len() as u64);
            for (name, ns) in &o.phases {
                w.str(name);
                w.u64(*ns);
            }
            w.u64(o.marks.len() as u64);
            for (id, ns) in &o.marks {
                w.u32(*id);
                w.u64(*ns);
            }
            w.u64(o.marks_dropped);
            w.exits(&o.exits);
            w.u64(o.unhandled.reads);
            w.u64(o.unhandled.writes);
            w.u64(o.unhandled.bad_words);
            w.bytes(&o.console);
            w.u64(o.console_dropped_bytes);
            w.u32(o.tsc_khz);
            w.u64(o.mem_mib);
            w.str(o.entry);
            w.u8(u8::from(o.jailed));
            match &o.probe {
                None => w.u8(0),
                Some(p) => {
                    w.u8(1);
                    w.str(p);
                }
            }
        }
        Err(Error::Guest {
            failure: f,
            console,
            console_dropped_bytes,
            exits,
        }) => {
            w.u8(1);
            failure(&mut w, f);
            w.bytes(console);
            w.u64(*console_dropped_bytes);
            w.exits(exits);
        }
        Err(Error::Jail(j)) if j.is_setup() => {
            w.u8(3);
            w.str(&chain(j));
        }
        Err(other) => {
            w.u8(2);
            w.str(&chain(other));
        }
    }
    w.0
}

/// Decodes what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Result<VmOutcome, Error>, Malformed> {
    let mut r = R(bytes);
    let out = match r.u8()? {
        0 => {
            let exit_code = r.u8()?;
            let kvm_kind = kind_of(r.u8()?)?;
            let to_ready_ns = r.u64()?;
            let exit_event_ns = r.u64()?;
            let to_exit_ns = r.u64()?;
            let n = r.len()?;
            let mut phases = Vec::with_capacity(n.min(PHASES.len()));
            for _ in 0..n {
                let name = known(&PHASES, &r.str()?).ok_or(Malformed)?;
                phases.push((name, r.u64()?));
            }
            let n = r.len()?;
            let mut marks = Vec::with_capacity(n.min(vm::MAX_MARKS));
            for _ in 0..n {
                marks.push((r.u32()?, r.u64()?));
            }
            let marks_dropped = r.u64()?;
            let exits = r.exits()?;
            let unhandled = Unhandled {
                reads: r.u64()?,
                writes: r.u64()?,
                bad_words: r.u64()?,
            };
            let console = r.bytes()?;
            let console_dropped_bytes = r.u64()?;
            let tsc_khz = r.u32()?;
            let mem_mib = r.u64()?;
            let entry = known(&ENTRIES, &r.str()?).ok_or(Malformed)?;
            let jailed = r.bool()?;
            let probe = match r.u8()? {
                0 => None,
                1 => Some(r.str()?),
                _ => return Err(Malformed),
            };
            Ok(VmOutcome {
                exit_code,
                kvm_kind,
                to_ready_ns,
                exit_event_ns,
                to_exit_ns,
                phases,
                marks,
                marks_dropped,
                exits,
                unhandled,
                console,
                console_dropped_bytes,
                tsc_khz,
                mem_mib,
                entry,
                jailed,
                probe,
            })
        }
        1 => Err(Error::Guest {
            failure: failure_of(&mut r)?,
            console: r.bytes()?,
            console_dropped_bytes: r.u64()?,
            exits: r.exits()?,
        }),
        2 => Err(Error::Jail(super::Error::InVmm(r.str()?))),
        3 => Err(Error::Jail(super::Error::Setup(r.str()?))),
        _ => return Err(Malformed),
    };
    if !r.0.is_empty() {
        return Err(Malformed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Err(Error::Jail(super::super::Error::InVmm(m))) => assert_eq!(m, msg),
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
}
