//! The compiled program, run by a small classic-BPF interpreter, against the
//! table: every number 0..=1023, x32 numbers, other architectures, and the
//! argument checks with arguments that pass and fail them.
use super::*;

/// Every namespace flag on its own (the oracle the filter's mask,
/// `CLONE_NEW_FLAGS`, is checked against one flag at a time).
const EACH_CLONE_NEW: [i32; 7] = [
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWCGROUP,
];

const JGT_K: u16 = 0x25; // BPF_JMP | BPF_JGT | BPF_K
const ALU_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

/// `struct seccomp_data`, as the kernel hands it to the filter.
#[derive(Clone, Copy, Debug)]
struct Data {
    nr: i32,
    arch: u32,
    instruction_pointer: u64,
    args: [u64; 6],
}

impl Data {
    fn call(nr: u32, args: [u64; 6]) -> Data {
        Data {
            nr: nr as i32,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0x7f12_3456_789a,
            args,
        }
    }

    /// The little-endian bytes of the struct (64 of them).
    fn bytes(&self) -> [u8; 64] {
        let mut b = [0u8; 64];
        b[0..4].copy_from_slice(&self.nr.to_le_bytes());
        b[4..8].copy_from_slice(&self.arch.to_le_bytes());
        b[8..16].copy_from_slice(&self.instruction_pointer.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        b
    }
}

/// One run of the program.
#[derive(Debug)]
struct Eval {
    ret: u32,
    /// Instructions executed, the RET included.
    steps: usize,
    /// Whether anything but `nr` and `arch` was loaded.
    read_beyond_nr: bool,
}

/// Runs `prog` on `data` like the kernel's classic BPF would; panics on an
/// opcode it does not implement, a load out of bounds, or a jump out of
/// the program.
fn eval(prog: &[sock_filter], data: &Data) -> Eval {
    let mem = data.bytes();
    let mut a: u32 = 0;
    let mut pc = 0usize;
    let mut steps = 0usize;
    let mut read_beyond_nr = false;
    loop {
        let Some(insn) = prog.get(pc) else {
            panic!("pc {pc} is outside the program ({} long)", prog.len());
        };
        steps += 1;
        assert!(steps <= prog.len(), "more steps than instructions");
        let next = pc + 1;
        let branch = |cond: bool| next + usize::from(if cond { insn.jt } else { insn.jf });
        pc = match insn.code {
            LD_W_ABS => {
                let off = insn.k as usize;
                assert!(off % 4 == 0 && off + 4 <= mem.len(), "load at {off}");
                read_beyond_nr |= off >= 8;
                a = u32::from_le_bytes(mem[off..off + 4].try_into().unwrap());
                next
            }
            JA => next + insn.k as usize,
            JEQ_K => branch(a == insn.k),
            JGT_K => branch(a > insn.k),
            JGE_K => branch(a >= insn.k),
            JSET_K => branch(a & insn.k != 0),
            ALU_AND_K => {
                a &= insn.k;
                next
            }
            RET_K => {
                return Eval {
                    ret: insn.k,
                    steps,
                    read_beyond_nr,
                }
            }
            other => panic!("opcode {other:#06x} at {pc} is not implemented"),
        };
    }
}

/// What each check means, written from its documentation (not from the
/// rules that compile it).
fn permits(check: ArgCheck, args: &[u64; 6]) -> bool {
    match check {
        ArgCheck::CloneWithoutNewNamespace => args[0] & CLONE_NEW_FLAGS == 0,
        ArgCheck::IoctlNotTerminalInjection => {
            let request = u64::from(args[1] as u32);
            request != libc::TIOCSTI && request != libc::TIOCLINUX
        }
        ArgCheck::PersonalityQuery => matches!(args[0] as u32, 0 | 0xffff_ffff),
        ArgCheck::SocketNotVsock => args[0] as u32 != libc::AF_VSOCK as u32,
    }
}

/// The answer the table says the filter must give.
fn expected(d: &Data) -> u32 {
    if d.arch != AUDIT_ARCH_X86_64 {
        return RET_KILL;
    }
    let nr = d.nr as u32;
    if nr & X32_SYSCALL_BIT != 0 {
        return RET_EPERM;
    }
    match lookup(nr).map(|s| s.verdict) {
        None | Some(Verdict::Absent) => RET_ENOSYS,
        Some(Verdict::Allow) => RET_ALLOW,
        Some(Verdict::Refuse) => RET_EPERM,
        Some(Verdict::AllowIf(check)) if permits(check, &d.args) => RET_ALLOW,
        Some(Verdict::AllowIf(_)) => RET_EPERM,
    }
}

fn one(arg: usize, v: u64) -> [u64; 6] {
    let mut a = [0u64; 6];
    a[arg] = v;
    a
}

/// Arguments that pass and that fail each check, and some noise.
fn arg_sets() -> Vec<[u64; 6]> {
    let mut v = vec![
        [0; 6],
        [u64::MAX; 6],
        [0x5555_5555_5555_5555; 6],
        [0xaaaa_aaaa_aaaa_aaaa; 6],
        [1, 2, 3, 4, 5, 6],
    ];
    let high = 0xdead_beef_0000_0000u64;
    for request in [
        libc::TIOCSTI,
        libc::TIOCLINUX,
        libc::TIOCSTI | 1 << 32,
        libc::TIOCSTI | high,
        libc::TIOCLINUX | 1 << 63,
        libc::FIONREAD,
        libc::TCGETS,
        libc::TIOCSTI + 1,
        libc::TIOCSTI << 32,
    ] {
        v.push(one(1, request));
    }
    for flag in EACH_CLONE_NEW {
        let flag = flag as u64;
        v.push(one(0, flag | libc::SIGCHLD as u64));
        v.push(one(0, flag | high));
    }
    let thread = libc::CLONE_VM
        | libc::CLONE_FS
        | libc::CLONE_FILES
        | libc::CLONE_SIGHAND
        | libc::CLONE_THREAD
        | libc::CLONE_SYSVSEM
        | libc::CLONE_SETTLS
        | libc::CLONE_PARENT_SETTID
        | libc::CLONE_CHILD_CLEARTID;
    for flags in [
        libc::SIGCHLD as u64,
        (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64,
        thread as u64,
        1 << 32,
        1 << 63,
    ] {
        v.push(one(0, flags));
    }
    for persona in [
        0,
        0xffff_ffff,
        0xffff_ffff | 1 << 32,
        1 << 32,
        0x0008,      // PER_LINUX32
        0x0040_0000, // READ_IMPLIES_EXEC
        0x0004_0000, // ADDR_NO_RANDOMIZE
        0xffff_fffe,
    ] {
        v.push(one(0, persona));
    }
    let vsock = libc::AF_VSOCK as u64;
    for domain in [vsock, vsock | 1 << 32, vsock | high, libc::AF_INET as u64] {
        v.push(one(0, domain));
    }
    v
}

#[test]
fn every_number_from_0_to_1023_gets_the_table_verdict() {
    let p = program().unwrap();
    let args = arg_sets();
    let mut seen = std::collections::BTreeSet::new();
    for nr in 0..1024u32 {
        for a in &args {
            let d = Data::call(nr, *a);
            let want = expected(&d);
            let got = eval(&p, &d).ret;
            assert_eq!(got, want, "nr {nr} {:?} args {a:x?}", lookup(nr));
            seen.insert(want);
        }
    }
    // Every answer occurs, so the comparison above cannot be vacuous.
    let all = [RET_ALLOW, RET_EPERM, RET_ENOSYS].into_iter().collect();
    assert_eq!(seen, all);
}

#[test]
fn the_argument_sets_pass_and_fail_every_check() {
    let args = arg_sets();
    for check in [
        ArgCheck::CloneWithoutNewNamespace,
        ArgCheck::IoctlNotTerminalInjection,
        ArgCheck::PersonalityQuery,
        ArgCheck::SocketNotVsock,
    ] {
        assert!(args.iter().any(|a| permits(check, a)), "{check:?}");
        assert!(args.iter().any(|a| !permits(check, a)), "{check:?}");
        assert!(TABLE.iter().any(|s| s.verdict == Verdict::AllowIf(check)));
    }
}

#[test]
fn x32_numbers_are_refused() {
    let p = program().unwrap();
    let samples = (0..1024u32).chain([0x3fff_ffff, 0x3fff_0000, 512, 547]);
    for nr in samples {
        for a in [[0; 6], one(1, libc::FIONREAD)] {
            let d = Data::call(X32_SYSCALL_BIT | nr, a);
            assert_eq!(eval(&p, &d).ret, RET_EPERM, "x32 nr {nr}");
        }
    }
    // -1 and the like carry the bit too; without it, beyond the table.
    assert_eq!(eval(&p, &Data::call(u32::MAX, [0; 6])).ret, RET_EPERM);
    assert_eq!(eval(&p, &Data::call(0x7fff_ffff, [0; 6])).ret, RET_EPERM);
    assert_eq!(eval(&p, &Data::call(0x8000_0000, [0; 6])).ret, RET_ENOSYS);
    assert_eq!(eval(&p, &Data::call(0xbfff_ffff, [0; 6])).ret, RET_ENOSYS);
}

#[test]
fn other_architectures_are_killed() {
    let p = program().unwrap();
    for arch in [
        AUDIT_ARCH_I386,
        AUDIT_ARCH_AARCH64,
        0,
        AUDIT_ARCH_X86_64 ^ 1,
    ] {
        for nr in [0u32, 39, 56, 425, 1000, X32_SYSCALL_BIT | 39] {
            let mut d = Data::call(nr, [0; 6]);
            d.arch = arch;
            assert_eq!(expected(&d), RET_KILL);
            assert_eq!(eval(&p, &d).ret, RET_KILL, "arch {arch:#x} nr {nr}");
        }
    }
}

fn by_name(name: &str) -> &'static Syscall {
    TABLE
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the table"))
}

fn answer(name: &str, args: [u64; 6]) -> u32 {
    eval(&program().unwrap(), &Data::call(by_name(name).nr, args)).ret
}

#[test]
fn the_dangerous_calls_are_refused() {
    let refused = [
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "modify_ldt",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "mount",
        "umount2",
        "pivot_root",
        "chroot",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "move_mount",
        "open_tree",
        "open_tree_attr",
        "mount_setattr",
        "unshare",
        "setns",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "kcmp",
        "pidfd_getfd",
        "open_by_handle_at",
        "name_to_handle_at",
        "reboot",
        "swapon",
        "swapoff",
        "acct",
        "settimeofday",
        "clock_settime",
        "clock_adjtime",
        "adjtimex",
        "syslog",
        "quotactl",
        "quotactl_fd",
        "iopl",
        "ioperm",
        "vhangup",
        "lookup_dcookie",
        "nfsservctl",
        "uselib",
        "_sysctl",
        "create_module",
        "get_kernel_syms",
        "query_module",
        "getpmsg",
        "putpmsg",
        "afs_syscall",
        "tuxcall",
        "security",
        "vserver",
        "epoll_ctl_old",
        "epoll_wait_old",
        "lsm_set_self_attr",
        "fanotify_init",
    ];
    for name in refused {
        assert_eq!(by_name(name).verdict, Verdict::Refuse, "{name}");
        for a in [[0; 6], [u64::MAX; 6]] {
            assert_eq!(answer(name, a), RET_EPERM, "{name}");
        }
    }
    assert_eq!(answer("clone3", [0; 6]), RET_ENOSYS);
}

#[test]
fn ordinary_calls_are_allowed() {
    let allowed = [
        "read",
        "write",
        "openat",
        "close",
        "fstat",
        "newfstatat",
        "statx",
        "lseek",
        "mmap",
        "mprotect",
        "munmap",
        "brk",
        "madvise",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "sigaltstack",
        "pipe2",
        "dup2",
        "fcntl",
        "getdents64",
        "fork",
        "vfork",
        "execve",
        "execveat",
        "wait4",
        "waitid",
        "exit_group",
        "futex",
        "set_robust_list",
        "rseq",
        "prctl",
        "arch_prctl",
        "set_tid_address",
        "getrandom",
        "clock_gettime",
        "clock_nanosleep",
        "nanosleep",
        "epoll_create1",
        "epoll_ctl",
        "epoll_pwait",
        "poll",
        "ppoll",
        "eventfd2",
        "timerfd_create",
        "signalfd4",
        "bind",
        "listen",
        "accept4",
        "connect",
        "sendto",
        "recvfrom",
        "setsockopt",
        "getpid",
        "gettid",
        "kill",
        "tgkill",
        "uname",
        "sched_getaffinity",
        "prlimit64",
        "getuid",
        "close_range",
        "uretprobe",
        "uprobe",
    ];
    for name in allowed {
        assert_eq!(by_name(name).verdict, Verdict::Allow, "{name}");
        assert_eq!(answer(name, [0; 6]), RET_ALLOW, "{name}");
    }
}

#[test]
fn unknown_numbers_answer_enosys() {
    let p = program().unwrap();
    for nr in [337, 400, 423, 470, 471, 512, 547, 1000, 4095, 0x3fff_ffff] {
        assert!(lookup(nr).is_none());
        assert_eq!(eval(&p, &Data::call(nr, [0; 6])).ret, RET_ENOSYS, "{nr}");
    }
}

#[test]
fn the_argument_checks_answer_as_documented() {
    let ioctl = |request: u64| answer("ioctl", one(1, request));
    assert_eq!(ioctl(libc::TIOCSTI), RET_EPERM);
    assert_eq!(ioctl(libc::TIOCLINUX), RET_EPERM);
    // The kernel reads the request as 32 bits: high bits must not help.
    assert_eq!(ioctl(libc::TIOCSTI | 1 << 32), RET_EPERM);
    assert_eq!(ioctl(libc::TIOCSTI | 0xffff_ffff_0000_0000), RET_EPERM);
    assert_eq!(ioctl(libc::TIOCLINUX | 1 << 63), RET_EPERM);
    assert_eq!(ioctl(libc::FIONREAD), RET_ALLOW);
    assert_eq!(ioctl(libc::TCGETS), RET_ALLOW);
    assert_eq!(ioctl(libc::TIOCSTI << 32), RET_ALLOW);

    let clone = |flags: u64| answer("clone", one(0, flags));
    assert_eq!(clone(libc::SIGCHLD as u64), RET_ALLOW);
    assert_eq!(
        clone((libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64),
        RET_ALLOW
    );
    assert_eq!(
        clone((libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND) as u64),
        RET_ALLOW
    );
    for flag in EACH_CLONE_NEW {
        assert_eq!(clone(flag as u64 | libc::SIGCHLD as u64), RET_EPERM);
        assert_eq!(clone(flag as u64 | 1 << 40), RET_EPERM);
    }

    let personality = |p: u64| answer("personality", one(0, p));
    assert_eq!(personality(0), RET_ALLOW);
    assert_eq!(personality(0xffff_ffff), RET_ALLOW);
    assert_eq!(personality(0x1_ffff_ffff), RET_ALLOW);
    assert_eq!(personality(0x0008), RET_EPERM);
    assert_eq!(personality(0x0040_0000), RET_EPERM);
    assert_eq!(personality(0x0004_0000), RET_EPERM);
    assert_eq!(personality(0x1_0000_0008), RET_EPERM);

    let socket = |domain: i32, high: u64| answer("socket", one(0, domain as u64 | high));
    assert_eq!(socket(libc::AF_VSOCK, 0), RET_EPERM);
    assert_eq!(socket(libc::AF_VSOCK, 1 << 32), RET_EPERM);
    for domain in [
        libc::AF_INET,
        libc::AF_INET6,
        libc::AF_UNIX,
        libc::AF_NETLINK,
    ] {
        assert_eq!(socket(domain, 0), RET_ALLOW);
    }
}

/// Numbers and names of the calls libc knows, to check the table against.
const LIBC: &[(i64, &str)] = &[
    (libc::SYS_read, "read"),
    (libc::SYS_write, "write"),
    (libc::SYS_open, "open"),
    (libc::SYS_close, "close"),
    (libc::SYS_stat, "stat"),
    (libc::SYS_fstat, "fstat"),
    (libc::SYS_lstat, "lstat"),
    (libc::SYS_poll, "poll"),
    (libc::SYS_lseek, "lseek"),
    (libc::SYS_mmap, "mmap"),
    (libc::SYS_mprotect, "mprotect"),
    (libc::SYS_munmap, "munmap"),
    (libc::SYS_brk, "brk"),
    (libc::SYS_rt_sigaction, "rt_sigaction"),
    (libc::SYS_rt_sigprocmask, "rt_sigprocmask"),
    (libc::SYS_rt_sigreturn, "rt_sigreturn"),
    (libc::SYS_ioctl, "ioctl"),
    (libc::SYS_pread64, "pread64"),
    (libc::SYS_pwrite64, "pwrite64"),
    (libc::SYS_readv, "readv"),
    (libc::SYS_writev, "writev"),
    (libc::SYS_access, "access"),
    (libc::SYS_pipe, "pipe"),
    (libc::SYS_select, "select"),
    (libc::SYS_sched_yield, "sched_yield"),
    (libc::SYS_mremap, "mremap"),
    (libc::SYS_msync, "msync"),
    (libc::SYS_mincore, "mincore"),
    (libc::SYS_madvise, "madvise"),
    (libc::SYS_shmget, "shmget"),
    (libc::SYS_shmat, "shmat"),
    (libc::SYS_shmctl, "shmctl"),
    (libc::SYS_dup, "dup"),
    (libc::SYS_dup2, "dup2"),
    (libc::SYS_pause, "pause"),
    (libc::SYS_nanosleep, "nanosleep"),
    (libc::SYS_getitimer, "getitimer"),
    (libc::SYS_alarm, "alarm"),
    (libc::SYS_setitimer, "setitimer"),
    (libc::SYS_getpid, "getpid"),
    (libc::SYS_sendfile, "sendfile"),
    (libc::SYS_socket, "socket"),
    (libc::SYS_connect, "connect"),
    (libc::SYS_accept, "accept"),
    (libc::SYS_sendto, "sendto"),
    (libc::SYS_recvfrom, "recvfrom"),
    (libc::SYS_sendmsg, "sendmsg"),
    (libc::SYS_recvmsg, "recvmsg"),
    (libc::SYS_shutdown, "shutdown"),
    (libc::SYS_bind, "bind"),
    (libc::SYS_listen, "listen"),
    (libc::SYS_getsockname, "getsockname"),
    (libc::SYS_getpeername, "getpeername"),
    (libc::SYS_socketpair, "socketpair"),
    (libc::SYS_setsockopt, "setsockopt"),
    (libc::SYS_getsockopt, "getsockopt"),
    (libc::SYS_clone, "clone"),
    (libc::SYS_fork, "fork"),
    (libc::SYS_vfork, "vfork"),
    (libc::SYS_execve, "execve"),
    (libc::SYS_exit, "exit"),
    (libc::SYS_wait4, "wait4"),
    (libc::SYS_kill, "kill"),
    (libc::SYS_uname, "uname"),
    (libc::SYS_semget, "semget"),
    (libc::SYS_semop, "semop"),
    (libc::SYS_semctl, "semctl"),
    (libc::SYS_shmdt, "shmdt"),
    (libc::SYS_msgget, "msgget"),
    (libc::SYS_msgsnd, "msgsnd"),
    (libc::SYS_msgrcv, "msgrcv"),
    (libc::SYS_msgctl, "msgctl"),
    (libc::SYS_fcntl, "fcntl"),
    (libc::SYS_flock, "flock"),
    (libc::SYS_fsync, "fsync"),
    (libc::SYS_fdatasync, "fdatasync"),
    (libc::SYS_truncate, "truncate"),
    (libc::SYS_ftruncate, "ftruncate"),
    (libc::SYS_getdents, "getdents"),
    (libc::SYS_getcwd, "getcwd"),
    (libc::SYS_chdir, "chdir"),
    (libc::SYS_fchdir, "fchdir"),
    (libc::SYS_rename, "rename"),
    (libc::SYS_mkdir, "mkdir"),
    (libc::SYS_rmdir, "rmdir"),
    (libc::SYS_creat, "creat"),
    (libc::SYS_link, "link"),
    (libc::SYS_unlink, "unlink"),
    (libc::SYS_symlink, "symlink"),
    (libc::SYS_readlink, "readlink"),
    (libc::SYS_chmod, "chmod"),
    (libc::SYS_fchmod, "fchmod"),
    (libc::SYS_chown, "chown"),
    (libc::SYS_fchown, "fchown"),
    (libc::SYS_lchown, "lchown"),
    (libc::SYS_umask, "umask"),
    (libc::SYS_gettimeofday, "gettimeofday"),
    (libc::SYS_getrlimit, "getrlimit"),
    (libc::SYS_getrusage, "getrusage"),
    (libc::SYS_sysinfo, "sysinfo"),
    (libc::SYS_times, "times"),
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_getuid, "getuid"),
    (libc::SYS_syslog, "syslog"),
    (libc::SYS_getgid, "getgid"),
    (libc::SYS_setuid, "setuid"),
    (libc::SYS_setgid, "setgid"),
    (libc::SYS_geteuid, "geteuid"),
    (libc::SYS_getegid, "getegid"),
    (libc::SYS_setpgid, "setpgid"),
    (libc::SYS_getppid, "getppid"),
    (libc::SYS_getpgrp, "getpgrp"),
    (libc::SYS_setsid, "setsid"),
    (libc::SYS_setreuid, "setreuid"),
    (libc::SYS_setregid, "setregid"),
    (libc::SYS_getgroups, "getgroups"),
    (libc::SYS_setgroups, "setgroups"),
    (libc::SYS_setresuid, "setresuid"),
    (libc::SYS_getresuid, "getresuid"),
    (libc::SYS_setresgid, "setresgid"),
    (libc::SYS_getresgid, "getresgid"),
    (libc::SYS_getpgid, "getpgid"),
    (libc::SYS_setfsuid, "setfsuid"),
    (libc::SYS_setfsgid, "setfsgid"),
    (libc::SYS_getsid, "getsid"),
    (libc::SYS_capget, "capget"),
    (libc::SYS_capset, "capset"),
    (libc::SYS_rt_sigpending, "rt_sigpending"),
    (libc::SYS_rt_sigtimedwait, "rt_sigtimedwait"),
    (libc::SYS_rt_sigqueueinfo, "rt_sigqueueinfo"),
    (libc::SYS_rt_sigsuspend, "rt_sigsuspend"),
    (libc::SYS_sigaltstack, "sigaltstack"),
    (libc::SYS_utime, "utime"),
    (libc::SYS_mknod, "mknod"),
    (libc::SYS_uselib, "uselib"),
    (libc::SYS_personality, "personality"),
    (libc::SYS_ustat, "ustat"),
    (libc::SYS_statfs, "statfs"),
    (libc::SYS_fstatfs, "fstatfs"),
    (libc::SYS_sysfs, "sysfs"),
    (libc::SYS_getpriority, "getpriority"),
    (libc::SYS_setpriority, "setpriority"),
    (libc::SYS_sched_setparam, "sched_setparam"),
    (libc::SYS_sched_getparam, "sched_getparam"),
    (libc::SYS_sched_setscheduler, "sched_setscheduler"),
    (libc::SYS_sched_getscheduler, "sched_getscheduler"),
    (libc::SYS_sched_get_priority_max, "sched_get_priority_max"),
    (libc::SYS_sched_get_priority_min, "sched_get_priority_min"),
    (libc::SYS_sched_rr_get_interval, "sched_rr_get_interval"),
    (libc::SYS_mlock, "mlock"),
    (libc::SYS_munlock, "munlock"),
    (libc::SYS_mlockall, "mlockall"),
    (libc::SYS_munlockall, "munlockall"),
    (libc::SYS_vhangup, "vhangup"),
    (libc::SYS_modify_ldt, "modify_ldt"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS__sysctl, "_sysctl"),
    (libc::SYS_prctl, "prctl"),
    (libc::SYS_arch_prctl, "arch_prctl"),
    (libc::SYS_adjtimex, "adjtimex"),
    (libc::SYS_setrlimit, "setrlimit"),
    (libc::SYS_chroot, "chroot"),
    (libc::SYS_sync, "sync"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_settimeofday, "settimeofday"),
    (libc::SYS_mount, "mount"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_sethostname, "sethostname"),
    (libc::SYS_setdomainname, "setdomainname"),
    (libc::SYS_iopl, "iopl"),
    (libc::SYS_ioperm, "ioperm"),
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_quotactl, "quotactl"),
    (libc::SYS_nfsservctl, "nfsservctl"),
    (libc::SYS_getpmsg, "getpmsg"),
    (libc::SYS_putpmsg, "putpmsg"),
    (libc::SYS_afs_syscall, "afs_syscall"),
    (libc::SYS_tuxcall, "tuxcall"),
    (libc::SYS_security, "security"),
    (libc::SYS_gettid, "gettid"),
    (libc::SYS_readahead, "readahead"),
    (libc::SYS_setxattr, "setxattr"),
    (libc::SYS_lsetxattr, "lsetxattr"),
    (libc::SYS_fsetxattr, "fsetxattr"),
    (libc::SYS_getxattr, "getxattr"),
    (libc::SYS_lgetxattr, "lgetxattr"),
    (libc::SYS_fgetxattr, "fgetxattr"),
    (libc::SYS_listxattr, "listxattr"),
    (libc::SYS_llistxattr, "llistxattr"),
    (libc::SYS_flistxattr, "flistxattr"),
    (libc::SYS_removexattr, "removexattr"),
    (libc::SYS_lremovexattr, "lremovexattr"),
    (libc::SYS_fremovexattr, "fremovexattr"),
    (libc::SYS_tkill, "tkill"),
    (libc::SYS_time, "time"),
    (libc::SYS_futex, "futex"),
    (libc::SYS_sched_setaffinity, "sched_setaffinity"),
    (libc::SYS_sched_getaffinity, "sched_getaffinity"),
    (libc::SYS_set_thread_area, "set_thread_area"),
    (libc::SYS_io_setup, "io_setup"),
    (libc::SYS_io_destroy, "io_destroy"),
    (libc::SYS_io_getevents, "io_getevents"),
    (libc::SYS_io_submit, "io_submit"),
    (libc::SYS_io_cancel, "io_cancel"),
    (libc::SYS_get_thread_area, "get_thread_area"),
    (libc::SYS_lookup_dcookie, "lookup_dcookie"),
    (libc::SYS_epoll_create, "epoll_create"),
    (libc::SYS_epoll_ctl_old, "epoll_ctl_old"),
    (libc::SYS_epoll_wait_old, "epoll_wait_old"),
    (libc::SYS_remap_file_pages, "remap_file_pages"),
    (libc::SYS_getdents64, "getdents64"),
    (libc::SYS_set_tid_address, "set_tid_address"),
    (libc::SYS_restart_syscall, "restart_syscall"),
    (libc::SYS_semtimedop, "semtimedop"),
    (libc::SYS_fadvise64, "fadvise64"),
    (libc::SYS_timer_create, "timer_create"),
    (libc::SYS_timer_settime, "timer_settime"),
    (libc::SYS_timer_gettime, "timer_gettime"),
    (libc::SYS_timer_getoverrun, "timer_getoverrun"),
    (libc::SYS_timer_delete, "timer_delete"),
    (libc::SYS_clock_settime, "clock_settime"),
    (libc::SYS_clock_gettime, "clock_gettime"),
    (libc::SYS_clock_getres, "clock_getres"),
    (libc::SYS_clock_nanosleep, "clock_nanosleep"),
    (libc::SYS_exit_group, "exit_group"),
    (libc::SYS_epoll_wait, "epoll_wait"),
    (libc::SYS_epoll_ctl, "epoll_ctl"),
    (libc::SYS_tgkill, "tgkill"),
    (libc::SYS_utimes, "utimes"),
    (libc::SYS_vserver, "vserver"),
    (libc::SYS_mbind, "mbind"),
    (libc::SYS_set_mempolicy, "set_mempolicy"),
    (libc::SYS_get_mempolicy, "get_mempolicy"),
    (libc::SYS_mq_open, "mq_open"),
    (libc::SYS_mq_unlink, "mq_unlink"),
    (libc::SYS_mq_timedsend, "mq_timedsend"),
    (libc::SYS_mq_timedreceive, "mq_timedreceive"),
    (libc::SYS_mq_notify, "mq_notify"),
    (libc::SYS_mq_getsetattr, "mq_getsetattr"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_waitid, "waitid"),
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_request_key, "request_key"),
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_ioprio_set, "ioprio_set"),
    (libc::SYS_ioprio_get, "ioprio_get"),
    (libc::SYS_inotify_init, "inotify_init"),
    (libc::SYS_inotify_add_watch, "inotify_add_watch"),
    (libc::SYS_inotify_rm_watch, "inotify_rm_watch"),
    (libc::SYS_migrate_pages, "migrate_pages"),
    (libc::SYS_openat, "openat"),
    (libc::SYS_mkdirat, "mkdirat"),
    (libc::SYS_mknodat, "mknodat"),
    (libc::SYS_fchownat, "fchownat"),
    (libc::SYS_futimesat, "futimesat"),
    (libc::SYS_newfstatat, "newfstatat"),
    (libc::SYS_unlinkat, "unlinkat"),
    (libc::SYS_renameat, "renameat"),
    (libc::SYS_linkat, "linkat"),
    (libc::SYS_symlinkat, "symlinkat"),
    (libc::SYS_readlinkat, "readlinkat"),
    (libc::SYS_fchmodat, "fchmodat"),
    (libc::SYS_faccessat, "faccessat"),
    (libc::SYS_pselect6, "pselect6"),
    (libc::SYS_ppoll, "ppoll"),
    (libc::SYS_unshare, "unshare"),
    (libc::SYS_set_robust_list, "set_robust_list"),
    (libc::SYS_get_robust_list, "get_robust_list"),
    (libc::SYS_splice, "splice"),
    (libc::SYS_tee, "tee"),
    (libc::SYS_sync_file_range, "sync_file_range"),
    (libc::SYS_vmsplice, "vmsplice"),
    (libc::SYS_move_pages, "move_pages"),
    (libc::SYS_utimensat, "utimensat"),
    (libc::SYS_epoll_pwait, "epoll_pwait"),
    (libc::SYS_signalfd, "signalfd"),
    (libc::SYS_timerfd_create, "timerfd_create"),
    (libc::SYS_eventfd, "eventfd"),
    (libc::SYS_fallocate, "fallocate"),
    (libc::SYS_timerfd_settime, "timerfd_settime"),
    (libc::SYS_timerfd_gettime, "timerfd_gettime"),
    (libc::SYS_accept4, "accept4"),
    (libc::SYS_signalfd4, "signalfd4"),
    (libc::SYS_eventfd2, "eventfd2"),
    (libc::SYS_epoll_create1, "epoll_create1"),
    (libc::SYS_dup3, "dup3"),
    (libc::SYS_pipe2, "pipe2"),
    (libc::SYS_inotify_init1, "inotify_init1"),
    (libc::SYS_preadv, "preadv"),
    (libc::SYS_pwritev, "pwritev"),
    (libc::SYS_rt_tgsigqueueinfo, "rt_tgsigqueueinfo"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_recvmmsg, "recvmmsg"),
    (libc::SYS_fanotify_init, "fanotify_init"),
    (libc::SYS_fanotify_mark, "fanotify_mark"),
    (libc::SYS_prlimit64, "prlimit64"),
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
    (libc::SYS_clock_adjtime, "clock_adjtime"),
    (libc::SYS_syncfs, "syncfs"),
    (libc::SYS_sendmmsg, "sendmmsg"),
    (libc::SYS_setns, "setns"),
    (libc::SYS_getcpu, "getcpu"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_kcmp, "kcmp"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_sched_setattr, "sched_setattr"),
    (libc::SYS_sched_getattr, "sched_getattr"),
    (libc::SYS_renameat2, "renameat2"),
    (libc::SYS_seccomp, "seccomp"),
    (libc::SYS_getrandom, "getrandom"),
    (libc::SYS_memfd_create, "memfd_create"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_execveat, "execveat"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    (libc::SYS_membarrier, "membarrier"),
    (libc::SYS_mlock2, "mlock2"),
    (libc::SYS_copy_file_range, "copy_file_range"),
    (libc::SYS_preadv2, "preadv2"),
    (libc::SYS_pwritev2, "pwritev2"),
    (libc::SYS_pkey_mprotect, "pkey_mprotect"),
    (libc::SYS_pkey_alloc, "pkey_alloc"),
    (libc::SYS_pkey_free, "pkey_free"),
    (libc::SYS_statx, "statx"),
    (libc::SYS_rseq, "rseq"),
    (libc::SYS_pidfd_send_signal, "pidfd_send_signal"),
    (libc::SYS_io_uring_setup, "io_uring_setup"),
    (libc::SYS_io_uring_enter, "io_uring_enter"),
    (libc::SYS_io_uring_register, "io_uring_register"),
    (libc::SYS_open_tree, "open_tree"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_fsopen, "fsopen"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fsmount, "fsmount"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_pidfd_open, "pidfd_open"),
    (libc::SYS_clone3, "clone3"),
    (libc::SYS_close_range, "close_range"),
    (libc::SYS_openat2, "openat2"),
    (libc::SYS_pidfd_getfd, "pidfd_getfd"),
    (libc::SYS_faccessat2, "faccessat2"),
    (libc::SYS_process_madvise, "process_madvise"),
    (libc::SYS_epoll_pwait2, "epoll_pwait2"),
    (libc::SYS_mount_setattr, "mount_setattr"),
    (libc::SYS_quotactl_fd, "quotactl_fd"),
    (libc::SYS_landlock_create_ruleset, "landlock_create_ruleset"),
    (libc::SYS_landlock_add_rule, "landlock_add_rule"),
    (libc::SYS_landlock_restrict_self, "landlock_restrict_self"),
    (libc::SYS_memfd_secret, "memfd_secret"),
    (libc::SYS_process_mrelease, "process_mrelease"),
    (libc::SYS_futex_waitv, "futex_waitv"),
    (libc::SYS_set_mempolicy_home_node, "set_mempolicy_home_node"),
    (libc::SYS_fchmodat2, "fchmodat2"),
    (libc::SYS_mseal, "mseal"),
];

