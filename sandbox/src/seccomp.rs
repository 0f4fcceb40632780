//! The seccomp allow-list, compiled to BPF in the parent before cloning.
//!
//! # Policy
//! One table, [`TABLE`] (in `sandbox/src/seccomp/table.rs`), lists every
//! x86_64 system call number the policy knows — 0..=336 and 424..=469, the
//! whole table of Linux 6.18 — with its name, its [`Verdict`] and why:
//! - [`Verdict::Allow`]: what ordinary programs need (file and descriptor
//!   I/O, memory, signals, clocks, processes and threads, sockets, IPC);
//! - [`Verdict::AllowIf`]: allowed when an argument condition holds, `EPERM`
//!   otherwise ([`ArgCheck`]): `clone` without any `CLONE_NEW*` flag, `ioctl`
//!   except `TIOCSTI`/`TIOCLINUX`, `personality` queries only, `socket` but
//!   not `AF_VSOCK` (vsock is not network-namespaced: it reaches the host, or
//!   the hypervisor's agents when vmlab runs in a VM);
//! - [`Verdict::Refuse`]: `EPERM` (mounts, namespaces, kernel code, io_uring,
//!   keys, other processes, host state, ...);
//! - [`Verdict::Absent`]: `ENOSYS`, as if the kernel lacked the call. Only
//!   `clone3`: its flags live in memory the filter cannot read, and libc
//!   falls back to `clone` on `ENOSYS`, whose flags the filter checks.
//!
//! Numbers the table does not know — the gap 337..=423 and everything above
//! 469, so every call a later kernel adds — answer `ENOSYS`: the new call
//! looks absent and libc takes the fallback it has for older kernels.
//!
//! Only `AUDIT_ARCH_X86_64` may call: any other arch (the i386 entry, `int
//! 0x80`) kills the process. A number with the x32 bit (`0x40000000`) is
//! refused with `EPERM`, whatever the rest: x32 is another ABI and another
//! table, and none of it is allowed. `EPERM`, not `ENOSYS`, because it is a
//! refusal, and because the kernel's own answer when x32 is off is `ENOSYS`,
//! so a probe can tell that the filter answered.
//!
//! `prctl` is allowed whole: the options that could matter need what the
//! workload lacks (`PR_SET_MM`: `CAP_SYS_RESOURCE`; `PR_SET_SECUREBITS`:
//! `CAP_SETPCAP`; raising an ambient capability: an inheritable one, and that
//! set is empty), and the rest tighten (`PR_SET_NO_NEW_PRIVS`, seccomp) or
//! concern the process itself.
//!
//! Arguments the kernel takes as 32-bit (`ioctl`'s request, `personality`'s
//! persona, `socket`'s domain) are compared on their low 32 bits only, so high bits cannot
//! slip a refused value past the filter. `clone`'s flags are compared on all
//! 64 bits (the kernel reads the low 32).
//!
//! # Program
//! [`program`] compiles the table (once per process, see
//! `plan::cached_seccomp`):
//! 1. prefix: load `arch`; not x86_64 → `KILL_PROCESS`; load `nr`; x32 bit
//!    set → `ERRNO(EPERM)`;
//! 2. a balanced binary search (`JGE`) over the runs of consecutive numbers
//!    with the same answer (every number from 0 to `u32::MAX` falls in one
//!    run; above 469 is one `ENOSYS` run), a long left branch reached with a
//!    `JA` when it is more than 255 instructions away;
//! 3. leaves: one `RET` for a constant answer, or for an [`ArgCheck`] the
//!    argument rules compiled by seccompiler (`SeccompRule`, which falls
//!    through when it matches and jumps past the next instruction when it
//!    does not) followed by the two `RET`s.
//!
//! The program is 189 instructions long (limit 4096). The longest path is 18
//! instructions (through an argument check); a call with a constant answer
//! takes at most 12 (4 of the prefix, at most 7 of the search, 1 `RET`),
//! where seccompiler's linear layout would walk about two instructions per
//! table entry before it. The unit tests measure these numbers over every
//! number 0..=1023. Because
//! the prefix and the search read only `arch` and `nr`, Linux (5.11 and
//! later) can prove each unconditionally allowed number always allowed and
//! skips the filter for it altogether (the seccomp action cache).
use seccompiler::{
    sock_filter, BpfProgram, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule,
};

