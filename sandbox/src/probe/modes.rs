//! The probe's other modes: resource exhaustion, what the process is, the
//! kernel mounts and device nodes it can reach and the terminal (the
//! battery's attempts, `crate::attacks`), an output flood. Included into
//! `vmlab-probe` with `#[path]`.
use std::io::Write;

use crate::attacks::{self, Battery};
use crate::{errno, line};

pub fn forkbomb() -> i32 {
    let mut forks = 0u64;
    loop {
        // SAFETY: fork in a single-threaded program; the child only pauses.
        match unsafe { libc::fork() } {
            0 => loop {
                // SAFETY: pause has no arguments.
                unsafe { libc::pause() };
            },
            -1 => {
                line(&format!(
                    "{{\"vmlab\":\"forkbomb\",\"forks\":{forks},\"errno\":{}}}",
                    errno()
                ));
                return 0;
            }
            _ => forks += 1,
        }
        if forks >= 100_000 {
            line("{\"vmlab\":\"forkbomb\",\"forks\":100000,\"stopped\":false}");
            return 1;
        }
    }
}

pub fn memhog(mib: usize) -> i32 {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for i in 0..mib {
        let mut v = vec![0u8; 1 << 20];
        for p in v.iter_mut().step_by(4096) {
            *p = 1;
        }
        chunks.push(std::hint::black_box(v));
        if i % 16 == 0 {
            line(&format!("{{\"vmlab\":\"memhog\",\"mib\":{i}}}"));
        }
    }
    line(&format!("{{\"vmlab\":\"memhog\",\"survived\":{mib}}}"));
    0
}

pub fn info() -> i32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps: Vec<String> = status
        .lines()
        .filter(|l| {
            l.starts_with("Cap")
                || l.starts_with("Uid")
                || l.starts_with("NoNewPrivs")
                || l.starts_with("Seccomp:")
        })
        .map(|l| format!("\"{}\"", l.replace('\t', " ")))
        .collect();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    line(&format!(
        "{{\"vmlab\":\"info\",\"pid\":{},\"hostname\":\"{}\",\"status\":[{}]}}",
        std::process::id(),
        host.trim(),
        caps.join(",")
    ));
    0
}

/// Every reachable procfs and sysfs control file, opened for writing.
pub fn mounts() -> i32 {
    let mut b = Battery::default();
    attacks::control_files(&mut b);
    line(&format!(
        "{{\"vmlab\":\"mounts\",\"escapes\":{}}}",
        b.escaped
    ));
    b.escaped as i32
}

pub fn devnode(path: &str) -> i32 {
    let mut b = Battery::default();
    attacks::device_node(&mut b, "open_device_node", path);
    b.escaped as i32
}

pub fn tty() -> i32 {
    let mut b = Battery::default();
    attacks::tiocsti(&mut b, true);
    b.escaped as i32
}

pub fn flood(mib: usize) -> i32 {
    let chunk = vec![b'y'; 1 << 16];
    let mut out = std::io::stdout().lock();
    for _ in 0..mib * 16 {
        if out.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = out.flush();
    drop(out);
    // A daemon that outlives the workload and keeps the stdout pipe open.
    // SAFETY: fork in a single-threaded program; the child only writes.
    if unsafe { libc::fork() } == 0 {
        // SAFETY: setsid and write take no pointers but the valid chunk.
        unsafe {
            libc::setsid();
            loop {
                if libc::write(1, chunk.as_ptr().cast(), chunk.len()) < 0 {
                    libc::_exit(0);
                }
            }
        }
    }
    0
}

/// The per-mount options of the topmost mount on `path`, from
/// `/proc/self/mountinfo` (field 5 is the mount point, field 6 its
/// options); empty when nothing is mounted there.
fn mount_options(path: &str) -> String {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f.len() > 5 && f[4] == path)
        .map(|f| f[5].to_string())
        .next_back()
        .unwrap_or_default()
}

/// `file PATH`: reads PATH, appends `+inside`, and prints what it read and
/// the mount options of the mount PATH is on (from `/proc/self/mountinfo`).
pub fn file(path: &str) -> i32 {
    let read = std::fs::read_to_string(path);
    let wrote = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(b"+inside"));
    let opts = mount_options(path);
    let text = read.as_deref().unwrap_or("").escape_default().to_string();
    line(&format!(
        "{{\"vmlab\":\"file\",\"read\":\"{text}\",\"read_ok\":{},\"wrote\":{},\"options\":\"{opts}\"}}",
        read.is_ok(),
        wrote.is_ok()
    ));
    i32::from(read.is_err() || wrote.is_err())
}

