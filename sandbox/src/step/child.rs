//! The child's steps, from the clone to `execve`, as small named functions
//! in the order of the module doc of [`crate::step`].
use nix::errno::Errno;
use nix::mount::MsFlags;

use super::failure::at;
use super::mounts::{self, Mounted};
use super::{Failure, Status, Step};
use crate::plan::{ChildFds, Plan, RootPlan};
use crate::sys::Sys;

/// The child's side of a run: its [`Sys`] and the status record it fills.
struct Child<'a, S: Sys> {
    sys: &'a mut S,
    st: &'a mut Status,
}

impl<S: Sys> Child<'_, S> {
    /// Runs `f` as `step`: its error is the step's failure, its end time
    /// goes into the status record.
    fn step<T>(
        &mut self,
        step: Step,
        f: impl FnOnce(&mut S) -> Result<T, Errno>,
    ) -> Result<T, Failure> {
        let v = f(self.sys).map_err(at(step))?;
        self.st.times[step as usize] = self.sys.now();
        Ok(v)
    }
}

/// The child's part, from the clone to `execve`. Returns only when a step
/// fails (or, with a recording [`Sys`], after the recorded `execve`).
pub fn child_steps<S: Sys>(plan: &Plan, sys: &mut S, st: &mut Status) -> Result<(), Failure> {
    let mut c = Child { sys, st };
    wait_and_set_ids(plan, &mut c)?;
    c.step(Step::DieWithParent, |sys| sys.die_with_parent())?;
    session(plan, &mut c)?;
    match &plan.root {
        Some(root) => root_filesystem(plan, root, &mut c)?,
        None => join_cgroup(plan, &mut c)?,
    }
    identity(plan, &mut c)?;
    stdio(plan, &mut c)?;
    lockdown(plan, &mut c)?;
    if plan.park {
        park(plan, &mut c)?;
    }
    exec(plan, &mut c)
}

/// `wait_parent`, `set_ids`: once the parent wrote the id maps, become
/// root of the user namespace (files made later belong to a mapped user).
fn wait_and_set_ids<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    // The clone copied the parent's end of the sync pipe: closed here, in
    // every mode, a parent dead before the death signal was set reads as
    // end of file at any of the child's waits instead of blocking it.
    // (Not so only in the weakened child of a test's positive control.)
    let early = crate::fault::early_death_signal();
    if early {
        c.sys.close(plan.fds.sync_writer);
    }
    if plan.sync {
        // A SIGKILLed launcher writes no byte: the parent-death signal ends
        // this wait from here on (copies of the writer in children cloned
        // meanwhile go with those children, which die by the same signal).
        c.step(Step::WaitParent, |sys| {
            if early {
                sys.die_with_parent()?;
            }
            sys.wait_byte(plan.fds.sync)
        })?;
    }
    if let Some(user) = &plan.user {
        c.step(Step::SetIds, |sys| {
            if plan.setgroups {
                sys.clear_groups()?;
            }
            sys.set_gid(user.gid.inside)?;
            sys.set_uid(user.uid.inside)
        })?;
    }
    Ok(())
}

/// `wait_cgroup`, `join_cgroup` (v1), then `unshare_cgroup`: the cgroup
/// namespace is rooted where the child is when it unshares.
fn join_cgroup<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    if !plan.cgroup_tasks.is_empty() {
        c.step(Step::WaitCgroup, |sys| sys.wait_byte(plan.fds.sync))?;
        c.step(Step::JoinCgroup, |sys| {
            plan.cgroup_tasks
                .iter()
                .try_for_each(|tasks| sys.write_file(tasks, b"0"))
        })?;
    }
    if plan.unshare_cgroup {
        c.step(Step::UnshareCgroup, |sys| {
            sys.unshare(libc::CLONE_NEWCGROUP)
        })?;
    }
    Ok(())
}

/// From `make_private` to `verify_mounts`: the rootfs and its mounts, the
/// cgroup join, the pivot, the masks, and the check that every mount is
/// where it was made.
fn root_filesystem<S: Sys>(
    plan: &Plan,
    root: &RootPlan,
    c: &mut Child<'_, S>,
) -> Result<(), Failure> {
    c.step(Step::MakePrivate, |sys| {
        sys.set_propagation(c"/", MsFlags::MS_REC | MsFlags::MS_PRIVATE)
    })?;
    let tree = c.step(Step::BindRootfs, |sys| {
        let nodes = mounts::clone_host_nodes(sys, &root.dev)?;
        let tree = mounts::bind_rootfs(sys, root)?;
        Ok((tree, nodes))
    })?;
    let (tree, nodes) = tree;
    let mut m = Mounted {
        tree,
        proc: c.step(Step::MountProc, |sys| {
            mounts::mount_new(sys, tree, &root.proc)
        })?,
        dev: -1,
        sys: -1,
        tmp: -1,
        file: -1,
    };
    m.dev = c.step(Step::MountDev, |sys| {
        mounts::mount_dev(sys, tree, &root.dev, &nodes)
    })?;
    if let Some(sysfs) = &root.sys {
        m.sys = c.step(Step::MountSys, |sys| mounts::mount_new(sys, tree, sysfs))?;
    }
    if let Some(tmp) = &root.tmp {
        m.tmp = c.step(Step::MountTmp, |sys| mounts::mount_new(sys, tree, tmp))?;
    }
    if let Some(file) = &root.file {
        m.file = c.step(Step::BindFile, |sys| mounts::bind_file(sys, tree, file))?;
    }
    join_cgroup(plan, c)?;
    c.step(Step::PivotRoot, |sys| {
        sys.fchdir(tree)?;
        sys.pivot_root(c".", c".")
    })?;
    // The old root now sits on top of the new one at "/": detach it.
    c.step(Step::DetachOldRoot, |sys| {
        sys.detach(c".")?;
        sys.chdir(c"/")
    })?;
    c.step(Step::MaskPaths, |sys| mounts::apply_masks(sys, root, &m))?;
    c.step(Step::VerifyMounts, |sys| {
        mounts::verify_mounts(sys, root, &m)
    })?;
    // Every fd above is close-on-exec; close them now all the same.
    for fd in [m.tree, m.proc, m.dev, m.sys, m.tmp, m.file] {
        if fd >= 0 {
            c.sys.close(fd);
        }
    }
    Ok(())
}

