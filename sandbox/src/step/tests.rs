//! The setup order, recorded without root.
use std::ffi::CString;

use nix::errno::Errno;

use super::*;
use crate::config::{Config, Net, UserNs};
use crate::plan::{self, ChildFds};
use crate::sys::attr;
use crate::sys::record::Recorder;

const FDS: ChildFds = ChildFds {
    sync: 10,
    sync_writer: 16,
    status: 11,
    stdin: 12,
    stdout: 13,
    stderr: 14,
    proto: 15,
};

struct Fs(std::path::PathBuf);

impl Fs {
    fn new(tag: &str) -> Fs {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("vmlab-step-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let init = d.join("init");
        std::fs::write(&init, b"#!").unwrap();
        std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fs(d)
    }
}

impl Drop for Fs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn record(config: &Config, tasks: Vec<CString>) -> Recorder {
    let plan = plan::build(config, FDS, false, tasks).unwrap();
    let mut rec = Recorder::default();
    let mut times = [0u64; Step::COUNT];
    parent_steps(&plan, &mut rec, 4242, 20, &mut times).unwrap();
    let mut st = Status::new();
    child_steps(&plan, &mut rec, &mut st).unwrap();
    rec
}

#[test]
fn rootless_order_maps_then_ids_then_mounts_then_lockdown() {
    let fs = Fs::new("rootless");
    let mut c = Config::sandbox(&fs.0);
    c.ns.user = Some(UserNs {
        uid: crate::config::IdMap {
            inside: 0,
            outside: 1000,
            count: 1,
        },
        gid: crate::config::IdMap {
            inside: 0,
            outside: 1000,
            count: 1,
        },
    });
    c.ns.net = Net::Loopback;
    let tasks = vec![CString::new("/sys/fs/cgroup/memory/vmlab/x/tasks").unwrap()];
    let r = record(&c, tasks);
    let root = fs.0.display().to_string();
    let tree = r.root_tree.expect("the rootfs mount");
    ids_then_cgroup(&r, tree);
    mounts_by_fd(&r, tree, &root);
    masks_then_lockdown(&r);
}

/// Rootless: the maps, then the ids, then the v1 cgroup joined after the
/// mounts, before the pivot.
fn ids_then_cgroup(r: &Recorder, tree: i32) {
    // Parent: maps (uid before gid), then the release; the child waits for it.
    assert!(
        r.pos("write /proc/4242/uid_map 0 1000 1") < r.pos("write /proc/4242/gid_map 0 1000 1")
    );
    assert!(r.pos("write /proc/4242/gid_map") < r.pos("send 20"));
    assert!(r.pos("send 20") < r.pos("wait 10"));
    // Ids first (files it creates must belong to a mapped user).
    assert!(r.pos("wait 10") < r.pos("setresgid 0"));
    assert!(r.pos("setresgid 0") < r.pos("setresuid 0"));
    // The child joins its v1 cgroup after a second release (the parent
    // creates it meanwhile), once its mounts are done, before the pivot.
    let tasks = "write /sys/fs/cgroup/memory/vmlab/x/tasks 0";
    let waits: Vec<usize> = (0..r.calls.len())
        .filter(|&i| r.calls[i] == "wait 10")
        .collect();
    assert_eq!(waits.len(), 2, "{:#?}", r.calls);
    assert!(r.pos(&format!("open_beneath {tree} tmp dir")) < waits[1]);
    assert!(waits[1] < r.pos(tasks));
    assert!(r.pos(tasks) < r.pos("pivot_root"));
    // The parent-death signal before the first wait (a killed parent
    // ends it), with the child's copy of the parent's end of the sync
    // pipe closed; and again after the id change (which clears it).
    let deaths: Vec<usize> = (0..r.calls.len())
        .filter(|&i| r.calls[i] == "pdeathsig")
        .collect();
    assert_eq!(deaths.len(), 2, "{:#?}", r.calls);
    assert!(deaths[0] < waits[0] && r.pos("close 16") < waits[0]);
    assert!(r.pos("setresuid 0") < deaths[1]);
    // The terminal given up (and a process group of its own) while the
    // host's /dev/tty is in view, before any mount; no session needed.
    assert!(deaths[1] < r.pos("detach_terminal"));
    assert!(r.pos("detach_terminal") < r.pos("setpgid 0 0"));
    assert!(r.pos("setpgid 0 0") < r.pos("mount - / - REC|PRIVATE"));
    assert!(!r.has("setsid"));
    // Cgroup namespace after joining the cgroup.
    assert!(r.pos(tasks) < r.pos("unshare 0x2000000"));
}

/// Every mount made by fd beneath the rootfs mount, in order.
fn mounts_by_fd(r: &Recorder, tree: i32, root: &str) {
    // Mounts: private first; the host's nodes cloned before the rootfs is
    // touched; mount points created, then the rootfs cloned, made
    // nosuid|nodev|rdonly throughout and attached onto itself.
    assert!(r.pos("mount - / - REC|PRIVATE") < r.pos("clone_tree -100 \"/dev/null\""));
    assert!(r.pos("clone_tree -100 \"/dev/urandom\"") < r.pos(&format!("open_dir {root}")));
    assert!(!r.has("clone_tree -100 \"/dev/tty\""), "no host terminal");
    assert!(r.pos("mkdir_at") < r.pos(&format!("clone_tree {} \"\" recursive", tree - 1)));
    let attrs = attr::RDONLY | attr::NOSUID | attr::NODEV;
    assert!(r.has(&format!("set_attrs {tree} {attrs:#x} recursive")));
    // No path-based mount besides making / private; every mount point is
    // opened beneath the rootfs mount without links, then mounted on by fd.
    let path_mounts: Vec<&String> = r.calls.iter().filter(|c| c.starts_with("mount ")).collect();
    assert_eq!(path_mounts, ["mount - / - REC|PRIVATE -"]);
    for name in ["proc", "dev", "sys", "tmp"] {
        let open = r.pos(&format!("open_beneath {tree} {name} dir"));
        let fd = r.calls[open].rsplit(' ').next().unwrap().to_string();
        assert!(
            r.calls[open..]
                .iter()
                .any(|c| c.starts_with("move_mount ") && c.ends_with(&format!(" {fd}"))),
            "{name}"
        );
    }
    assert!(r.has("new_fs proc - "));
    assert!(r.has("new_fs devpts newinstance,ptmxmode=0666,mode=0620"));
    assert!(
        r.pos(&format!("open_beneath {tree} proc")) < r.pos(&format!("open_beneath {tree} dev"))
    );
    // /dev is populated beneath its own mount: nodes created O_EXCL, then
    // the host's nodes attached onto them.
    assert!(r.pos(&format!("open_beneath {tree} dev")) < r.pos("create_at"));
    assert!(r.pos("create_at") < r.pos("move_mount 100 "));
    assert!(r.pos("fchdir") < r.pos("pivot_root . ."));
    assert!(r.pos("pivot_root . .") < r.pos("umount ."));
    assert_eq!(r.calls[r.pos("umount .") + 1], "chdir /");
}

/// Masks after the pivot, the mounts verified, then the lockdown, seccomp last.
fn masks_then_lockdown(r: &Recorder) {
    // Masks after the pivot, then every mount verified where it was made.
    assert!(r.pos("umount .") < r.pos("new_fs tmpfs size=4k"));
    assert!(r.pos("new_fs tmpfs size=4k") < r.pos("open_beneath -100 . dir"));
    for name in ["proc", "dev", "sys", "tmp"] {
        assert!(r.pos("open_beneath -100 . dir") < r.pos(&format!("open_beneath -100 {name} dir")));
    }
    let verified = r.pos("open_beneath -100 tmp dir");
    // Then hostname, lo, rlimits, fds, and the lockdown, seccomp last.
    assert!(verified < r.pos("sethostname vmlab"));
    assert!(r.pos("sethostname") < r.pos("loopback_up"));
    assert!(r.pos("loopback_up") < r.pos("setrlimit"));
    assert!(r.pos("setrlimit") < r.pos("dup2 12 0"));
    assert!(r.pos("dup2 15 3") < r.pos("cloexec_from 4"));
    assert!(r.pos("cloexec_from 4") < r.pos("capbset_drop"));
    assert!(r.pos("capbset_drop") < r.pos("ambient_clear"));
    assert!(r.pos("ambient_clear") < r.pos("capset"));
    assert!(r.pos("capset") < r.pos("no_new_privs"));
    assert!(r.pos("no_new_privs") < r.pos("seccomp"));
    assert!(r.pos("seccomp") < r.pos("status 11"));
    assert!(r.pos("status 11") < r.pos("execve /init"));
    assert_eq!(
        r.calls.last().map(|c| c.starts_with("execve /init")),
        Some(true)
    );
    // The rootless parent (not root) denies setgroups before gid_map.
    if nix::unistd::geteuid().as_raw() != 0 {
        assert!(r.pos("write /proc/4242/setgroups deny") < r.pos("write /proc/4242/gid_map"));
    }
    assert!(r.calls.last().unwrap().contains("VMLAB_FD=3"));
}

#[test]
fn root_mode_needs_no_sync_and_no_ids() {
    let fs = Fs::new("root");
    let mut c = Config::sandbox(&fs.0);
    c.ns.user = None;
    let r = record(&c, Vec::new());
    assert!(!r.has("wait"));
    assert!(!r.has("send"));
    assert!(!r.has("setresuid"));
    assert!(!r.has("loopback_up"));
    assert!(r.pos("mount - / - REC|PRIVATE") < r.pos("pivot_root"));
    // The parent's end of the sync pipe closed in this mode too.
    assert!(r.pos("close 16") < r.pos("pdeathsig"));
}

#[test]
fn plain_process_does_no_isolation() {
    let c = Config::process("/bin/true");
    let r = record(&c, Vec::new());
    assert!(!r.has("mount"));
    assert!(!r.has("unshare"));
    assert!(!r.has("seccomp"));
    assert!(!r.has("capset"));
    assert!(r.calls.last().unwrap().starts_with("execve /bin/true"));
    assert_eq!(plan::clone_flags(&c, false), 0);
    // Not a session of its own, but a process group (killed as one); its
    // terminal is the caller's.
    assert!(!r.has("setsid"));
    assert!(!r.has("detach_terminal"));
    assert!(r.has("setpgid 0 0"));
}

#[test]
fn the_sandbox_is_user_namespaced_by_default() {
    let fs = Fs::new("default");
    let c = Config::sandbox(&fs.0);
    assert!(c.ns.user.is_some());
    assert!(c.new_session);
    assert_ne!(plan::clone_flags(&c, false) & libc::CLONE_NEWUSER as u64, 0);
}

#[test]
fn without_a_dev_tty_to_give_up_the_sandbox_takes_a_session_of_its_own() {
    let fs = Fs::new("nodevtty");
    let c = Config::sandbox(&fs.0);
    let plan = plan::build(&c, FDS, false, Vec::new()).unwrap();
    let mut rec = Recorder {
        fail_at: Some("detach_terminal".into()),
        ..Recorder::default()
    };
    let mut st = Status::new();
    child_steps(&plan, &mut rec, &mut st).unwrap();
    assert!(rec.pos("detach_terminal") < rec.pos("setsid"));
    assert!(rec.pos("setsid") < rec.pos("mount - / - REC|PRIVATE"));
    assert!(!rec.has("setpgid"), "a session leader leads its own group");
    assert!(rec.has("execve"));
}

/// The recorded run of `c` with `rec`, stopped at the first failure.
fn fail_with(c: &Config, mut rec: Recorder) -> (Failure, Recorder, Status) {
    let plan = plan::build(c, FDS, false, Vec::new()).unwrap();
    let mut st = Status::new();
    let err = child_steps(&plan, &mut rec, &mut st).unwrap_err();
    assert!(!rec.has("execve"));
    assert!(!rec.has("seccomp"));
    (err, rec, st)
}

#[test]
fn a_mount_that_lands_elsewhere_fails_the_start() {
    // As if the mount point had been swapped while it was mounted on: the
    // mount exists, but not at /proc (or /dev, /sys, /tmp, or /).
    let fs = Fs::new("moved");
    let c = Config::sandbox(&fs.0);
    for name in ["proc", "dev", "sys", "tmp", "."] {
        let rec = Recorder {
            misplace: Some(name.into()),
            ..Recorder::default()
        };
        let (err, _, st) = fail_with(&c, rec);
        assert_eq!(err.step, Step::VerifyMounts, "{name}");
        assert_eq!(err.errno, Errno::EXDEV, "{name}");
        assert_eq!(st.times[Step::SetHostname as usize], 0);
    }
    // The control: without the swap the same plan verifies.
    let r = record(&c, Vec::new());
    assert!(r.has("execve"));
}

#[test]
fn a_mask_that_cannot_be_applied_fails_the_start() {
    let fs = Fs::new("mask");
    let c = Config::sandbox(&fs.0);
    // /sys/firmware is masked with an empty read-only tmpfs.
    let rec = Recorder {
        fail_at: Some("new_fs tmpfs size=4k".into()),
        ..Recorder::default()
    };
    let (err, _, _) = fail_with(&c, rec);
    assert_eq!(err.step, Step::MaskPaths);
}

#[test]
fn a_symlinked_mount_point_fails_its_mount() {
    let fs = Fs::new("link");
    let c = Config::sandbox(&fs.0);
    for (name, step) in [
        ("proc", Step::MountProc),
        ("dev", Step::MountDev),
        ("sys", Step::MountSys),
        ("tmp", Step::MountTmp),
    ] {
        // open_beneath fails (ELOOP/ENOTDIR in the kernel; EPERM here).
        let rec = Recorder {
            fail_at: Some(format!("open_beneath 106 {name} dir")),
            ..Recorder::default()
        };
        let (err, rec, _) = fail_with(&c, rec);
        assert_eq!(err.step, step, "{name}");
        assert!(!rec.has("pivot_root"));
    }
}

#[test]
fn a_failing_step_is_named_and_stops_the_sequence() {
    let fs = Fs::new("fail");
    let c = Config::sandbox(&fs.0);
    let plan = plan::build(&c, FDS, false, Vec::new()).unwrap();
    let mut rec = Recorder {
        fail_at: Some("pivot_root".into()),
        ..Recorder::default()
    };
    let mut st = Status::new();
    let err = child_steps(&plan, &mut rec, &mut st).unwrap_err();
    assert_eq!(err.step, Step::PivotRoot);
    assert_eq!(err.errno, Errno::EPERM);
    assert!(!rec.has("execve"));
    assert!(!rec.has("seccomp"));
    assert_ne!(st.times[Step::MountDev as usize], 0);
    assert_eq!(st.times[Step::PivotRoot as usize], 0);
}

#[test]
fn status_round_trips() {
    let mut st = Status::new();
    st.times[3] = 99;
    st.failure = Some(Failure {
        step: Step::Seccomp,
        errno: Errno::EINVAL,
    });
    assert_eq!(Status::decode(&st.encode()), Some(st));
    assert_eq!(Status::decode(&[0u8; 3]), None);
}

#[test]
fn namespaces_are_all_created_by_one_clone() {
    let fs = Fs::new("flags");
    let mut c = Config::sandbox(&fs.0);
    c.ns.user = Some(UserNs::rootless());
    let f = plan::clone_flags(&c, false);
    for flag in [
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNS,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWNET,
    ] {
        assert_ne!(f & flag as u64, 0, "{flag:#x}");
    }
    // The cgroup namespace comes after the cgroup join unless born in it.
    assert_eq!(f & libc::CLONE_NEWCGROUP as u64, 0);
    assert_ne!(
        plan::clone_flags(&c, true) & libc::CLONE_NEWCGROUP as u64,
        0
    );
}

#[test]
fn a_file_bind_goes_beneath_the_root_after_tmp_and_is_verified() {
    let fs = Fs::new("bind");
    let mut c = Config::sandbox(&fs.0);
    c.bind_file = Some(crate::config::FileBind {
        host: "/host/disk.img".into(),
        inside: "/tmp/vmlab-disk".into(),
    });
    let mut plan = plan::build(&c, FDS, false, Vec::new()).unwrap();
    plan.root.as_mut().unwrap().file.as_mut().unwrap().fd = 77;
    let mut rec = Recorder::default();
    let mut st = Status::new();
    child_steps(&plan, &mut rec, &mut st).unwrap();
    let tree = rec.root_tree.expect("the rootfs mount");
    let dir = rec.pos(&format!("open_beneath {tree} tmp dir"));
    let target = rec.pos(&format!("open_beneath {tree} tmp/vmlab-disk any"));
    let moved = rec.pos("move_mount 77 ");
    assert!(rec.pos("move_mount") < dir, "/tmp is mounted first");
    let created = rec
        .calls
        .iter()
        .position(|c| c.starts_with("create_at") && c.ends_with(" vmlab-disk"))
        .expect("the target created");
    assert!(dir < created && created < target && target < moved);
    assert!(moved < rec.pos("pivot_root"));
    // After the pivot the bind is checked to be where it was made.
    assert!(rec.pos("open_beneath -100 tmp/vmlab-disk any") > rec.pos("pivot_root"));
    assert!(rec.has("close 77"));
    // A link at the target stops the step before anything is moved.
    let rec = Recorder {
        fail_at: Some(format!("open_beneath {tree} tmp/vmlab-disk")),
        ..Recorder::default()
    };
    let mut st = Status::new();
    let err = child_steps(&plan, &mut { rec }, &mut st).unwrap_err();
    assert_eq!(err.step, Step::BindFile);
}

#[test]
fn an_unprivileged_launcher_leaves_the_clone_to_the_child_which_checks_the_file() {
    let fs = Fs::new("bind-child");
    let mut c = Config::sandbox(&fs.0);
    c.bind_file = Some(crate::config::FileBind {
        host: "/host/disk.img".into(),
        inside: "/tmp/vmlab-disk".into(),
    });
    let mut plan = plan::build(&c, FDS, false, Vec::new()).unwrap();
    // The recorder's file_id is (8, 42): the file the launcher checked.
    plan.root.as_mut().unwrap().file.as_mut().unwrap().id = (8, 42);
    let mut rec = Recorder::default();
    child_steps(&plan, &mut rec, &mut Status::new()).unwrap();
    let open = rec.pos("open_nofollow /host/disk.img");
    let fd = rec.calls[open].rsplit(' ').next().unwrap().to_string();
    let clone = rec.pos(&format!("clone_tree {fd} \"\""));
    assert!(rec.pos(&format!("file_id {fd}")) < clone);
    let attrs = format!(
        "set_attrs {} {:#x}",
        fd.parse::<i32>().unwrap() + 1,
        attr::NOSUID | attr::NODEV | attr::NOEXEC
    );
    assert!(rec.pos(&attrs) > clone, "hardened before it is attached");
    assert!(
        rec.pos(&format!("move_mount {} ", fd.parse::<i32>().unwrap() + 1)) < rec.pos("pivot_root")
    );
    // Another file at that path (replaced since the check): refused.
    plan.root.as_mut().unwrap().file.as_mut().unwrap().id = (8, 43);
    let err = child_steps(&plan, &mut Recorder::default(), &mut Status::new()).unwrap_err();
    assert_eq!((err.step, err.errno), (Step::BindFile, Errno::EXDEV));
}

#[test]
fn masked_directories_share_one_empty_tmpfs() {
    use crate::plan::{Mask, MaskKind, Under};
    let fs = Fs::new("masks");
    let c = Config::sandbox(&fs.0);
    let mut plan = plan::build(&c, FDS, false, Vec::new()).unwrap();
    let dir = |under, path: &str| Mask {
        under,
        path: CString::new(path).unwrap(),
        kind: MaskKind::Hide { dir: true },
    };
    let root = plan.root.as_mut().expect("a rootfs plan");
    root.masks = vec![
        dir(Under::Proc, "acpi"),
        Mask {
            under: Under::Proc,
            path: CString::new("kcore").unwrap(),
            kind: MaskKind::Hide { dir: false },
        },
        dir(Under::Sys, "firmware"),
        dir(Under::Proc, "scsi"),
    ];
    let mut rec = Recorder::default();
    let mut times = [0u64; Step::COUNT];
    parent_steps(&plan, &mut rec, 4242, 20, &mut times).unwrap();
    child_steps(&plan, &mut rec, &mut Status::new()).unwrap();
    let calls = &rec.calls;
    let made: Vec<&String> = calls
        .iter()
        .filter(|c| c.starts_with("new_fs tmpfs size=4k"))
        .collect();
    assert_eq!(made.len(), 1, "{calls:#?}");
    let empty = made[0].rsplit(' ').next().unwrap();
    // The other two directories get binds of it (the file gets /dev/null's).
    let binds = calls
        .iter()
        .filter(|c| c.starts_with(&format!("clone_tree {empty} \"\" = ")))
        .count();
    assert_eq!(binds, 2, "{calls:#?}");
    // It is mounted before it is bound, and closed after the last bind.
    let first = rec.pos(&format!("move_mount {empty} "));
    assert!(first < rec.pos(&format!("clone_tree {empty} ")));
    let closed = calls
        .iter()
        .position(|c| *c == format!("close {empty}"))
        .expect("the empty tmpfs's fd closed");
    let bound_before = calls[..closed]
        .iter()
        .filter(|c| c.starts_with(&format!("clone_tree {empty} ")))
        .count();
    assert_eq!(bound_before, 2, "{calls:#?}");
    // The control: one directory mask makes its tmpfs and binds nothing.
    plan.root.as_mut().unwrap().masks.truncate(1);
    let mut rec = Recorder::default();
    parent_steps(&plan, &mut rec, 4242, 20, &mut times).unwrap();
    child_steps(&plan, &mut rec, &mut Status::new()).unwrap();
    assert!(rec.has("new_fs tmpfs size=4k"));
    assert!(!rec.has(&format!("clone_tree {empty} ")));
}
