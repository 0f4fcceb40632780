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
use std::ffi::{c_char, CStr, CString};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::capability::CapPlan;
use crate::config::UserNs;
use crate::sys::{attr, FsSpec, Sys};

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

    fn from_index(i: u32) -> Option<Step> {
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

fn at(step: Step) -> impl Fn(Errno) -> Failure {
    move |errno| Failure { step, errno }
}

/// A filesystem to mount on a directory of a mount we hold an fd of.
#[derive(Debug)]
pub struct NewMount {
    /// The mount point: one path component (`proc`), opened beneath the
    /// parent mount without following links.
    pub name: CString,
    /// What to mount there.
    pub fs: FsSpec,
    /// Its `statfs` magic, checked once the root is pivoted.
    pub magic: i64,
}

/// Which of our mounts a mask lies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Under {
    /// Our `/proc`.
    Proc,
    /// Our `/sys`.
    Sys,
}

/// What a mask does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// Hide a file (our `/dev/null` bound over it) or a directory (an empty
    /// read-only tmpfs over it).
    Hide {
        /// The path is a directory.
        dir: bool,
    },
    /// Bind the path onto itself, read-only.
    ReadOnly,
}

/// One masked or read-only path. A mask that cannot be applied fails the
/// start; it is never skipped.
#[derive(Debug)]
pub struct Mask {
    /// The mount it lies in.
    pub under: Under,
    /// Its path inside that mount (`kcore`, `devices/virtual/powercap`).
    pub path: CString,
    /// What to do.
    pub kind: MaskKind,
}

/// The most host device nodes `/dev` may hold (the child keeps their fds
/// in a fixed array).
pub const MAX_DEV_NODES: usize = 8;

/// Our `/dev`: a tmpfs holding only what we put there.
#[derive(Debug)]
pub struct DevPlan {
    /// The tmpfs.
    pub mount: NewMount,
    /// Host device nodes bound in: `(host path, name in /dev)`.
    pub nodes: Vec<(CString, CString)>,
    /// `/dev/pts`: a devpts instance of our own.
    pub pts: NewMount,
    /// `/dev/shm`.
    pub shm: NewMount,
    /// `(target, name)` symbolic links (`ptmx`, `fd`, `stdin`, ...).
    pub links: Vec<(CString, CString)>,
}

/// What the child does with a root filesystem. Every path inside it is
/// resolved beneath a mount fd without following links (`openat2`) and
/// every filesystem is attached through fds (the new mount API), so a
/// hostile rootfs (a symlinked mount point, a directory swapped during
/// setup) cannot steer a mount elsewhere; after the pivot each mount is
/// checked to be the one we made.
#[derive(Debug)]
pub struct RootPlan {
    /// The rootfs directory (host path).
    pub dir: CString,
    /// `MOUNT_ATTR_*` set on the rootfs and every mount below it
    /// (`nosuid`, `nodev`, and `rdonly` when read-only).
    pub attrs: u64,
    /// `/proc`.
    pub proc: NewMount,
    /// `/dev`.
    pub dev: DevPlan,
    /// `/sys`, if any.
    pub sys: Option<NewMount>,
    /// A tmpfs on `/tmp`, if wanted.
    pub tmp: Option<NewMount>,
    /// Masked and read-only paths (after `pivot_root`).
    pub masks: Vec<Mask>,
    /// The empty read-only tmpfs put over masked directories.
    pub empty: FsSpec,
}

impl RootPlan {
    /// The mount points directly under the root, in mount order.
    pub fn mount_points(&self) -> impl Iterator<Item = &NewMount> {
        [
            Some(&self.proc),
            Some(&self.dev.mount),
            self.sys.as_ref(),
            self.tmp.as_ref(),
        ]
        .into_iter()
        .flatten()
    }
}

