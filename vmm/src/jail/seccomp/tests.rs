//! The compiled filter, run by a small classic-BPF interpreter, against
//! [`TABLE`]: every number 0..=1023, x32 numbers, another architecture, and
//! each argument condition with values that pass and fail it.
use seccompiler::sock_filter;

use super::*;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

const CTX: Context = Context {
    report_fd: 7,
    hold_fd: Some(9),
};
const NO_HOLD: Context = Context {
    report_fd: 7,
    hold_fd: None,
};

/// `struct seccomp_data` as little-endian bytes.
fn data(nr: u32, arch: u32, args: [u64; 6]) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[0..4].copy_from_slice(&nr.to_le_bytes());
    b[4..8].copy_from_slice(&arch.to_le_bytes());
    b[8..16].copy_from_slice(&0x7f00_0000_1000u64.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    b
}

/// Runs `prog` like the kernel's classic BPF; panics on an opcode it does
/// not know, a load out of bounds or a jump out of the program.
fn eval(prog: &[sock_filter], mem: &[u8; 64]) -> u32 {
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    let mut scratch = [0u32; 16];
    for _ in 0..=prog.len() {
        let i = prog
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} out of the program"));
        let next = pc + 1;
        let br = |c: bool| next + usize::from(if c { i.jt } else { i.jf });
        pc = match i.code {
            0x20 => {
                // BPF_LD | BPF_W | BPF_ABS
                let o = i.k as usize;
                assert!(o % 4 == 0 && o + 4 <= 64, "load at {o}");
                a = u32::from_le_bytes(mem[o..o + 4].try_into().unwrap());
                next
            }
            0x00 => {
                // BPF_LD | BPF_IMM
                a = i.k;
                next
            }
            0x60 => {
                // BPF_LD | BPF_MEM
                a = scratch[i.k as usize];
                next
            }
            0x02 => {
                // BPF_ST
                scratch[i.k as usize] = a;
                next
            }
            0x07 => {
                // BPF_MISC | BPF_TAX
                x = a;
                next
            }
            0x87 => {
                // BPF_MISC | BPF_TXA
                a = x;
                next
            }
            0x54 => {
                // BPF_ALU | BPF_AND | BPF_K
                a &= i.k;
                next
            }
            0x05 => next + i.k as usize, // BPF_JMP | BPF_JA
            0x15 => br(a == i.k),        // JEQ
            0x25 => br(a > i.k),         // JGT
            0x35 => br(a >= i.k),        // JGE
            0x45 => br(a & i.k != 0),    // JSET
            0x06 => return i.k,          // BPF_RET | BPF_K
            other => panic!("opcode {other:#06x} at {pc} is not implemented"),
        };
    }
    panic!("the program did not return");
}

/// What the table says, written from [`Args`]'s documentation.
fn expected(ctx: &Context, nr: u32, arch: u32, args: &[u64; 6]) -> u32 {
    if arch != AUDIT_ARCH_X86_64 {
        return RET_KILL;
    }
    let Some(entry) = TABLE.iter().find(|a| a.nr == i64::from(nr)) else {
        return RET_KILL;
    };
    let lo = |i: usize| args[i] as u32;
    let ok = match entry.args {
        Args::Any => true,
        Args::KvmRequest => KVM_REQUESTS.iter().any(|&(r, _)| u64::from(lo(1)) == r),
        Args::OwnFds => write_fds(ctx).contains(&(lo(0) as i32)),
        Args::GetFd => lo(1) == libc::F_GETFD as u32,
        Args::NoExec => lo(2) & libc::PROT_EXEC as u32 == 0,
        Args::HoldFd => ctx.hold_fd == Some(lo(0) as i32),
        Args::HoldPoll => ctx.hold_fd.is_some() && lo(1) == 1,
    };
    if ok {
        RET_ALLOW
    } else {
        RET_KILL
    }
}

fn arg_sets() -> Vec<[u64; 6]> {
    let high = 0xdead_beef_0000_0000u64;
    let mut v = vec![[0; 6], [u64::MAX; 6], [1, 2, 3, 4, 5, 6]];
    let mut one = |i: usize, x: u64| {
        let mut a = [0u64; 6];
        a[i] = x;
        v.push(a);
    };
    for (req, _) in KVM_REQUESTS {
        one(1, req);
        one(1, req | high);
        one(1, req + 1);
    }
    // Other KVM requests: KVM_CREATE_VM, KVM_SET_USER_MEMORY_REGION, KVM_SET_REGS.
    for req in [0xae01, 0x4020_ae46, 0x4090_ae82, libc::TIOCSTI] {
        one(1, req);
    }
    for fd in [0, 1, 2, 3, 7, 8, 9, 9 | high, 7 | high, 1 << 32] {
        one(0, fd);
    }
    for cmd in [libc::F_GETFD, libc::F_SETFD, libc::F_DUPFD] {
        one(1, cmd as u64);
        one(1, cmd as u64 | high);
    }
    for prot in [0, 1, 3, 4, 7, 3 | high, 4 | high] {
        one(2, prot);
    }
    v.push([1, 0, libc::SIGABRT as u64, 0, 0, 0]);
    v
}

