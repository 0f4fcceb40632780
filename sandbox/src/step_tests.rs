//! The setup order, recorded without root.
use std::ffi::CString;

use super::*;
use crate::config::{Config, Net, UserNs};
use crate::plan;
use crate::sys::record::Recorder;

const FDS: ChildFds = ChildFds {
    sync: 10,
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
    assert!(r.pos(&format!("mount tmpfs {root}/tmp")) < waits[1]);
    assert!(waits[1] < r.pos(tasks));
    assert!(r.pos(tasks) < r.pos("pivot_root"));
    // The parent-death signal after the id change (which clears it).
    assert!(r.pos("setresuid 0") < r.pos("pdeathsig"));
    // Cgroup namespace after joining the cgroup.
    assert!(r.pos(tasks) < r.pos("unshare 0x2000000"));
    // Mounts: private first, rootfs bound, /proc and /dev inside, then pivot.
    assert!(r.pos("mount - / - REC|PRIVATE") < r.pos(&format!("mount {root} {root} - BIND|REC")));
    assert!(
        r.pos(&format!("mount {root} {root}")) < r.pos(&format!("mount proc {root}/proc proc"))
    );
    assert!(
        r.pos(&format!("mount proc {root}/proc")) < r.pos(&format!("mount tmpfs {root}/dev tmpfs"))
    );
    assert!(
        r.pos(&format!("touch {root}/dev/null"))
            < r.pos(&format!("mount /dev/null {root}/dev/null - BIND"))
    );
    assert!(r.has(&format!(
        "mount devpts {root}/dev/pts devpts NOSUID|NOEXEC newinstance"
    )));
    assert!(r.pos(&format!("chdir {root}")) < r.pos("pivot_root . ."));
    assert!(r.pos("pivot_root . .") < r.pos("umount ."));
    assert_eq!(r.calls[r.pos("umount .") + 1], "chdir /");
    // Masks after the pivot, then the read-only root.
    assert!(r.pos("umount .") < r.pos("mount /dev/null /proc/"));
    assert!(r.pos("mount /dev/null /proc/") < r.pos("mount - / - RDONLY"));
    assert!(r.pos("mount - /proc/sys - RDONLY") < r.pos("mount - / - RDONLY"));
    // Then hostname, lo, rlimits, fds, and the lockdown, seccomp last.
    assert!(r.pos("mount - / - RDONLY") < r.pos("sethostname vmlab"));
    assert!(r.pos("sethostname") < r.pos("loopback_up"));
    assert!(r.pos("loopback_up") < r.pos("setrlimit"));
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
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        assert!(r.pos("write /proc/4242/setgroups deny") < r.pos("write /proc/4242/gid_map"));
    }
    assert!(r.calls.last().unwrap().contains("VMLAB_FD=3"));
}

#[test]
fn root_mode_needs_no_sync_and_no_ids() {
    let fs = Fs::new("root");
    let c = Config::sandbox(&fs.0);
    let r = record(&c, Vec::new());
    assert!(!r.has("wait"));
    assert!(!r.has("send"));
    assert!(!r.has("setresuid"));
    assert!(!r.has("loopback_up"));
    assert!(r.pos("mount - / - REC|PRIVATE") < r.pos("pivot_root"));
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
