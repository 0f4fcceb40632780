//! A [`Sys`] that records each call as one line, for unit tests of the order.
use std::collections::HashMap;
use std::ffi::{c_char, CStr};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::{FsSpec, Sys};

/// Records calls; `fail_at` makes the call whose line starts with it fail.
#[derive(Debug, Default)]
pub struct Recorder {
    /// One line per call, e.g. `mount proc /r/proc proc NOSUID|NODEV|NOEXEC -`.
    pub calls: Vec<String>,
    /// Fail the first call whose line starts with this, with `EPERM`.
    pub fail_at: Option<String>,
    /// A fake clock: each `now` ticks by one.
    pub clock: u64,
    /// The next fd a call that opens one returns (from 100 on).
    pub next_fd: RawFd,
    /// A fake mount table: what each `open_beneath`/`open_dir` fd names.
    pub targets: HashMap<RawFd, String>,
    /// Path (from the root, `.` for the root itself; `fd/path` beneath
    /// another mount) to the mount fd last attached there; a test edits it to simulate a mount that moved.
    pub mounted: HashMap<String, RawFd>,
    /// Attach the mount meant for this path elsewhere (a swapped mount point).
    pub misplace: Option<String>,
    /// The rootfs mount attached by `move_mount` onto an `open_dir` fd.
    pub root_tree: Option<RawFd>,
    /// Filesystem magic of each `new_fs` fd.
    pub fs_types: HashMap<RawFd, i64>,
}

impl Recorder {
    fn fd(&mut self) -> RawFd {
        self.next_fd = self.next_fd.max(99) + 1;
        self.next_fd
    }

    fn log(&mut self, line: String) -> Result<(), Errno> {
        let fail = self.fail_at.as_ref().is_some_and(|f| line.starts_with(f));
        self.calls.push(line);
        if fail {
            Err(Errno::EPERM)
        } else {
            Ok(())
        }
    }

    /// The mount an fd is on in the fake table: a target's attached mount,
    /// or the fd itself.
    fn mounted_on(&self, fd: RawFd) -> RawFd {
        self.targets
            .get(&fd)
            .and_then(|name| self.mounted.get(name))
            .copied()
            .unwrap_or(fd)
    }

    /// Position of the first call starting with `prefix`.
    pub fn pos(&self, prefix: &str) -> usize {
        self.calls
            .iter()
            .position(|c| c.starts_with(prefix))
            .unwrap_or_else(|| panic!("no call {prefix:?} in {:#?}", self.calls))
    }

    /// Whether a call starts with `prefix`.
    pub fn has(&self, prefix: &str) -> bool {
        self.calls.iter().any(|c| c.starts_with(prefix))
    }
}

