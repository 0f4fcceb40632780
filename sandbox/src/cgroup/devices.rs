//! The device policy: which device nodes the workload may open or create,
//! enforced by its cgroup.
//!
//! The sandbox's `/dev` holds only bind mounts of the host's `null`, `zero`,
//! `full`, `random` and `urandom` plus a devpts instance; [`ALLOWED`] lists
//! exactly those. Every other device node — one planted in a hostile rootfs
//! that is not mounted `nodev`, say — is refused with `EPERM` at `open` and
//! `mknod`, as a defence that holds even if another layer fails.
//!
//! - **v1**: the `devices` controller; [`v1_rules`] are the lines for
//!   `devices.deny` (everything) and then `devices.allow` (the table).
//! - **v2**: a `BPF_PROG_TYPE_CGROUP_DEVICE` program built by [`program`]
//!   from the same table, attached to the cgroup directory before the child
//!   is born in it ([`attach_v2`]).
use std::os::fd::BorrowedFd;

use super::bpf::{self, Insn};

/// A device's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A character device.
    Char,
    /// A block device.
    Block,
}

impl Kind {
    /// The letter in v1's `devices.allow`.
    fn v1(self) -> char {
        match self {
            Kind::Char => 'c',
            Kind::Block => 'b',
        }
    }

    /// `BPF_DEVCG_DEV_CHAR` / `BPF_DEVCG_DEV_BLOCK`: the low 16 bits of
    /// `bpf_cgroup_dev_ctx.access_type`.
    fn bpf(self) -> i32 {
        match self {
            Kind::Block => 1,
            Kind::Char => 2,
        }
    }
}

/// One allowed device (read, write and mknod).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Character or block.
    pub kind: Kind,
    /// The major number.
    pub major: u32,
    /// The minor number; `None` for every minor.
    pub minor: Option<u32>,
    /// The node under `/dev` it is for.
    pub node: &'static str,
}

const fn char(major: u32, minor: Option<u32>, node: &'static str) -> Rule {
    Rule {
        kind: Kind::Char,
        major,
        minor,
        node,
    }
}

/// The devices the workload may use; everything else is denied.
pub const ALLOWED: [Rule; 7] = [
    // The stdin of the workload and the usual sink.
    char(1, Some(3), "null"),
    // Zero pages (also what mmap of /dev/zero gives).
    char(1, Some(5), "zero"),
    // Always full: the test device for ENOSPC.
    char(1, Some(7), "full"),
    // The blocking entropy source.
    char(1, Some(8), "random"),
    // The non-blocking entropy source.
    char(1, Some(9), "urandom"),
    // /dev/ptmx -> pts/ptmx: the sandbox's own devpts instance.
    char(5, Some(2), "ptmx"),
    // Pseudo-terminal secondaries (/dev/pts/N) of that instance.
    char(136, None, "pts/*"),
];

/// v1: the line for `devices.deny` (deny everything) followed by one line
/// per [`ALLOWED`] rule for `devices.allow`, in writing order.
pub fn v1_rules() -> (&'static str, Vec<String>) {
    let allow = ALLOWED
        .iter()
        .map(|r| {
            let minor = r.minor.map_or_else(|| "*".to_string(), |m| m.to_string());
            format!("{} {}:{minor} rwm", r.kind.v1(), r.major)
        })
        .collect();
    ("a", allow)
}

/// v2: the eBPF program for [`ALLOWED`]. It reads
/// `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
/// from `r1` and returns 1 (allow) for a listed device, whatever the access,
/// and 0 (deny) for any other.
pub fn program() -> Vec<Insn> {
    let (ty, major, minor) = (2, 3, 4);
    let mut p = vec![
        Insn::ldx_w(ty, 1, 0),
        // The type is the low half of access_type (the access the high).
        Insn::and32(ty, 0xffff),
        Insn::ldx_w(major, 1, 4),
        Insn::ldx_w(minor, 1, 8),
    ];
    for rule in &ALLOWED {
        let mut checks = vec![(ty, rule.kind.bpf()), (major, rule.major as i32)];
        if let Some(m) = rule.minor {
            checks.push((minor, m as i32));
        }
        let n = checks.len();
        for (i, (reg, value)) in checks.into_iter().enumerate() {
            // On a mismatch, skip the remaining checks and the allow (2).
            p.push(Insn::jne(reg, value, (n - i - 1 + 2) as i16));
        }
        p.push(Insn::mov64(0, 1));
        p.push(Insn::exit());
    }
    p.push(Insn::mov64(0, 0));
    p.push(Insn::exit());
    p
}

/// v2: loads [`program`] and attaches it to the cgroup directory `cgroup`.
/// The attachment lives with the cgroup; the program's fd is closed here.
/// Attached without `BPF_F_ALLOW_OVERRIDE`/`MULTI`, so no cgroup below it
/// can attach a program of its own.
pub fn attach_v2(cgroup: BorrowedFd<'_>) -> std::io::Result<()> {
    let prog = bpf::load_cgroup_device(&program(), c"vmlab_devices")?;
    bpf::attach_cgroup_device(cgroup, &prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions [`program`] uses.
    fn eval(prog: &[Insn], access_type: u32, major: u32, minor: u32) -> u64 {
        let ctx = [access_type, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                0x61 => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = ctx[i.off as usize / 4] as u64;
                }
                0x54 => r[dst] = (r[dst] as u32 & i.imm as u32) as u64,
                0x55 => {
                    if r[dst] != i.imm as i64 as u64 {
                        pc = (pc as i64 + i.off as i64) as usize;
                    }
                }
                0xb7 => r[dst] = i.imm as i64 as u64,
                0x95 => return r[0],
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    const CHAR: u32 = 2;
    const BLOCK: u32 = 1;
    /// read | write | mknod in the high half of access_type.
    const RWM: u32 = 7 << 16;

    #[test]
    fn the_program_allows_exactly_the_table() {
        let p = program();
        for r in &ALLOWED {
            let minor = r.minor.unwrap_or(42);
            assert_eq!(eval(&p, RWM | CHAR, r.major, minor), 1, "{r:?}");
            assert_eq!(eval(&p, (2 << 16) | CHAR, r.major, minor), 1, "{r:?}");
            // The same numbers as a block device are refused.
            assert_eq!(eval(&p, RWM | BLOCK, r.major, minor), 0, "{r:?}");
        }
        for (major, minor) in [
            (1, 1),
            (1, 11),
            (5, 0),
            (5, 1),
            (4, 0),
            (10, 229),
            (136, u32::MAX),
        ] {
            let want = u64::from(major == 136);
            assert_eq!(eval(&p, RWM | CHAR, major, minor), want, "{major}:{minor}");
        }
        assert_eq!(eval(&p, RWM | BLOCK, 8, 0), 0);
        assert_eq!(eval(&p, RWM | BLOCK, 7, 0), 0);
    }

    #[test]
    fn the_program_ends_in_exits_and_jumps_stay_inside() {
        let p = program();
        assert_eq!(p.last().map(|i| i.code), Some(0x95));
        for (pc, i) in p.iter().enumerate() {
            if i.code == 0x55 {
                let to = pc as i64 + 1 + i.off as i64;
                assert!(to > pc as i64 && (to as usize) < p.len(), "{pc}: {i:?}");
            }
        }
    }

    #[test]
    fn v1_rules_deny_all_then_allow_the_table() {
        let (deny, allow) = v1_rules();
        assert_eq!(deny, "a");
        assert_eq!(
            allow,
            [
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:2 rwm",
                "c 136:* rwm"
            ]
        );
    }
}