/// In `masked` mode: for each directory, the errno of creating a file in
/// it (0 if it was created), then how many entries it lists, the
/// device of its filesystem and the options of the mount on it. Exits 0.
pub fn masked(paths: &[String]) -> i32 {
    use std::os::unix::fs::MetadataExt;
    for path in paths {
        let created = std::fs::File::create(format!("{path}/vmlab-probe"))
            .map_or_else(|e| e.raw_os_error().unwrap_or(-1), |_| 0);
        // Listed after the attempt: a created file shows.
        let entries = std::fs::read_dir(path).map_or(-1, |d| d.count() as i64);
        let dev = std::fs::metadata(path).map_or(0, |m| m.dev());
        let opts = mount_options(path);
        line(&format!(
            "{{\"vmlab\":\"masked\",\"path\":\"{path}\",\"entries\":{entries},\"dev\":{dev},\"create_errno\":{created},\"options\":\"{opts}\"}}"
        ));
    }
    0
}

/// The payload that carries the passed fds: one protocol word (a mark the
/// driver records and otherwise ignores).
const CHANNEL_MARK: u32 = 0x0000_0c4a;

/// Before ready, in `channel` mode: sends the driver, on fd 0 (a held
/// instance's protocol socket pair), its root directory and the socket
/// itself as `SCM_RIGHTS` with one protocol word. A driver that received
/// with room for control data would now hold a directory of the rootfs;
/// one that only `read`s gets the word and the kernel drops the fds.
/// Returns 0 when sent, else the errno.
pub fn pass_fds() -> i32 {
    // SAFETY: opens "/" with a valid C string.
    let root = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY) };
    if root < 0 {
        return errno();
    }
    let fds = [root, 0];
    let word = vmlab_workload::protocol::Event::Mark(CHANNEL_MARK).to_bytes();
    let mut iov = libc::iovec {
        iov_base: word.as_ptr() as *mut libc::c_void,
        iov_len: word.len(),
    };
    // Room for the cmsghdr and two fds, 8-byte aligned.
    let mut space = [0u64; 8];
    // SAFETY: msghdr is plain data; zero is valid for every field.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = space.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE only computes a size.
    msg.msg_controllen = unsafe { libc::CMSG_SPACE(std::mem::size_of_val(&fds) as u32) } as usize;
    // SAFETY: msg_control points at `space`, which is larger than
    // msg_controllen, so the first header and its data lie inside it.
    let sent = unsafe {
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(&fds) as u32) as usize;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast::<i32>(), 2);
        libc::sendmsg(0, &msg, 0)
    };
    let e = if sent == word.len() as isize {
        0
    } else {
        errno()
    };
    // SAFETY: closes our own fd.
    unsafe { libc::close(root) };
    e
}

/// After ready, in `channel` mode: who the driver is as seen through the
/// socket (`SO_PEERCRED`: its pid in our pid namespace, 0 when outside it),
/// protocol garbage queued on fd 0 without blocking until the socket is full
/// (at most 64 MiB), then a wait for end of file on fd 0 (the release).
/// Prints `{"vmlab":"channel",...}` and exits 0.
pub fn channel(passed: i32) -> i32 {
    let mut cred = libc::ucred {
        pid: -1,
        uid: u32::MAX,
        gid: u32::MAX,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let peer = unsafe {
        libc::getsockopt(
            0,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    let garbage = [0xffu8; 4096];
    let mut queued = 0usize;
    while queued < 64 << 20 {
        // SAFETY: sends from the local buffer; MSG_DONTWAIT never blocks.
        let n = unsafe {
            libc::send(
                0,
                garbage.as_ptr().cast(),
                garbage.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n <= 0 {
            break;
        }
        queued += n as usize;
    }
    let mut buf = [0u8; 64];
    let eof = loop {
        // SAFETY: reads into the local buffer.
        match unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) } {
            0 => break true,
            n if n < 0 && errno() != libc::EINTR => break false,
            _ => {}
        }
    };
    line(&format!(
        "{{\"vmlab\":\"channel\",\"passed_errno\":{passed},\"peer_ok\":{},\"peer_pid\":{},\"peer_uid\":{},\"queued\":{queued},\"eof\":{eof}}}",
        peer == 0,
        cred.pid,
        cred.uid
    ));
    0
}