/// The fds the child starts with, each above [`ChildFds::MIN`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildFds {
    /// Read end of the sync pipe (parent releases the child).
    pub sync: RawFd,
    /// Write end of the status pipe (close-on-exec).
    pub status: RawFd,
    /// Becomes fd 0.
    pub stdin: RawFd,
    /// Becomes fd 1.
    pub stdout: RawFd,
    /// Becomes fd 2.
    pub stderr: RawFd,
    /// Becomes fd 3, the protocol fd.
    pub proto: RawFd,
}

impl ChildFds {
    /// Every fd the child starts from is at least this, so the `dup2`s
    /// onto 0-3 never overwrite one not yet moved.
    pub const MIN: RawFd = 10;
    /// The protocol fd number inside.
    pub const PROTO: RawFd = 3;
}

/// The program to execute, with its NULL-terminated pointer arrays.
#[derive(Debug)]
pub struct Exec {
    path: CString,
    _strings: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
}

impl Exec {
    /// `path` with `argv` (`argv[0]` included) and `env`.
    pub fn new(path: CString, argv: Vec<CString>, env: Vec<CString>) -> Exec {
        let nul = std::iter::once(std::ptr::null());
        let a: Vec<*const c_char> = argv.iter().map(|s| s.as_ptr()).chain(nul.clone()).collect();
        let e: Vec<*const c_char> = env.iter().map(|s| s.as_ptr()).chain(nul).collect();
        let mut strings = argv;
        strings.extend(env);
        Exec {
            path,
            _strings: strings,
            argv: a,
            envp: e,
        }
    }
}

/// Everything the parent prepared for the child; nothing is computed after
/// the clone.
#[derive(Debug)]
pub struct Plan {
    /// Wait for the parent's release (id maps to write first).
    pub sync: bool,
    /// `tasks` files (cgroup v1) the child writes `0` to, once the parent
    /// has created them (a second byte on the sync pipe).
    pub cgroup_tasks: Vec<CString>,
    /// The user namespace, when rootless.
    pub user: Option<UserNs>,
    /// Whether the child may call `setgroups` (the parent had `CAP_SETGID`).
    pub setgroups: bool,
    /// Create a cgroup namespace after joining the cgroup.
    pub unshare_cgroup: bool,
    /// The root filesystem, or `None` for the host's.
    pub root: Option<RootPlan>,
    /// Hostname to set.
    pub hostname: Option<CString>,
    /// Bring `lo` up.
    pub loopback: bool,
    /// `setsid`: no controlling terminal, no way to the caller's one.
    pub new_session: bool,
    /// Otherwise `setpgid(0, 0)`: a process group of its own.
    pub own_group: bool,
    /// `(resource, limit)` pairs.
    pub rlimits: Vec<(u32, u64)>,
    /// Capability reduction.
    pub caps: Option<CapPlan>,
    /// Set `no_new_privs`.
    pub no_new_privs: bool,
    /// Seccomp program.
    pub seccomp: Option<seccompiler::BpfProgram>,
    /// Starting fds.
    pub fds: ChildFds,
    /// What to execute.
    pub exec: Exec,
}

/// The record the child sends the parent: each step's end time (0 if not
/// run) and, on failure, the step and error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// `CLOCK_MONOTONIC` ns at the end of each step, by `Step as usize`.
    pub times: [u64; Step::COUNT],
    /// The failed step, if any.
    pub failure: Option<Failure>,
}

/// Bytes of an encoded [`Status`].
pub const STATUS_LEN: usize = 8 + 8 * Step::COUNT;

impl Status {
    /// No step run yet.
    pub fn new() -> Status {
        Status {
            times: [0; Step::COUNT],
            failure: None,
        }
    }

