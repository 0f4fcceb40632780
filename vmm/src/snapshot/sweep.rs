//! Removing the temporary files of snapshot writers that died mid-write
//! (a SIGKILL leaves `.NAME.PID.tmp` next to its target).
//!
//! Before a snapshot is written into a directory, every entry there named
//! exactly `.NAME.PID.tmp` (NAME not empty, PID all digits) is removed when
//! the process PID no longer exists, the entry is a regular file (a
//! symbolic link is never followed nor removed) and its content is a
//! snapshot writer's: empty (killed before its first write) or starting
//! with the snapshot magic, which the writer puts first. A live PID's file
//! is another writer's, still at work, and stays (a reused PID keeps a
//! stale file until that process is gone too: the safe side).
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

use super::format::MAGIC;

/// The writer's PID in a temporary file's name `.NAME.PID.tmp`.
pub(crate) fn temp_pid(name: &str) -> Option<i32> {
    let inner = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (target, pid) = inner.rsplit_once('.')?;
    if target.is_empty() || pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok().filter(|&p| p > 0)
}

/// Whether process `pid` exists (a process of another user counts).
fn alive(pid: i32) -> bool {
    !matches!(kill(Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// Whether `path` is a regular file (not followed if a link) that is empty
/// or starts with the snapshot magic.
fn is_writers(path: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    if !meta.file_type().is_file() {
        return false;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    let Ok(file) = file else {
        return false;
    };
    let mut head = Vec::with_capacity(MAGIC.len());
    match File::take(file, MAGIC.len() as u64).read_to_end(&mut head) {
        Ok(0) => true,
        Ok(_) => head == MAGIC,
        Err(_) => false,
    }
}

/// Removes the stale temporary files in `dir` (see the module docs) and
/// returns them. Entries that cannot be read or removed are left alone.
pub(crate) fn sweep(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_pid) else {
            continue;
        };
        let path = entry.path();
        if pid == me || alive(pid) || !is_writers(&path) {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_pattern_names_a_pid() {
        assert_eq!(temp_pid(".snap.vmlab.123.tmp"), Some(123));
        assert_eq!(temp_pid(".a.7.tmp"), Some(7));
        for bad in [
            "snap.vmlab.123.tmp",
            ".snap.vmlab.123.tmp~",
            ".snap.vmlab.12a.tmp",
            ".snap.vmlab..tmp",
            "..123.tmp",
            ".123.tmp",
            ".snap.vmlab.0.tmp",
            ".snap.vmlab.+12.tmp",
            ".snap.99999999999.tmp",
        ] {
            assert_eq!(temp_pid(bad), None, "{bad}");
        }
        // The name the writer uses parses back to its PID.
        let t = super::super::format::temp_path(Path::new("/d/snap.vmlab"));
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(temp_pid(name), Some(std::process::id() as i32));
    }

    #[test]
    fn dead_writers_files_go_live_ones_links_and_others_stay() {
        let dir = std::env::temp_dir().join(format!("vmlab-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A PID that is gone: a child that exited and was reaped.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let live = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut snap = MAGIC.to_vec();
        snap.extend_from_slice(&[0; 100]);
        let put = |name: String, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let stale = put(format!(".a.vmlab.{dead}.tmp"), &snap);
        let empty = put(format!(".b.vmlab.{dead}.tmp"), b"");
        let running = put(format!(".a.vmlab.{}.tmp", live.id()), &snap);
        let foreign = put(format!(".notes.txt.{dead}.tmp"), b"someone else's");
        let other = put(format!("a.vmlab.{dead}.tmp"), &snap);
        let target = put("target".into(), &snap);
        let link = dir.join(format!(".c.vmlab.{dead}.tmp"));
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let removed = sweep(&dir);
        let mut live = live;
        live.kill().unwrap();
        live.wait().unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        assert!(!stale.exists() && !empty.exists());
        for kept in [&running, &foreign, &other, &target] {
            assert!(kept.exists(), "{} was removed", kept.display());
        }
        assert!(
            std::fs::symlink_metadata(&link).is_ok(),
            "the link was removed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
