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
//! 5. `bind_rootfs`: the rootfs bound onto itself (a mount point for `pivot_root`);
//! 6. `mount_proc`, `mount_dev`, `mount_sys`, `mount_tmp`: `/proc`, a
//!    minimal `/dev`, `/sys` read-only, a tmpfs on `/tmp`;
//! 7. `wait_cgroup`, `join_cgroup` (cgroup v1): the child moves itself by
//!    writing `0` to each controller's `tasks` file (owned by its user when
//!    rootless). Moving the calling thread skips the global thread-group
//!    lock, whose RCU grace period costs milliseconds when the parent writes
//!    the pid to `cgroup.procs` instead (cgroup v2 needs neither: the child
//!    is born in its cgroup); then `unshare_cgroup`, a cgroup namespace
//!    rooted at the new cgroup;
//! 8. `pivot_root`: `pivot_root(".", ".")`, then `detach_old_root`;
//! 9. `mask_paths`: OCI masked and read-only paths under `/proc` and `/sys`;
//! 10. `readonly_root`: the rootfs remounted read-only (keeping locked flags);
//! 11. `set_hostname`, `loopback_up`, `rlimits`;
//! 12. `stdio`: the pipes become fds 0-3, every other fd close-on-exec;
//! 13. `drop_caps`, `no_new_privs`, `seccomp`: last, so setup keeps its power;
//! 14. `exec`: the status record (with each step's end time) goes to the
//!     parent, then `execve`.
use std::ffi::{c_char, CString};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::capability::CapPlan;
use crate::config::UserNs;
use crate::sys::Sys;

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
    /// Child: rootfs remounted read-only.
    ReadonlyRoot,
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
    /// Child: `execve`.
    Exec,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 27] = [
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
        Step::ReadonlyRoot,
        Step::SetHostname,
        Step::LoopbackUp,
        Step::Rlimits,
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
            Step::ReadonlyRoot => "readonly_root",
            Step::SetHostname => "set_hostname",
            Step::LoopbackUp => "loopback_up",
            Step::Rlimits => "rlimits",
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

/// One filesystem operation, its arguments prepared by the parent.
#[derive(Debug)]
pub enum Op {
    /// `mkdir`, existing is fine.
    Mkdir(CString, u32),
    /// Create an empty file to bind onto.
    Touch(CString),
    /// `symlink(target, link)`.
    Symlink(CString, CString),
    /// `mount(2)`.
    Mount {
        /// Source.
        src: Option<CString>,
        /// Mount point.
        target: CString,
        /// Filesystem type.
        fstype: Option<CString>,
        /// Flags.
        flags: MsFlags,
        /// Options.
        data: Option<CString>,
    },
    /// Hide a path: bind `/dev/null` over a file, or a read-only tmpfs over a
    /// directory (`dir`: what the host's path is); a missing path is skipped.
    Mask(CString, bool),
    /// Make a path read-only by binding it onto itself; missing is skipped.
    ReadOnly(CString),
}

/// What the child does with a root filesystem.
#[derive(Debug)]
pub struct RootPlan {
    /// The rootfs directory (host path).
    pub dir: CString,
    /// `/proc`.
    pub proc: Vec<Op>,
    /// `/dev`.
    pub dev: Vec<Op>,
    /// `/sys` (empty when absent).
    pub sys: Vec<Op>,
    /// `/tmp` (empty when not wanted).
    pub tmp: Vec<Op>,
    /// Masked and read-only paths (after `pivot_root`).
    pub masks: Vec<Op>,
    /// Remount `/` read-only with these flags (the locked ones included).
    pub readonly: Option<MsFlags>,
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

fn apply<S: Sys>(sys: &mut S, ops: &[Op]) -> Result<(), Errno> {
    for op in ops {
        match op {
            Op::Mkdir(p, mode) => sys.mkdir(p, *mode)?,
            Op::Touch(p) => sys.touch(p)?,
            Op::Symlink(t, l) => sys.symlink(t, l)?,
            Op::Mount {
                src,
                target,
                fstype,
                flags,
                data,
            } => sys.mount(
                src.as_deref(),
                target,
                fstype.as_deref(),
                *flags,
                data.as_deref(),
            )?,
            Op::Mask(p, dir) => {
                let file =
                    |sys: &mut S| sys.mount(Some(c"/dev/null"), p, None, MsFlags::MS_BIND, None);
                let tmpfs = |sys: &mut S| {
                    sys.mount(
                        Some(c"tmpfs"),
                        p,
                        Some(c"tmpfs"),
                        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                        Some(c"size=0"),
                    )
                };
                let first = if *dir { tmpfs(sys) } else { file(sys) };
                match first {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(Errno::ENOTDIR) if *dir => file(sys)?,
                    Err(Errno::ENOTDIR) => tmpfs(sys)?,
                    Err(e) => return Err(e),
                }
            }
            Op::ReadOnly(p) => {
                match sys.mount(Some(p), p, None, MsFlags::MS_BIND | MsFlags::MS_REC, None) {
                    Ok(()) => {}
                    Err(Errno::ENOENT) => continue,
                    Err(e) => return Err(e),
                }
                sys.mount(
                    None,
                    p,
                    None,
                    MsFlags::MS_BIND
                        | MsFlags::MS_REMOUNT
                        | MsFlags::MS_RDONLY
                        | MsFlags::MS_NOSUID
                        | MsFlags::MS_NODEV
                        | MsFlags::MS_NOEXEC,
                    None,
                )?;
            }
        }
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
        sys.mount(
            Some(&root.dir),
            &root.dir,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .map_err(at(Step::BindRootfs))?;
        done(sys, st, Step::BindRootfs);
        apply(sys, &root.proc).map_err(at(Step::MountProc))?;
        done(sys, st, Step::MountProc);
        apply(sys, &root.dev).map_err(at(Step::MountDev))?;
        done(sys, st, Step::MountDev);
        if !root.sys.is_empty() {
            apply(sys, &root.sys).map_err(at(Step::MountSys))?;
            done(sys, st, Step::MountSys);
        }
        if !root.tmp.is_empty() {
            apply(sys, &root.tmp).map_err(at(Step::MountTmp))?;
            done(sys, st, Step::MountTmp);
        }
        join(sys, st)?;
        let pivot = |sys: &mut S| -> Result<(), Errno> {
            sys.chdir(&root.dir)?;
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
        apply(sys, &root.masks).map_err(at(Step::MaskPaths))?;
        done(sys, st, Step::MaskPaths);
        if let Some(flags) = root.readonly {
            sys.mount(None, c"/", None, flags, None)
                .map_err(at(Step::ReadonlyRoot))?;
            done(sys, st, Step::ReadonlyRoot);
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