    /// Little-endian encoding: failed step + 1 (0 = none), errno, times.
    pub fn encode(&self) -> [u8; STATUS_LEN] {
        let mut b = [0u8; STATUS_LEN];
        let (step, errno) = match self.failure {
            Some(f) => (f.step as u32 + 1, f.errno as i32),
            None => (0, 0),
        };
        b[0..4].copy_from_slice(&step.to_le_bytes());
        b[4..8].copy_from_slice(&errno.to_le_bytes());
        for (i, t) in self.times.iter().enumerate() {
            b[8 + 8 * i..16 + 8 * i].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    /// Decodes [`Status::encode`]'s output; `None` if malformed.
    pub fn decode(b: &[u8]) -> Option<Status> {
        if b.len() != STATUS_LEN {
            return None;
        }
        let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        let step = word(0);
        let failure = match step {
            0 => None,
            n => Some(Failure {
                step: Step::from_index(n - 1)?,
                errno: Errno::from_raw(word(4) as i32),
            }),
        };
        let mut times = [0u64; Step::COUNT];
        for (i, t) in times.iter_mut().enumerate() {
            *t = u64::from_le_bytes(b[8 + 8 * i..16 + 8 * i].try_into().unwrap_or_default());
        }
        Some(Status { times, failure })
    }
}

impl Default for Status {
    fn default() -> Self {
        Status::new()
    }
}

/// Releases the child a second time, once its v1 cgroup exists.
pub fn release_cgroup<S: Sys>(
    sys: &mut S,
    sync: RawFd,
    times: &mut [u64; Step::COUNT],
) -> Result<(), Failure> {
    sys.send_byte(sync).map_err(at(Step::ReleaseCgroup))?;
    times[Step::ReleaseCgroup as usize] = sys.now();
    Ok(())
}

/// The parent's part, after the clone: the id maps of child `pid`, then
/// the release through `sync`, the write end of the sync pipe.
pub fn parent_steps<S: Sys>(
    plan: &Plan,
    sys: &mut S,
    pid: i32,
    sync: RawFd,
    times: &mut [u64; Step::COUNT],
) -> Result<(), Failure> {
    if let Some(user) = &plan.user {
        let file = |name: &str| CString::new(format!("/proc/{pid}/{name}")).unwrap_or_default();
        let line = |m: crate::config::IdMap| format!("{} {} {}\n", m.inside, m.outside, m.count);
        if !plan.setgroups {
            sys.write_file(&file("setgroups"), b"deny")
                .map_err(at(Step::IdMaps))?;
        }
        sys.write_file(&file("uid_map"), line(user.uid).as_bytes())
            .map_err(at(Step::IdMaps))?;
        sys.write_file(&file("gid_map"), line(user.gid).as_bytes())
            .map_err(at(Step::IdMaps))?;
        times[Step::IdMaps as usize] = sys.now();
    }
    if plan.sync {
        sys.send_byte(sync).map_err(at(Step::Release))?;
        times[Step::Release as usize] = sys.now();
    }
    Ok(())
}

/// Mounts `m` on its mount point beneath `parent`; returns the new
/// mount's fd. A mount point that is a link or not a directory fails
/// (`ELOOP`, `ENOTDIR`).
fn mount_new<S: Sys>(sys: &mut S, parent: RawFd, m: &NewMount) -> Result<RawFd, Errno> {
    let target = sys.open_beneath(parent, &m.name, true)?;
    let mounted = sys
        .new_fs(&m.fs)
        .and_then(|fs| match sys.move_mount(fs, target) {
            Ok(()) => Ok(fs),
            Err(e) => {
                sys.close(fs);
                Err(e)
            }
        });
    sys.close(target);
    mounted
}

/// Host device nodes cloned as detached mounts, before the pivot.
struct HostNodes {
    fds: [RawFd; MAX_DEV_NODES],
    len: usize,
}

fn clone_host_nodes<S: Sys>(sys: &mut S, dev: &DevPlan) -> Result<HostNodes, Errno> {
    let mut nodes = HostNodes {
        fds: [-1; MAX_DEV_NODES],
        len: 0,
    };
    for (host, _) in dev.nodes.iter().take(MAX_DEV_NODES) {
        nodes.fds[nodes.len] = sys.clone_tree(libc::AT_FDCWD, host, false)?;
        nodes.len += 1;
    }
    Ok(nodes)
}

/// The rootfs bound (recursively) onto itself with `attrs` on every mount
/// in it, after its missing mount points were created; returns its fd.
fn bind_rootfs<S: Sys>(sys: &mut S, root: &RootPlan) -> Result<RawFd, Errno> {
    let dir = sys.open_dir(&root.dir)?;
    let bound = (|| {
        for m in root.mount_points() {
            sys.mkdir_at(dir, &m.name, 0o755)?;
        }
        let tree = sys.clone_tree(dir, c"", true)?;
        sys.set_mount_attrs(tree, root.attrs, true)?;
        sys.move_mount(tree, dir)?;
        Ok(tree)
    })();
    sys.close(dir);
    bound
}

/// Our `/dev`: the tmpfs, the host nodes bound in, devpts, links, shm.
fn mount_dev<S: Sys>(
    sys: &mut S,
    tree: RawFd,
    dev: &DevPlan,
    nodes: &HostNodes,
) -> Result<RawFd, Errno> {
    let fd = mount_new(sys, tree, &dev.mount)?;
    for (i, (_, name)) in dev.nodes.iter().take(nodes.len).enumerate() {
        sys.create_at(fd, name)?;
        let target = sys.open_beneath(fd, name, false)?;
        let r = sys.move_mount(nodes.fds[i], target);
        sys.close(target);
        r?;
    }
    sys.mkdir_at(fd, &dev.pts.name, 0o755)?;
    let pts = mount_new(sys, fd, &dev.pts)?;
    sys.close(pts);
    for (target, name) in &dev.links {
        sys.symlink_at(target, fd, name)?;
    }
    sys.mkdir_at(fd, &dev.shm.name, 0o1777)?;
    let shm = mount_new(sys, fd, &dev.shm)?;
    sys.close(shm);
    Ok(fd)
}

/// The fds of the mounts made under the root.
struct Mounted {
    tree: RawFd,
    proc: RawFd,
    dev: RawFd,
    sys: RawFd,
    tmp: RawFd,
}

fn apply_mask<S: Sys>(sys: &mut S, root: &RootPlan, m: &Mounted, mask: &Mask) -> Result<(), Errno> {
    let base = match mask.under {
        Under::Proc => m.proc,
        Under::Sys if m.sys >= 0 => m.sys,
        Under::Sys => return Err(Errno::ENOENT),
    };
    let target = sys.open_beneath(base, &mask.path, false)?;
    let over = match mask.kind {
        MaskKind::Hide { dir: true } => sys.new_fs(&root.empty),
        MaskKind::Hide { dir: false } => sys.clone_tree(m.dev, c"null", false),
        MaskKind::ReadOnly => sys.clone_tree(target, c"", true).and_then(|r| {
            let ro = attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC;
            match sys.set_mount_attrs(r, ro, true) {
                Ok(()) => Ok(r),
                Err(e) => {
                    sys.close(r);
                    Err(e)
                }
            }
        }),
    };
    let r = over.and_then(|over| {
        let r = sys.move_mount(over, target);
        sys.close(over);
        r
    });
    sys.close(target);
    r
}

/// After the pivot: `/` and every mount point hold exactly the mounts we
/// made, of the filesystem we meant (`EXDEV` if not: the rootfs changed
/// under us).
fn verify_mounts<S: Sys>(sys: &mut S, root: &RootPlan, m: &Mounted) -> Result<(), Errno> {
    let mut check = |name: &CStr, fd: RawFd, magic: Option<i64>| -> Result<(), Errno> {
        let at = sys.open_beneath(libc::AT_FDCWD, name, true)?;
        let same = (|| {
            let mut ok = sys.mount_id(at)? == sys.mount_id(fd)?;
            if let Some(magic) = magic {
                ok &= sys.fs_magic(at)? == magic;
            }
            Ok(ok)
        })();
        sys.close(at);
        match same {
            Ok(true) => Ok(()),
            Ok(false) => Err(Errno::EXDEV),
            Err(e) => Err(e),
        }
    };
    check(c".", m.tree, None)?;
    check(&root.proc.name, m.proc, Some(root.proc.magic))?;
    check(&root.dev.mount.name, m.dev, Some(root.dev.mount.magic))?;
    if let Some(sysfs) = &root.sys {
        check(&sysfs.name, m.sys, Some(sysfs.magic))?;
    }
    if let Some(tmp) = &root.tmp {
        check(&tmp.name, m.tmp, Some(tmp.magic))?;
    }
    Ok(())
}

/// The child's part, from the clone to `execve`. Returns only when a step
/// fails (or, with a recording [`Sys`], after the recorded `execve`).
pub fn child_steps<S: Sys>(plan: &Plan, sys: &mut S, st: &mut Status) -> Result<(), Failure> {
    let done = |sys: &mut S, st: &mut Status, step: Step| st.times[step as usize] = sys.now();
    let join = |sys: &mut S, st: &mut Status| -> Result<(), Failure> {
        if plan.cgroup_tasks.is_empty() {
            return Ok(());
        }
        sys.wait_byte(plan.fds.sync).map_err(at(Step::WaitCgroup))?;
        done(sys, st, Step::WaitCgroup);
        for tasks in &plan.cgroup_tasks {
            sys.write_file(tasks, b"0").map_err(at(Step::JoinCgroup))?;
        }
        done(sys, st, Step::JoinCgroup);
        Ok(())
    };
    // The cgroup namespace is rooted where the child is when it unshares.
    let join = |sys: &mut S, st: &mut Status| -> Result<(), Failure> {
        join(sys, st)?;
        if plan.unshare_cgroup {
            sys.unshare(libc::CLONE_NEWCGROUP)
                .map_err(at(Step::UnshareCgroup))?;
            done(sys, st, Step::UnshareCgroup);
        }
        Ok(())
    };

    if plan.sync {
        sys.wait_byte(plan.fds.sync).map_err(at(Step::WaitParent))?;
        done(sys, st, Step::WaitParent);
    }
    if let Some(user) = &plan.user {
        if plan.setgroups {
            sys.clear_groups().map_err(at(Step::SetIds))?;
        }
        sys.set_gid(user.gid.inside).map_err(at(Step::SetIds))?;
        sys.set_uid(user.uid.inside).map_err(at(Step::SetIds))?;
        done(sys, st, Step::SetIds);
    }
    sys.die_with_parent().map_err(at(Step::DieWithParent))?;
    done(sys, st, Step::DieWithParent);
    if let Some(root) = &plan.root {
        sys.mount(
            None,
            c"/",
            None,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None,
        )
        .map_err(at(Step::MakePrivate))?;
        done(sys, st, Step::MakePrivate);
        let nodes = clone_host_nodes(sys, &root.dev).map_err(at(Step::BindRootfs))?;
        let tree = bind_rootfs(sys, root).map_err(at(Step::BindRootfs))?;
        done(sys, st, Step::BindRootfs);
        let mut m = Mounted {
            tree,
            proc: mount_new(sys, tree, &root.proc).map_err(at(Step::MountProc))?,
            dev: -1,
            sys: -1,
            tmp: -1,
        };
        done(sys, st, Step::MountProc);
        m.dev = mount_dev(sys, tree, &root.dev, &nodes).map_err(at(Step::MountDev))?;
        done(sys, st, Step::MountDev);
        if let Some(sysfs) = &root.sys {
            m.sys = mount_new(sys, tree, sysfs).map_err(at(Step::MountSys))?;
            done(sys, st, Step::MountSys);
        }
        if let Some(tmp) = &root.tmp {
            m.tmp = mount_new(sys, tree, tmp).map_err(at(Step::MountTmp))?;
            done(sys, st, Step::MountTmp);
        }
        join(sys, st)?;
        let pivot = |sys: &mut S| -> Result<(), Errno> {
            sys.fchdir(tree)?;
            sys.pivot_root(c".", c".")
        };
        pivot(sys).map_err(at(Step::PivotRoot))?;
        done(sys, st, Step::PivotRoot);
        // The old root now sits on top of the new one at "/": detach it.
        let detach = |sys: &mut S| -> Result<(), Errno> {
            sys.detach(c".")?;
            sys.chdir(c"/")
        };
        detach(sys).map_err(at(Step::DetachOldRoot))?;
        done(sys, st, Step::DetachOldRoot);
        for mask in &root.masks {
            apply_mask(sys, root, &m, mask).map_err(at(Step::MaskPaths))?;
        }
        done(sys, st, Step::MaskPaths);
        verify_mounts(sys, root, &m).map_err(at(Step::VerifyMounts))?;
        done(sys, st, Step::VerifyMounts);
        // Every fd above is close-on-exec; close them now all the same.
        for fd in [m.tree, m.proc, m.dev, m.sys, m.tmp] {
            if fd >= 0 {
                sys.close(fd);
            }
        }
    }
    if plan.root.is_none() {
        join(sys, st)?;
    }
    if let Some(name) = &plan.hostname {
        sys.sethostname(name).map_err(at(Step::SetHostname))?;
        done(sys, st, Step::SetHostname);
    }
    if plan.loopback {
        sys.loopback_up().map_err(at(Step::LoopbackUp))?;
        done(sys, st, Step::LoopbackUp);
    }
    if !plan.rlimits.is_empty() {
        for &(res, lim) in &plan.rlimits {
            sys.setrlimit(res, lim).map_err(at(Step::Rlimits))?;
        }
        done(sys, st, Step::Rlimits);
    }
    if plan.new_session {
        sys.setsid().map_err(at(Step::Session))?;
        done(sys, st, Step::Session);
    } else if plan.own_group {
        sys.own_process_group().map_err(at(Step::Session))?;
        done(sys, st, Step::Session);
    }
    let fds = plan.fds;
    let stdio = |sys: &mut S| -> Result<(), Errno> {
        sys.dup2(fds.stdin, 0)?;
        sys.dup2(fds.stdout, 1)?;
        sys.dup2(fds.stderr, 2)?;
        sys.dup2(fds.proto, ChildFds::PROTO)?;
        sys.cloexec_from(ChildFds::PROTO + 1)?;
        sys.reset_signals()
    };
    stdio(sys).map_err(at(Step::Stdio))?;
    done(sys, st, Step::Stdio);
    if let Some(caps) = &plan.caps {
        let drop = |sys: &mut S| -> Result<(), Errno> {
            for &cap in &caps.drop {
                sys.drop_bounding(cap)?;
            }
            sys.clear_ambient()?;
            sys.capset(caps.keep)
        };
        drop(sys).map_err(at(Step::DropCaps))?;
        done(sys, st, Step::DropCaps);
    }
    if plan.no_new_privs {
        sys.no_new_privs().map_err(at(Step::NoNewPrivs))?;
        done(sys, st, Step::NoNewPrivs);
    }
    if let Some(prog) = &plan.seccomp {
        sys.seccomp(prog).map_err(at(Step::Seccomp))?;
        done(sys, st, Step::Seccomp);
    }
    done(sys, st, Step::Exec);
    sys.write_all(fds.status, &st.encode())
        .map_err(at(Step::Exec))?;
    sys.execve(&plan.exec.path, &plan.exec.argv, &plan.exec.envp)
        .map_err(at(Step::Exec))
}

#[cfg(test)]
#[path = "step_tests.rs"]
mod tests;