mod table;

pub use table::TABLE;

/// The seccomp filter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("the seccomp filter could not be compiled")]
pub struct SeccompError(#[from] seccompiler::BackendError);

/// What the filter answers for one system call number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed.
    Allow,
    /// Allowed when the check holds, `EPERM` otherwise.
    AllowIf(ArgCheck),
    /// Refused: `EPERM`.
    Refuse,
    /// Answered `ENOSYS`, as if the kernel lacked it.
    Absent,
}

/// An argument condition for [`Verdict::AllowIf`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgCheck {
    /// `clone`: the flags (argument 0, 64 bits) hold none of
    /// [`CLONE_NEW_FLAGS`].
    CloneWithoutNewNamespace,
    /// `ioctl`: the request (argument 1, low 32 bits) is neither `TIOCSTI`
    /// (push bytes into the terminal's input) nor `TIOCLINUX` (console
    /// selection and pasting), the terminal-injection requests.
    IoctlNotTerminalInjection,
    /// `personality`: the persona (argument 0, low 32 bits) is `0` or
    /// `0xffffffff`, the query values (on a process with the default
    /// persona `0` is a no-op); setting one (`READ_IMPLIES_EXEC`,
    /// `ADDR_NO_RANDOMIZE`, `PER_LINUX32`, ...) weakens the process.
    PersonalityQuery,
    /// `socket`: the domain (argument 0, low 32 bits) is not `AF_VSOCK`.
    SocketNotVsock,
}

/// One known system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// Its x86_64 number.
    pub nr: u32,
    /// Its name in the kernel's table.
    pub name: &'static str,
    /// What the filter answers.
    pub verdict: Verdict,
    /// Why (shared by a group of calls).
    pub why: &'static str,
}

/// `clone` flags that create namespaces; `clone` with any of them is
/// refused. (`CLONE_NEWTIME` is `clone3`/`unshare` only: in `clone`'s flags
/// its bit is part of the exit signal.)
pub const CLONE_NEW_FLAGS: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWCGROUP) as u64;

/// The x32 ABI marker in a system call number.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `AUDIT_ARCH_X86_64`: the only architecture allowed.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// The filter's answer for an allowed call.
pub const RET_ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
/// The filter's answer for a refused call.
pub const RET_EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
/// The filter's answer for a call it treats as absent.
pub const RET_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
/// The filter's answer for another architecture.
pub const RET_KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

/// The table's entry for `nr`, if the policy knows it.
pub fn lookup(nr: u32) -> Option<&'static Syscall> {
    TABLE
        .binary_search_by_key(&nr, |s| s.nr)
        .ok()
        .map(|i| &TABLE[i])
}

/// How many calls are allowed, unconditionally or under a check.
pub fn allowed() -> usize {
    TABLE
        .iter()
        .filter(|s| matches!(s.verdict, Verdict::Allow | Verdict::AllowIf(_)))
        .count()
}

// Classic BPF opcodes (linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K: u16 = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
                         // Offsets in struct seccomp_data.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// What the search ends in for one run of numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    Check(ArgCheck),
}

impl Verdict {
    fn leaf(self) -> Leaf {
        match self {
            Verdict::Allow => Leaf::Ret(RET_ALLOW),
            Verdict::AllowIf(check) => Leaf::Check(check),
            Verdict::Refuse => Leaf::Ret(RET_EPERM),
            Verdict::Absent => Leaf::Ret(RET_ENOSYS),
        }
    }
}

/// Consecutive numbers from `start` up to the next run's start (the last
/// run: up to `u32::MAX`) with one leaf.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: u32,
    leaf: Leaf,
}

fn runs() -> Vec<Run> {
    let top = TABLE.last().map_or(0, |s| s.nr + 1);
    let mut out: Vec<Run> = Vec::new();
    for nr in 0..=top {
        let leaf = lookup(nr).map_or(Leaf::Ret(RET_ENOSYS), |s| s.verdict.leaf());
        if out.last().map(|r| r.leaf) != Some(leaf) {
            out.push(Run { start: nr, leaf });
        }
    }
    out
}