fn s(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

fn flags(f: MsFlags) -> String {
    let names: Vec<String> = f
        .iter_names()
        .map(|(n, _)| n.trim_start_matches("MS_").to_string())
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

impl Sys for Recorder {
    fn write_file(&mut self, path: &CStr, data: &[u8]) -> Result<(), Errno> {
        let d = String::from_utf8_lossy(data).trim_end().to_string();
        self.log(format!("write {} {d}", s(path)))
    }
    fn wait_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        self.log(format!("wait {fd}"))
    }
    fn send_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        self.log(format!("send {fd}"))
    }
    fn unshare(&mut self, flags: i32) -> Result<(), Errno> {
        self.log(format!("unshare {flags:#x}"))
    }
    fn clear_groups(&mut self) -> Result<(), Errno> {
        self.log("setgroups".into())
    }
    fn set_gid(&mut self, gid: u32) -> Result<(), Errno> {
        self.log(format!("setresgid {gid}"))
    }
    fn set_uid(&mut self, uid: u32) -> Result<(), Errno> {
        self.log(format!("setresuid {uid}"))
    }
    fn die_with_parent(&mut self) -> Result<(), Errno> {
        self.log("pdeathsig".into())
    }
    fn set_propagation(&mut self, target: &CStr, f: MsFlags) -> Result<(), Errno> {
        // The line of the mount(2) it makes: no source, type or data.
        self.log(format!("mount - {} - {} -", s(target), flags(f)))
    }
    fn detach(&mut self, target: &CStr) -> Result<(), Errno> {
        self.log(format!("umount {}", s(target)))
    }
    fn open_dir(&mut self, path: &CStr) -> Result<RawFd, Errno> {
        let fd = self.fd();
        self.targets.insert(fd, ".".into());
        self.log(format!("open_dir {} = {fd}", s(path)))?;
        Ok(fd)
    }
    fn open_beneath(&mut self, dirfd: RawFd, path: &CStr, dir: bool) -> Result<RawFd, Errno> {
        let fd = self.fd();
        let kind = if dir { "dir" } else { "any" };
        // Paths from the root (the cwd after the pivot, or the rootfs
        // mount before it) by name; others by their directory fd too.
        let name = if dirfd == libc::AT_FDCWD || Some(dirfd) == self.root_tree {
            s(path)
        } else {
            format!("{dirfd}/{}", s(path))
        };
        self.targets.insert(fd, name);
        self.log(format!("open_beneath {dirfd} {} {kind} = {fd}", s(path)))?;
        Ok(fd)
    }
    fn clone_tree(&mut self, dirfd: RawFd, path: &CStr, recursive: bool) -> Result<RawFd, Errno> {
        let fd = self.fd();
        let rec = if recursive { " recursive" } else { "" };
        self.log(format!("clone_tree {dirfd} {:?}{rec} = {fd}", s(path)))?;
        Ok(fd)
    }
    fn new_fs(&mut self, fs: &FsSpec) -> Result<RawFd, Errno> {
        let fd = self.fd();
        let magic = match fs.fstype.to_bytes() {
            b"proc" => libc::PROC_SUPER_MAGIC,
            b"sysfs" => libc::SYSFS_MAGIC,
            b"tmpfs" => libc::TMPFS_MAGIC,
            b"devpts" => libc::DEVPTS_SUPER_MAGIC,
            _ => 0,
        };
        self.fs_types.insert(fd, magic);
        let opts: Vec<String> = fs
            .options
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{}={}", s(k), s(v)),
                None => s(k),
            })
            .collect();
        self.log(format!(
            "new_fs {} {} {:#x} = {fd}",
            s(&fs.fstype),
            if opts.is_empty() {
                "-".to_string()
            } else {
                opts.join(",")
            },
            fs.attrs
        ))?;
        Ok(fd)
    }
    fn move_mount(&mut self, from: RawFd, to: RawFd) -> Result<(), Errno> {
        if let Some(name) = self.targets.get(&to).cloned() {
            if name == "." {
                self.root_tree = Some(from);
            }
            let name = if self.misplace.as_deref() == Some(name.as_str()) {
                format!("{name}-elsewhere")
            } else {
                name
            };
            self.mounted.insert(name, from);
        }
        self.log(format!("move_mount {from} {to}"))
    }
    fn set_mount_attrs(&mut self, fd: RawFd, attrs: u64, recursive: bool) -> Result<(), Errno> {
        let rec = if recursive { " recursive" } else { "" };
        self.log(format!("set_attrs {fd} {attrs:#x}{rec}"))
    }
    fn fs_magic(&mut self, fd: RawFd) -> Result<i64, Errno> {
        self.log(format!("fs_magic {fd}"))?;
        let fs = self.mounted_on(fd);
        Ok(*self.fs_types.get(&fs).unwrap_or(&0))
    }
    fn mount_id(&mut self, fd: RawFd) -> Result<u64, Errno> {
        self.log(format!("mount_id {fd}"))?;
        Ok(self.mounted_on(fd) as u64)
    }
    fn open_nofollow(&mut self, path: &CStr) -> Result<RawFd, Errno> {
        let fd = self.fd();
        self.log(format!("open_nofollow {} = {fd}", s(path)))?;
        Ok(fd)
    }
    fn file_id(&mut self, fd: RawFd) -> Result<(u64, u64), Errno> {
        self.log(format!("file_id {fd}"))?;
        Ok((8, 42))
    }
    fn mkdir_at(&mut self, dirfd: RawFd, name: &CStr, mode: u32) -> Result<(), Errno> {
        self.log(format!("mkdir_at {dirfd} {} {mode:o}", s(name)))
    }
    fn create_at(&mut self, dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
        self.log(format!("create_at {dirfd} {}", s(name)))
    }
    fn symlink_at(&mut self, target: &CStr, dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
        self.log(format!("symlink_at {} {dirfd} {}", s(target), s(name)))
    }
    fn fchdir(&mut self, fd: RawFd) -> Result<(), Errno> {
        self.log(format!("fchdir {fd}"))
    }
    fn close(&mut self, fd: RawFd) {
        let _ = self.log(format!("close {fd}"));
    }
    fn setsid(&mut self) -> Result<(), Errno> {
        self.log("setsid".into())
    }
    fn own_process_group(&mut self) -> Result<(), Errno> {
        self.log("setpgid 0 0".into())
    }
    fn detach_terminal(&mut self) -> Result<(), Errno> {
        self.log("detach_terminal".into())
    }
    fn chdir(&mut self, path: &CStr) -> Result<(), Errno> {
        self.log(format!("chdir {}", s(path)))
    }
    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
        self.log(format!("pivot_root {} {}", s(new_root), s(put_old)))
    }
    fn sethostname(&mut self, name: &CStr) -> Result<(), Errno> {
        self.log(format!("sethostname {}", s(name)))
    }
    fn loopback_up(&mut self) -> Result<(), Errno> {
        self.log("loopback_up".into())
    }
    fn setrlimit(&mut self, resource: u32, limit: u64) -> Result<(), Errno> {
        self.log(format!("setrlimit {resource} {limit}"))
    }
    fn dup2(&mut self, old: RawFd, new: RawFd) -> Result<(), Errno> {
        self.log(format!("dup2 {old} {new}"))
    }
    fn cloexec_from(&mut self, first: RawFd) -> Result<(), Errno> {
        self.log(format!("cloexec_from {first}"))
    }
    fn close_from_except(&mut self, first: RawFd, keep: [RawFd; 2]) -> Result<(), Errno> {
        self.log(format!("close_from_except {first} {} {}", keep[0], keep[1]))
    }
    fn reset_signals(&mut self) -> Result<(), Errno> {
        self.log("reset_signals".into())
    }
    fn drop_bounding(&mut self, cap: u8) -> Result<(), Errno> {
        self.log(format!("capbset_drop {cap}"))
    }
    fn clear_ambient(&mut self) -> Result<(), Errno> {
        self.log("ambient_clear".into())
    }
    fn capset(&mut self, mask: u64) -> Result<(), Errno> {
        self.log(format!("capset {mask:#x}"))
    }
    fn no_new_privs(&mut self) -> Result<(), Errno> {
        self.log("no_new_privs".into())
    }
    fn seccomp(&mut self, program: &[seccompiler::sock_filter]) -> Result<(), Errno> {
        self.log(format!("seccomp {}", program.len()))
    }
    fn write_all(&mut self, fd: RawFd, bytes: &[u8]) -> Result<(), Errno> {
        self.log(format!("status {fd} {}", bytes.len()))
    }
    fn execve(
        &mut self,
        path: &CStr,
        argv: &[*const c_char],
        envp: &[*const c_char],
    ) -> Result<(), Errno> {
        let strs = |v: &[*const c_char]| -> Vec<String> {
            v.iter()
                .take_while(|p| !p.is_null())
                // SAFETY: the plan's arrays point at live NUL-terminated strings.
                .map(|&p| s(unsafe { CStr::from_ptr(p) }))
                .collect()
        };
        self.log(format!(
            "execve {} {:?} {:?}",
            s(path),
            strs(argv),
            strs(envp)
        ))
    }
    fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}