#[test]
fn filter_matches_the_table_for_every_number_and_argument() {
    filter_matches_the_table(&CTX);
}

#[test]
fn without_a_hold_gate_read_and_poll_are_not_allowed() {
    let allowed = filter_matches_the_table(&NO_HOLD);
    for nr in [libc::SYS_read, libc::SYS_poll] {
        assert!(!allowed.contains(&(nr as u32)), "{nr}");
    }
}

/// Checks the filter for `ctx` against [`expected`]; returns the numbers
/// it allows with some argument.
fn filter_matches_the_table(ctx: &Context) -> std::collections::BTreeSet<u32> {
    let prog = program(ctx).unwrap();
    let args = arg_sets();
    let mut allowed = std::collections::BTreeSet::new();
    for nr in 0..1024u32 {
        for a in &args {
            let got = eval(&prog, &data(nr, AUDIT_ARCH_X86_64, *a));
            assert_eq!(
                got,
                expected(ctx, nr, AUDIT_ARCH_X86_64, a),
                "nr {nr} args {a:x?}"
            );
            if got == RET_ALLOW {
                allowed.insert(nr);
            }
        }
        // x32 numbers and the i386 entry never pass.
        let x32 = nr | 0x4000_0000;
        assert_eq!(eval(&prog, &data(x32, AUDIT_ARCH_X86_64, [0; 6])), RET_KILL);
        assert_eq!(eval(&prog, &data(nr, AUDIT_ARCH_I386, [0; 6])), RET_KILL);
    }
    // Exactly the table's numbers (of entries in this filter) pass with
    // some argument.
    let table: std::collections::BTreeSet<u32> = TABLE
        .iter()
        .filter(|a| ctx.hold_fd.is_some() || !matches!(a.args, Args::HoldFd | Args::HoldPoll))
        .map(|a| a.nr as u32)
        .collect();
    assert_eq!(allowed, table);
    allowed
}

#[test]
fn conditions_pass_and_fail() {
    let prog = program(&CTX).unwrap();
    let ioctl = libc::SYS_ioctl as u32;
    let run = |nr: u32, a: [u64; 6]| eval(&prog, &data(nr, AUDIT_ARCH_X86_64, a));
    assert_eq!(run(ioctl, [5, KVM_RUN, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(ioctl, [5, KVM_RUN | 1 << 40, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(
        run(ioctl, [5, 0x4090_ae82, 0, 0, 0, 0]),
        RET_KILL,
        "KVM_SET_REGS"
    );
    let read = libc::SYS_read as u32;
    assert_eq!(run(read, [9, 0, 8, 0, 0, 0]), RET_ALLOW, "the hold gate");
    assert_eq!(run(read, [0, 0, 8, 0, 0, 0]), RET_KILL, "another fd");
    let write = libc::SYS_write as u32;
    assert_eq!(run(write, [7, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(write, [3, 0, 0, 0, 0, 0]), RET_KILL);
    let mmap = libc::SYS_mmap as u32;
    assert_eq!(run(mmap, [0, 4096, 3, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(mmap, [0, 4096, 7, 0, 0, 0]), RET_KILL);
    for nr in [
        libc::SYS_openat,
        libc::SYS_execve,
        libc::SYS_socket,
        libc::SYS_open,
    ] {
        assert_eq!(run(nr as u32, [0; 6]), RET_KILL, "{nr}");
    }
}

#[test]
fn kvm_request_numbers_are_the_kernels() {
    // From linux/kvm.h on x86_64.
    assert_eq!(KVM_RUN, 0xae80);
    assert_eq!(KVM_GET_REGS, 0x8090_ae81);
    assert_eq!(KVM_IRQ_LINE, 0x4008_ae61);
}

#[test]
fn table_is_sorted_unique_and_explained() {
    let mut nrs: Vec<i64> = TABLE.iter().map(|a| a.nr).collect();
    nrs.sort();
    nrs.dedup();
    assert_eq!(nrs.len(), TABLE.len());
    assert!(TABLE
        .iter()
        .all(|a| !a.why.is_empty() && !a.name.is_empty()));
}
