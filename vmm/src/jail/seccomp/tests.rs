//! The compiled filter, run by a small classic-BPF interpreter, against
//! [`TABLE`]: every number 0..=1023, x32 numbers, another architecture, and
//! each argument condition with values that pass and fail it.
use seccompiler::sock_filter;

use super::*;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// A VMM with a hold gate (9), a disk (11) and a TAP (12).
fn ctx() -> Context {
    Context {
        report_fd: 7,
        hold_fd: Some(9),
        devices: DeviceFds {
            disks: vec![11],
            taps: vec![12],
        },
    }
}

/// A VMM with neither a hold gate nor devices.
fn no_hold() -> Context {
    Context {
        report_fd: 7,
        ..Context::default()
    }
}

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
    let lo = |i: usize| args[i] as u32;
    let ok = TABLE
        .iter()
        .filter(|a| a.nr == i64::from(nr))
        .any(|entry| match entry.args {
            Args::Any => true,
            Args::KvmRequest => KVM_REQUESTS.iter().any(|&(r, _)| u64::from(lo(1)) == r),
            Args::OwnFds => write_fds(ctx).contains(&(lo(0) as i32)),
            Args::GetFd => lo(1) == libc::F_GETFD as u32,
            Args::NoExec => lo(2) & libc::PROT_EXEC as u32 == 0,
            Args::HoldFd => ctx.hold_fd == Some(lo(0) as i32),
            Args::HoldPoll => ctx.hold_fd.is_some() && lo(1) == 1,
            Args::DiskFd => ctx.devices.disks.contains(&(lo(0) as i32)),
            Args::TapFd => ctx.devices.taps.contains(&(lo(0) as i32)),
        });
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
    for fd in [
        0,
        1,
        2,
        3,
        7,
        8,
        9,
        9 | high,
        7 | high,
        1 << 32,
        11,
        12,
        12 | high,
        13,
    ] {
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
    filter_matches_the_table(&ctx());
}

#[test]
fn without_a_hold_gate_or_devices_their_calls_are_not_allowed() {
    let allowed = filter_matches_the_table(&no_hold());
    for nr in [
        libc::SYS_read,
        libc::SYS_poll,
        libc::SYS_pread64,
        libc::SYS_pwrite64,
        libc::SYS_fdatasync,
    ] {
        assert!(!allowed.contains(&(nr as u32)), "{nr}");
    }
}

#[test]
fn device_calls_are_allowed_on_their_own_fds_only() {
    let prog = program(&ctx()).unwrap();
    let run = |nr: i64, fd: u64| {
        eval(
            &prog,
            &data(nr as u32, AUDIT_ARCH_X86_64, [fd, 0, 4096, 0, 0, 0]),
        )
    };
    for nr in [libc::SYS_pread64, libc::SYS_pwrite64, libc::SYS_fdatasync] {
        assert_eq!(run(nr, 11), RET_ALLOW, "{nr} on the disk");
        assert_eq!(run(nr, 12), RET_KILL, "{nr} on the TAP");
        assert_eq!(run(nr, 7), RET_KILL, "{nr} on the report pipe");
    }
    assert_eq!(run(libc::SYS_read, 12), RET_ALLOW, "read of the TAP");
    assert_eq!(run(libc::SYS_read, 9), RET_ALLOW, "read of the hold gate");
    assert_eq!(
        run(libc::SYS_read, 11),
        RET_KILL,
        "read (not pread) of the disk"
    );
    assert_eq!(run(libc::SYS_write, 12), RET_ALLOW, "write to the TAP");
    assert_eq!(
        run(libc::SYS_write, 11),
        RET_KILL,
        "write (not pwrite) to the disk"
    );
    // Vectored and other file calls stay refused, even on the devices' fds.
    for nr in [
        libc::SYS_preadv,
        libc::SYS_pwritev,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_fsync,
        libc::SYS_ftruncate,
        libc::SYS_lseek,
        libc::SYS_sendfile,
    ] {
        assert_eq!(run(nr, 11), RET_KILL, "{nr}");
        assert_eq!(run(nr, 12), RET_KILL, "{nr}");
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
        .filter(|a| match a.args {
            Args::HoldFd | Args::HoldPoll => ctx.hold_fd.is_some(),
            Args::DiskFd => !ctx.devices.disks.is_empty(),
            Args::TapFd => !ctx.devices.taps.is_empty(),
            _ => true,
        })
        .map(|a| a.nr as u32)
        .collect();
    assert_eq!(allowed, table);
    allowed
}

#[test]
fn conditions_pass_and_fail() {
    let prog = program(&ctx()).unwrap();
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
fn table_is_unique_and_explained_and_any_is_never_shared() {
    let mut entries: Vec<(i64, String)> = TABLE
        .iter()
        .map(|a| (a.nr, format!("{:?}", a.args)))
        .collect();
    entries.sort();
    entries.dedup();
    assert_eq!(entries.len(), TABLE.len());
    // A call with `Args::Any` is listed once: its empty rule list merged
    // with another entry's would no longer allow everything.
    for a in TABLE.iter().filter(|a| a.args == Args::Any) {
        assert_eq!(
            TABLE.iter().filter(|b| b.nr == a.nr).count(),
            1,
            "{}",
            a.name
        );
    }
    assert!(TABLE
        .iter()
        .all(|a| !a.why.is_empty() && !a.name.is_empty()));
}