#[test]
fn the_table_is_the_kernel_table() {
    let nrs: Vec<u32> = TABLE.iter().map(|s| s.nr).collect();
    let want: Vec<u32> = (0..=336).chain(424..=469).collect();
    assert_eq!(nrs, want, "ascending, without gaps but 337..=423");
    let mut names: Vec<&str> = TABLE.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), TABLE.len(), "names are unique");
    assert!(TABLE.iter().all(|s| !s.why.is_empty()));
    assert_eq!(LIBC.len(), 360);
    for &(nr, name) in LIBC {
        assert_eq!(by_name(name).nr as i64, nr, "{name}");
    }
    // The calls newer than libc's list, from the kernel's syscall_64.tbl.
    for (nr, name) in [
        (335, "uretprobe"),
        (336, "uprobe"),
        (451, "cachestat"),
        (453, "map_shadow_stack"),
        (454, "futex_wake"),
        (455, "futex_wait"),
        (456, "futex_requeue"),
        (457, "statmount"),
        (458, "listmount"),
        (459, "lsm_get_self_attr"),
        (460, "lsm_set_self_attr"),
        (461, "lsm_list_modules"),
        (463, "setxattrat"),
        (464, "getxattrat"),
        (465, "listxattrat"),
        (466, "removexattrat"),
        (467, "open_tree_attr"),
        (468, "file_getattr"),
        (469, "file_setattr"),
    ] {
        assert_eq!(by_name(name).nr, nr, "{name}");
    }
}

