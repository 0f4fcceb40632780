//! Why each verdict: one sentence per kind of call, shared by the entries.
use crate::seccomp::{Syscall, Verdict};

// Why a call is allowed.
pub(super) const IO: &str = "reading, writing and managing descriptors";
pub(super) const FS: &str = "files and directories (device nodes need CAP_MKNOD, which is dropped)";
pub(super) const WAIT: &str =
    "waiting for events: poll, select, epoll, event, timer and signal fds";
pub(super) const MEMORY: &str = "the process's own memory";
pub(super) const SIGNALS: &str = "signals (they reach only the sandbox's pid namespace)";
pub(super) const TIME: &str = "reading clocks, sleeping, timers";
pub(super) const PROCESS: &str =
    "processes and threads: fork, exec, wait, exit, futexes, own scheduling";
pub(super) const IDS: &str = "ids, sessions and limits (the capabilities are already reduced)";
pub(super) const NET: &str = "sockets (the network namespace is the boundary)";
pub(super) const IPC: &str = "System V and POSIX IPC (the IPC namespace is the boundary)";
pub(super) const INFO: &str = "harmless information about the system or the process";
pub(super) const AIO: &str = "asynchronous I/O of the io_setup family (not io_uring)";
pub(super) const SELF: &str = "restricting itself: prctl, seccomp, landlock";
pub(super) const UPROBES: &str =
    "entered only from the kernel's uprobe trampolines; the kernel exempts it from seccomp";
// Why an argument is checked.
pub(super) const CLONE: &str = "new processes and threads, but no new namespace";
pub(super) const IOCTL: &str = "device control, except typing into or driving the terminal";
pub(super) const PERSONALITY: &str = "reading the persona; setting one weakens the process";
pub(super) const SOCKET: &str = "sockets, but not vsock, which no network namespace encloses";
pub(super) const CLONE3: &str =
    "its flags are in memory the filter cannot read: ENOSYS sends libc to clone";
// Why a call is refused.
pub(super) const MOUNTS: &str = "rearranging mounts could uncover the host's tree";
pub(super) const NAMESPACES: &str =
    "new namespaces (a new user namespace gives back every capability)";
pub(super) const KERNEL_CODE: &str = "loading code into, or probing, the kernel";
pub(super) const IO_URING: &str =
    "io_uring runs operations out of the filter's sight and is a frequent source of kernel bugs";
pub(super) const USERFAULTFD: &str = "stalling the kernel at a chosen page fault is an exploit aid";
pub(super) const SEGMENTS: &str =
    "16/32-bit segment descriptors, an old source of bugs; 64-bit code uses arch_prctl";
pub(super) const KEYS: &str = "the kernel keyring is not namespaced";
pub(super) const OTHER_PROCESSES: &str = "reading, moving or steering another process";
pub(super) const HOST: &str =
    "the clock, swap, kernel log, quotas, I/O ports, terminal and power are the host's";
pub(super) const UTS: &str = "the sandbox sets the host and domain names";
pub(super) const HANDLES: &str = "opening files by handle bypasses the mount tree";
pub(super) const FANOTIFY: &str = "watching whole mounts and file systems";
pub(super) const LSM: &str = "the LSM attributes are the runtime's business";
pub(super) const OBSOLETE: &str = "obsolete, removed or never implemented: nothing needs it";

pub(super) const fn c(nr: u32, name: &'static str, verdict: Verdict, why: &'static str) -> Syscall {
    Syscall {
        nr,
        name,
        verdict,
        why,
    }
}
