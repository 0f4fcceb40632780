//! [`Step`]: every setup step, in order, with its name.

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
    /// Child: no controlling terminal and a process group of its own (for
    /// a plain process, the process group only).
    Session,
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
    /// Child: a host file bound in.
    BindFile,
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
    /// Child: fds 0-3 in place.
    Stdio,
    /// Child: capabilities reduced.
    DropCaps,
    /// Child: `no_new_privs` set.
    NoNewPrivs,
    /// Child: seccomp filter installed.
    Seccomp,
    /// Child (a pool's sandbox): parked until the parent's release.
    Park,
    /// Child: `execve`.
    Exec,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 30] = [
        Step::IdMaps,
        Step::Release,
        Step::ReleaseCgroup,
        Step::WaitParent,
        Step::SetIds,
        Step::DieWithParent,
        Step::Session,
        Step::MakePrivate,
        Step::BindRootfs,
        Step::MountProc,
        Step::MountDev,
        Step::MountSys,
        Step::MountTmp,
        Step::BindFile,
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
        Step::Stdio,
        Step::DropCaps,
        Step::NoNewPrivs,
        Step::Seccomp,
        Step::Park,
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
            Step::BindFile => "bind_file",
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
            Step::Park => "park",
            Step::Exec => "exec",
        }
    }

    pub(crate) fn from_index(i: u32) -> Option<Step> {
        Step::ALL.get(i as usize).copied()
    }
}