fn dword(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompRule, SeccompError> {
    let cond = SeccompCondition::new(arg, SeccompCmpArgLen::Dword, op, value)?;
    Ok(SeccompRule::new(vec![cond])?)
}

impl ArgCheck {
    /// Rules (any may match), the answer when one matches, the answer when
    /// none does.
    fn rules(self) -> Result<(Vec<SeccompRule>, u32, u32), SeccompError> {
        Ok(match self {
            ArgCheck::CloneWithoutNewNamespace => {
                let cond = SeccompCondition::new(
                    0,
                    SeccompCmpArgLen::Qword,
                    SeccompCmpOp::MaskedEq(CLONE_NEW_FLAGS),
                    0,
                )?;
                (vec![SeccompRule::new(vec![cond])?], RET_ALLOW, RET_EPERM)
            }
            ArgCheck::IoctlNotTerminalInjection => (
                vec![
                    dword(1, SeccompCmpOp::Eq, libc::TIOCSTI)?,
                    dword(1, SeccompCmpOp::Eq, libc::TIOCLINUX)?,
                ],
                RET_EPERM,
                RET_ALLOW,
            ),
            ArgCheck::PersonalityQuery => (
                vec![
                    dword(0, SeccompCmpOp::Eq, 0)?,
                    dword(0, SeccompCmpOp::Eq, 0xffff_ffff)?,
                ],
                RET_ALLOW,
                RET_EPERM,
            ),
            ArgCheck::SocketNotVsock => (
                vec![dword(0, SeccompCmpOp::Eq, libc::AF_VSOCK as u64)?],
                RET_EPERM,
                RET_ALLOW,
            ),
        })
    }
}

fn leaf_code(leaf: Leaf) -> Result<Vec<sock_filter>, SeccompError> {
    match leaf {
        Leaf::Ret(k) => Ok(vec![stmt(RET_K, k)]),
        Leaf::Check(check) => {
            let (rules, matched, otherwise) = check.rules()?;
            let mut out = Vec::new();
            for rule in rules {
                // A rule falls through when all its conditions hold and
                // jumps over the instruction after it when one fails: to the
                // next rule, or to the last RET.
                out.extend(BpfProgram::from(rule));
                out.push(stmt(RET_K, matched));
            }
            out.push(stmt(RET_K, otherwise));
            Ok(out)
        }
    }
}

/// The search over `runs`, which ends in a `RET` on every path.
fn search(runs: &[Run]) -> Result<Vec<sock_filter>, SeccompError> {
    if let [run] = runs {
        return leaf_code(run.leaf);
    }
    let mid = runs.len() / 2;
    let left = search(&runs[..mid])?;
    let right = search(&runs[mid..])?;
    let mut out = Vec::with_capacity(left.len() + right.len() + 2);
    match u8::try_from(left.len()) {
        Ok(skip) => out.push(jump(JGE_K, runs[mid].start, skip, 0)),
        Err(_) => {
            out.push(jump(JGE_K, runs[mid].start, 0, 1));
            out.push(stmt(JA, left.len() as u32));
        }
    }
    out.extend(left);
    out.extend(right);
    Ok(out)
}

/// Builds the allow-list program for x86_64.
pub fn program() -> Result<BpfProgram, SeccompError> {
    let mut program = vec![
        stmt(LD_W_ABS, ARCH_OFFSET),
        jump(JEQ_K, AUDIT_ARCH_X86_64, 1, 0),
        stmt(RET_K, RET_KILL),
        stmt(LD_W_ABS, NR_OFFSET),
        jump(JSET_K, X32_SYSCALL_BIT, 0, 1),
        stmt(RET_K, RET_EPERM),
    ];
    program.extend(search(&runs())?);
    if program.len() >= 4096 {
        return Err(SeccompError(seccompiler::BackendError::FilterTooLarge(
            program.len(),
        )));
    }
    Ok(program)
}

#[cfg(test)]
mod tests;
