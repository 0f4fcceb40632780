//! The VMM's jail: a guest that breaks the VMM gets an unprivileged,
//! empty-rooted, seccomp-filtered process with nothing but its own VM.
//!
//! # Design
//! [`crate::run`] with [`VmConfig::jail`](crate::VmConfig::jail) on opens
//! `/dev/kvm` and reads the guest's files in the calling process, then forks
//! one child: the jailed VMM. The child creates the VM (a VM belongs to the
//! process that creates it), maps guest memory, loads the guest and sets the
//! vCPU up, and only then calls `enter`:
//!
//! 1. every fd but the KVM, VM and vCPU fds, stdio, the report pipe, the
//!    hold gate (if any: [`crate::hold`]) and the virtio devices' disk
//!    files and TAPs ([`DeviceFds`]) is closed;
//! 2. ids: started by root, it drops to uid/gid 65534 (`nobody`/`nogroup`,
//!    no supplementary groups) in the host's user namespace; otherwise it
//!    keeps the caller's own ids. Then it creates a user namespace *as that
//!    unprivileged user* and maps root inside to it (`0 <id> 1`, written by
//!    the process itself: a one-id map of one's own id needs no privilege,
//!    so no helper process or handshake is needed);
//! 3. new mount, ipc, uts, network (nothing in it) and cgroup namespaces,
//!    all owned by that user namespace. No pid namespace: `unshare` of one
//!    affects only children, the filter kills `clone`, `fork` and `vfork`
//!    so the VMM can have none, and on software nested KVM (`kvm_pvm`)
//!    `KVM_RUN` fails with `EINVAL` once the caller has unshared one;
//! 4. an empty root: a tmpfs mounted on `/tmp` (in the new mount namespace
//!    only), `pivot_root` into it, the old root detached, the new one
//!    remounted read-only, `nosuid`, `nodev`, `noexec` (where the host's
//!    root is an initramfs, which `pivot_root` cannot leave, the tmpfs is
//!    moved over `/` and `chroot`ed into instead);
//! 5. every capability cleared: bounding, ambient, inheritable, effective,
//!    permitted; `no_new_privs` set;
//! 6. the seccomp filter of [`seccomp::TABLE`] installed (kill on anything
//!    else). A VMM with devices may also `pread64`, `pwrite64` and
//!    `fdatasync` its disk files and `read`/`write` its TAPs, each on
//!    those fds only.
//!
//! The child then runs the guest, tears the VM down, writes its result to
//! the parent through a pipe (`wire`) and exits. The parent reads the
//! report and reaps the child; a child killed by `SIGSYS` becomes
//! [`Error::Seccomp`] (with its pid: the kernel's audit line for the kill,
//! `type=1326`, names the pid and the call), another death
//! [`Error::Died`]. The child gets
//! `SIGKILL` if the parent dies first, so nothing outlives a run.
//!
//! Between dropping to the unprivileged id and writing the id maps, the
//! process is briefly dumpable (the kernel requires it to write its own
//! maps): another process of uid 65534 could attach to it in those
//! microseconds.
mod child;
mod enter;
mod error;
mod probe;
pub mod seccomp;
mod sys;
pub(crate) mod wire;

pub(crate) use child::{conclude, run_in_child, spawn};
pub(crate) use enter::{enter, join_cgroup};
pub use enter::{NEW_ROOT_AT, NOBODY};
pub use error::Error;
pub use probe::Probe;
pub use seccomp::DeviceFds;