#[test]
fn allowed_numbers_never_look_at_arguments() {
    // So the kernel's action cache can mark them always allowed.
    let p = program().unwrap();
    for s in TABLE {
        let e = eval(&p, &Data::call(s.nr, [u64::MAX; 6]));
        let constant = !matches!(s.verdict, Verdict::AllowIf(_));
        assert_eq!(e.read_beyond_nr, !constant, "{}", s.name);
    }
}

#[test]
fn the_program_is_short_and_its_paths_are_short() {
    let p = program().unwrap();
    // Every instruction is one the interpreter knows, reached or not.
    let known = [LD_W_ABS, JA, JEQ_K, JGT_K, JGE_K, JSET_K, ALU_AND_K, RET_K];
    assert!(p.iter().all(|i| known.contains(&i.code)));
    let args = arg_sets();
    let (mut longest, mut longest_constant) = (0, 0);
    for nr in (0..1024u32).chain([X32_SYSCALL_BIT | 39, 0x8000_0000]) {
        for a in &args {
            let e = eval(&p, &Data::call(nr, *a));
            longest = longest.max(e.steps);
            if !e.read_beyond_nr {
                longest_constant = longest_constant.max(e.steps);
            }
        }
    }
    eprintln!(
        "program: {} instructions, longest path {longest}, longest constant path {longest_constant}",
        p.len()
    );
    // The numbers the module documentation states.
    assert_eq!(p.len(), 189);
    assert_eq!(longest, 18);
    assert_eq!(longest_constant, 12);
}
