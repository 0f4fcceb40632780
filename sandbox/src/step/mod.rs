//! The setup order, as small named steps over a [`Sys`].
//!
//! The parent clones the child with every namespace at once (see
//! [`crate::clone`]), then runs [`parent_steps`]: write the id maps and
//! release the child; on cgroup v1 it then creates the cgroup while the
//! child mounts, and releases it again ([`release_cgroup`]). The child runs
//! [`child_steps`], in this order:
//!
//! 1. `wait_parent`: block until the id maps are in place (rootless only);
//! 2. `set_ids`: become root of the user namespace (rootless only);
//! 3. `die_with_parent`: `PR_SET_PDEATHSIG` (after the id change, which clears it);
//! 4. `make_private`: no mount event propagates back to the host;
//! 5. `bind_rootfs`: the host's device nodes cloned (`open_tree`), the
//!    rootfs's missing mount points created, then the rootfs cloned with
//!    its submounts, made `nosuid,nodev` (and read-only) throughout
//!    (`mount_setattr`) and attached onto itself (a mount point for
//!    `pivot_root`);
//! 6. `mount_proc`, `mount_dev`, `mount_sys`, `mount_tmp`: `/proc`, a
//!    minimal `/dev`, `/sys` read-only, a tmpfs on `/tmp`. Each mount point
//!    is opened beneath the rootfs mount without following any link
//!    (`openat2`), and each filesystem is made detached (`fsopen`,
//!    `fsmount`) and attached through the fds (`move_mount`): no path is
//!    resolved twice, so a symlinked or swapped mount point cannot steer a
//!    mount out of place;
//! 7. `wait_cgroup`, `join_cgroup` (cgroup v1): the child moves itself by
//!    writing `0` to each controller's `tasks` file (owned by its user when
//!    rootless). Moving the calling thread skips the global thread-group
//!    lock, whose RCU grace period costs milliseconds when the parent writes
//!    the pid to `cgroup.procs` instead (cgroup v2 needs neither: the child
//!    is born in its cgroup); then `unshare_cgroup`, a cgroup namespace
//!    rooted at the new cgroup;
//! 8. `pivot_root`: `pivot_root(".", ".")`, then `detach_old_root`;
//! 9. `mask_paths`: OCI masked and read-only paths under `/proc` and `/sys`,
//!    each resolved beneath our own proc or sysfs mount; one that cannot be
//!    applied fails the start;
//! 10. `verify_mounts`: `/`, `/proc`, `/dev`, `/sys` and `/tmp` are exactly
//!     the mounts made above (mount id) of the filesystem meant (`statfs`);
//! 11. `set_hostname`, `loopback_up`, `rlimits`, `session` (`setsid`: no
//!     controlling terminal; a plain process gets a process group of its own);
//! 12. `stdio`: the pipes become fds 0-3, every other fd close-on-exec;
//! 13. `drop_caps`, `no_new_privs`, `seccomp`: last, so setup keeps its power;
//! 14. `exec`: the status record (with each step's end time) goes to the
//!     parent, then `execve`.
use nix::errno::Errno;

mod child;
mod mounts;
mod parent;
mod status;

pub use child::child_steps;
pub use parent::{parent_steps, release_cgroup};
pub use status::{Status, STATUS_LEN};

/// One named setup step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    /// Parent: the id maps written.
    IdMaps,
    /// Parent: the child released.
    Release,
    /// Parent: the cgroup created, the child released again (v1).
    ReleaseCgroup,
    /// Child: waited for the parent.
    WaitParent,
    /// Child: uid/gid set inside the user namespace.
    SetIds,
    /// Child: parent-death signal set.
    DieWithParent,
    /// Child: mount propagation made private.
    MakePrivate,
    /// Child: rootfs bind-mounted.
    BindRootfs,
    /// Child: `/proc` mounted.
    MountProc,
    /// Child: `/dev` populated.
    MountDev,
    /// Child: `/sys` mounted.
    MountSys,
    /// Child: a tmpfs on `/tmp`.
    MountTmp,
    /// Child: waited for the parent to create the cgroup (v1).
    WaitCgroup,
    /// Child: moved itself into its cgroup (v1).
    JoinCgroup,
    /// Child: cgroup namespace created.
    UnshareCgroup,
    /// Child: root pivoted.
    PivotRoot,
    /// Child: old root detached.
    DetachOldRoot,
    /// Child: masked and read-only paths applied.
    MaskPaths,
    /// Child: every mount checked to be where it was made.
    VerifyMounts,
    /// Child: hostname set.
    SetHostname,
    /// Child: `lo` up.
    LoopbackUp,
    /// Child: rlimits set.
    Rlimits,
    /// Child: a session of its own (or, for a plain process, a process group).
    Session,
    /// Child: fds 0-3 in place.
    Stdio,
    /// Child: capabilities reduced.
    DropCaps,
    /// Child: `no_new_privs` set.
    NoNewPrivs,
    /// Child: seccomp filter installed.
    Seccomp,
    /// Child: `execve`.
    Exec,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 28] = [
        Step::IdMaps,
        Step::Release,
        Step::ReleaseCgroup,
        Step::WaitParent,
        Step::SetIds,
        Step::DieWithParent,
        Step::MakePrivate,
        Step::BindRootfs,
        Step::MountProc,
        Step::MountDev,
        Step::MountSys,
        Step::MountTmp,
        Step::WaitCgroup,
        Step::JoinCgroup,
        Step::UnshareCgroup,
        Step::PivotRoot,
        Step::DetachOldRoot,
        Step::MaskPaths,
        Step::VerifyMounts,
        Step::SetHostname,
        Step::LoopbackUp,
        Step::Rlimits,
        Step::Session,
        Step::Stdio,
        Step::DropCaps,
        Step::NoNewPrivs,
        Step::Seccomp,
        Step::Exec,
    ];

    /// Number of steps.
    pub const COUNT: usize = Step::ALL.len();

    /// The step's name in phases and messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::IdMaps => "id_maps",
            Step::WaitCgroup => "wait_cgroup",
            Step::JoinCgroup => "join_cgroup",
            Step::Release => "release",
            Step::ReleaseCgroup => "release_cgroup",
            Step::WaitParent => "wait_parent",
            Step::SetIds => "set_ids",
            Step::DieWithParent => "die_with_parent",
            Step::UnshareCgroup => "unshare_cgroup",
            Step::MakePrivate => "make_private",
            Step::BindRootfs => "bind_rootfs",
            Step::MountProc => "mount_proc",
            Step::MountDev => "mount_dev",
            Step::MountSys => "mount_sys",
            Step::MountTmp => "mount_tmp",
            Step::PivotRoot => "pivot_root",
            Step::DetachOldRoot => "detach_old_root",
            Step::MaskPaths => "mask_paths",
            Step::VerifyMounts => "verify_mounts",
            Step::SetHostname => "set_hostname",
            Step::LoopbackUp => "loopback_up",
            Step::Rlimits => "rlimits",
            Step::Session => "session",
            Step::Stdio => "stdio",
            Step::DropCaps => "drop_caps",
            Step::NoNewPrivs => "no_new_privs",
            Step::Seccomp => "seccomp",
            Step::Exec => "exec",
        }
    }

    pub(crate) fn from_index(i: u32) -> Option<Step> {
        Step::ALL.get(i as usize).copied()
    }
}

/// A step that failed, and the error number it failed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The step.
    pub step: Step,
    /// Its error.
    pub errno: Errno,
}

pub(crate) fn at(step: Step) -> impl Fn(Errno) -> Failure {
    move |errno| Failure { step, errno }
}

#[cfg(test)]
mod tests;
