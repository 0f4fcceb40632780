//! The setup order, as small named steps over a [`Sys`](crate::sys::Sys).
//!
//! The parent clones the child with every namespace at once (see
//! [`crate::clone`]), then runs [`parent_steps`]: write the id maps and
//! release the child; on cgroup v1 it then creates the cgroup while the
//! child mounts, and releases it again ([`release_cgroup`]). The child runs
//! [`child_steps`], in this order:
//!
//! 1. `wait_parent`: block until the id maps are in place (rootless only;
//!    the parent-death signal set and the parent's end of the sync pipe
//!    closed first, so that a parent killed meanwhile ends the wait);
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
//!    mount out of place; then `bind_file` (only with a file bind): the
//!    launcher's detached bind of a host file moved onto its target, whose
//!    directory and path are opened beneath the rootfs without following
//!    links (the file created `O_EXCL | O_NOFOLLOW` when missing);
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
//! 10. `verify_mounts`: `/`, `/proc`, `/dev`, `/sys`, `/tmp` (and a file bind) are exactly
//!     the mounts made above (mount id) of the filesystem meant (`statfs`);
//! 11. `set_hostname`, `loopback_up`, `rlimits` (`session`, no controlling
//!     terminal and a process group of its own, ran early, right after
//!     `die_with_parent`: `TIOCNOTTY` on the host's `/dev/tty`, checked,
//!     `setsid` where that cannot be done; a plain process gets the process
//!     group only);
//! 12. `stdio`: the pipes become fds 0-3, every other fd close-on-exec;
//! 13. `drop_caps`, `no_new_privs`, `seccomp`: last, so setup keeps its power;
//! 14. `exec`: the status record (with each step's end time) goes to the
//!     parent, then `execve`.
mod child;
mod failure;
mod mounts;
mod order;
mod parent;
mod status;

pub use child::child_steps;
pub use failure::Failure;
pub use order::Step;
pub use parent::{parent_steps, release_cgroup};
pub use status::{Status, STATUS_LEN};

#[cfg(test)]
mod tests;