/// `set_hostname`, `loopback_up`, `rlimits`.
fn identity<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    if let Some(name) = &plan.hostname {
        c.step(Step::SetHostname, |sys| sys.sethostname(name))?;
    }
    if plan.loopback {
        c.step(Step::LoopbackUp, |sys| sys.loopback_up())?;
    }
    if !plan.rlimits.is_empty() {
        c.step(Step::Rlimits, |sys| {
            plan.rlimits
                .iter()
                .try_for_each(|&(res, lim)| sys.setrlimit(res, lim))
        })?;
    }
    Ok(())
}

/// `session`: no controlling terminal and a process group of its own, or
/// (a plain process) the process group only. Early, while the host's
/// `/dev/tty` is still the one in view: the caller's terminal is given up
/// there (`TIOCNOTTY`), checked gone, and where that cannot be done (no
/// `/dev/tty` on the host) a session of its own (`setsid`) does it.
fn session<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    if plan.new_session {
        c.step(Step::Session, |sys| match sys.detach_terminal() {
            Ok(()) => sys.own_process_group(),
            Err(_) => sys.setsid(),
        })?;
    } else if plan.own_group {
        c.step(Step::Session, |sys| sys.own_process_group())?;
    }
    Ok(())
}

/// `stdio`: the pipes become fds 0-3, every other fd close-on-exec.
fn stdio<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    let fds = plan.fds;
    c.step(Step::Stdio, |sys| {
        sys.dup2(fds.stdin, 0)?;
        sys.dup2(fds.stdout, 1)?;
        sys.dup2(fds.stderr, 2)?;
        sys.dup2(fds.proto, ChildFds::PROTO)?;
        if plan.park {
            // A parked child outlives the parent's next clones: it keeps
            // only its own two pipes, not the parent's fds of other runs.
            sys.close_from_except(ChildFds::PROTO + 1, [fds.sync, fds.status])?;
        }
        sys.cloexec_from(ChildFds::PROTO + 1)?;
        sys.reset_signals()
    })
}

/// `drop_caps`, `no_new_privs`, `seccomp`: last, so setup keeps its power.
fn lockdown<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    if let Some(caps) = &plan.caps {
        c.step(Step::DropCaps, |sys| {
            for &cap in &caps.drop {
                sys.drop_bounding(cap)?;
            }
            sys.clear_ambient()?;
            sys.capset(caps.keep)
        })?;
    }
    if plan.no_new_privs {
        c.step(Step::NoNewPrivs, |sys| sys.no_new_privs())?;
    }
    if let Some(prog) = &plan.seccomp {
        c.step(Step::Seccomp, |sys| sys.seccomp(prog))?;
    }
    Ok(())
}

/// `park` (a pool's sandbox): with everything but the `execve` done, the
/// status record tells the parent so, then the child blocks reading the
/// sync pipe (a `read` the seccomp filter allows) until the parent's
/// release byte. EOF (the parent gone) fails the step instead of running
/// the workload. The sync fd is close-on-exec: the workload never sees it.
fn park<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    c.st.times[Step::Park as usize] = c.sys.now();
    let record = c.st.encode();
    c.sys
        .write_all(plan.fds.status, &record)
        .map_err(at(Step::Park))?;
    c.sys.wait_byte(plan.fds.sync).map_err(at(Step::Park))
}

/// `exec`: the status record (with each step's end time) to the parent,
/// then `execve`.
fn exec<S: Sys>(plan: &Plan, c: &mut Child<'_, S>) -> Result<(), Failure> {
    c.st.times[Step::Exec as usize] = c.sys.now();
    let record = c.st.encode();
    c.sys
        .write_all(plan.fds.status, &record)
        .map_err(at(Step::Exec))?;
    c.sys
        .execve(&plan.exec.path, &plan.exec.argv, &plan.exec.envp)
        .map_err(at(Step::Exec))
}
