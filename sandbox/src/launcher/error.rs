//! What can go wrong starting or watching a workload, with a hint per
//! failed step.
use nix::errno::Errno;

use crate::cgroup::CgroupError;
use crate::plan::PlanError;
use crate::step::{Failure, Step};

/// Starting or watching the workload failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The plan could not be built.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The host file to bind in was refused.
    #[error(transparent)]
    Bind(#[from] super::BindError),
    /// The cgroup could not be set up.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A pipe or `/dev/null` could not be opened.
    #[error("cannot create the pipes to the workload")]
    Pipe(#[source] Errno),
    /// Passed stdio (a held workload) must not be a terminal: a workload
    /// with a terminal fd could write escape sequences to it or read what
    /// the user types.
    #[error("the caller's stdin or stdout is a terminal; a held sandbox is given them only as pipes (pipe them, e.g. through a driver such as `vmlab scale`)")]
    TerminalStdio,
    /// The kernel refused to create a user namespace.
    #[error("user namespaces are not permitted here (check sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone and AppArmor's kernel.apparmor_restrict_unprivileged_userns); as root, a sandbox without a user namespace runs the workload as real root on the host")]
    UserNsDenied(#[source] Errno),
    /// Namespaces without a user namespace need root.
    #[error("creating namespaces without a user namespace needs root; keep the user namespace or run as root")]
    NeedRoot(#[source] Errno),
    /// `clone3` failed.
    #[error("cannot create the sandbox process (clone3)")]
    Clone(#[source] Errno),
    /// A named setup step failed.
    #[error("sandbox setup failed at step `{}`: {}{hint}", failure.step.name(), failure.errno.desc())]
    Setup {
        /// The step and its error.
        failure: Failure,
        /// What probably caused it.
        hint: &'static str,
    },
    /// The child vanished before reporting.
    #[error("the sandbox process died during setup without reporting (killed from outside?)")]
    DiedInSetup,
    /// A parked sandbox was gone when released.
    #[error("the parked sandbox process died before its release (killed from outside?)")]
    DiedParked,
    /// Setup did not finish in time.
    #[error("the sandbox setup did not finish within the timeout")]
    SetupTimeout,
    /// A held workload exited before its ready event.
    #[error("the held workload exited ({ended}) before it was ready{stderr}")]
    EndedBeforeReady {
        /// How it ended (`code 1`, `signal 9`).
        ended: String,
        /// The end of its stderr, as `: text` (empty when there was none).
        stderr: String,
    },
    /// A pooled workload (parked in the workload) exited before its park
    /// mark.
    #[error("the pooled workload exited ({ended}) before it parked{stderr} (a sandbox parked in its workload needs the vmlab workload, which knows --park)")]
    EndedBeforePark {
        /// How it ended (`code 1`, `signal 9`).
        ended: String,
        /// The end of its stderr, as `: text` (empty when there was none).
        stderr: String,
    },
    /// A pooled workload did not reach its park mark in time; it was killed.
    #[error("the pooled workload did not park within {:.1} s and was killed (a sandbox parked in its workload needs the vmlab workload, which knows --park)", .0.as_secs_f64())]
    NotParked(std::time::Duration),
    /// A held workload was not ready in time; it was killed.
    #[error("the held workload was not ready within {:.1} s and was killed", .0.as_secs_f64())]
    NotReady(std::time::Duration),
    /// The parent was interrupted; everything was torn down.
    #[error("interrupted by signal {0}; the workload was killed and its cgroup removed")]
    Interrupted(i32),
}

/// What probably caused a failed step.
fn hint(f: Failure, rootless: bool) -> &'static str {
    match (f.step, f.errno) {
        (Step::IdMaps | Step::SetIds, _) => {
            " (the uid/gid map was refused; a rootless sandbox may only map its own ids)"
        }
        (Step::MountProc, Errno::EPERM) if rootless => {
            " (/proc in a user namespace needs a pid namespace and a /proc the host does not overmount)"
        }
        (Step::MountSys, Errno::EPERM) if rootless => {
            " (sysfs in a user namespace needs a network namespace of its own)"
        }
        (
            Step::MountProc | Step::MountDev | Step::MountSys | Step::MountTmp,
            Errno::ELOOP | Errno::ENOTDIR,
        ) => " (its mount point in the rootfs is a symbolic link or not a directory: mount points must be real directories)",
        (_, Errno::ENOSYS) => {
            " (the sandbox needs Linux 5.12 or later: openat2, open_tree, fsmount, mount_setattr)"
        }
        (Step::BindRootfs, Errno::EACCES) => {
            " (a mount point (proc, dev, sys, tmp) is missing in the rootfs and cannot be created there)"
        }
        (Step::BindFile, Errno::EXDEV) => " (the host file to bind was replaced between the launcher's check and the sandbox's own open of it)",
        (Step::BindFile, Errno::ELOOP) => " (the file bind's target inside the rootfs is, or lies below, a symbolic link: it is never followed)",
        (Step::BindFile, Errno::EROFS | Errno::EACCES | Errno::ENOENT) => " (the file bind's target is missing and cannot be created there: put it on /tmp or ship it in the rootfs)",
        (Step::BindFile, Errno::ENOTDIR | Errno::EISDIR | Errno::EINVAL) => " (the file bind's target inside the rootfs is a directory, or a file lies on its way)",
        (Step::MaskPaths, _) => " (a masked or read-only path under /proc or /sys could not be covered; the sandbox does not start without every mask)",
        (Step::VerifyMounts, Errno::EXDEV) => {
            " (a mount is not where it was made: the root filesystem changed during setup)"
        }
        (Step::Exec, Errno::ENOENT) => " (the entry or its interpreter is missing in the rootfs)",
        (Step::Exec, Errno::EACCES) => {
            " (the entry is not executable by the sandbox user, or the rootfs is mounted noexec)"
        }
        (Step::JoinCgroup, _) => " (cannot move the process into its cgroup)",
        _ => "",
    }
}

impl LaunchError {
    /// A failed setup step, with its hint.
    pub(super) fn setup(failure: Failure, user_ns: bool) -> LaunchError {
        LaunchError::Setup {
            failure,
            hint: hint(failure, user_ns),
        }
    }
}
