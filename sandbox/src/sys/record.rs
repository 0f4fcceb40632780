//! A [`Sys`] that records each call as one line, for unit tests of the order.
use std::ffi::{c_char, CStr};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::Sys;

/// Records calls; `fail_at` makes the call whose line starts with it fail.
#[derive(Debug, Default)]
pub struct Recorder {
    /// One line per call, e.g. `mount proc /r/proc proc NOSUID|NODEV|NOEXEC -`.
    pub calls: Vec<String>,
    /// Fail the first call whose line starts with this, with `EPERM`.
    pub fail_at: Option<String>,
    /// A fake clock: each `now` ticks by one.
    pub clock: u64,
}

impl Recorder {
    fn log(&mut self, line: String) -> Result<(), Errno> {
        let fail = self.fail_at.as_ref().is_some_and(|f| line.starts_with(f));
        self.calls.push(line);
        if fail {
            Err(Errno::EPERM)
        } else {
            Ok(())
        }
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

fn o(c: Option<&CStr>) -> String {
    c.map(s).unwrap_or_else(|| "-".into())
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
    fn mount(
        &mut self,
        src: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        f: MsFlags,
        data: Option<&CStr>,
    ) -> Result<(), Errno> {
        self.log(format!(
            "mount {} {} {} {} {}",
            o(src),
            s(target),
            o(fstype),
            flags(f),
            o(data)
        ))
    }
    fn detach(&mut self, target: &CStr) -> Result<(), Errno> {
        self.log(format!("umount {}", s(target)))
    }
    fn mkdir(&mut self, path: &CStr, mode: u32) -> Result<(), Errno> {
        self.log(format!("mkdir {} {mode:o}", s(path)))
    }
    fn touch(&mut self, path: &CStr) -> Result<(), Errno> {
        self.log(format!("touch {}", s(path)))
    }
    fn symlink(&mut self, target: &CStr, link: &CStr) -> Result<(), Errno> {
        self.log(format!("symlink {} {}", s(target), s(link)))
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
