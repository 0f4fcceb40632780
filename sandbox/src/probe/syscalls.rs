//! The probe's `syscalls` mode: calls the seccomp policy refuses, and calls
//! it must leave working, one JSON line each:
//! `{"vmlab":"syscall","name":NAME,"rc":RC,"errno":ERRNO}` (`rc < 0`: the
//! call failed with `errno`; for the calls that start a child, `rc` is the
//! child's exit code, [`CHILD_CODE`] when it ran). Included into
//! `vmlab-probe` with `#[path]`; exits 0.
use std::io::Write;

use vmlab_workload::protocol::FD_ENV;

/// The exit code of every child the probe starts.
pub const CHILD_CODE: i32 = 7;

fn report(name: &str, (rc, errno): (i64, i32)) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{{\"vmlab\":\"syscall\",\"name\":\"{name}\",\"rc\":{rc},\"errno\":{errno}}}"
    );
    let _ = out.flush();
}

/// A raw result with the errno of a failure, read at once.
fn result(rc: i64) -> (i64, i32) {
    let errno = if rc < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    };
    (rc, errno)
}

/// After a fork-like call: the child exits with [`CHILD_CODE`], the parent
/// waits and reports the child's exit code.
fn child(rc: i64) -> (i64, i32) {
    if rc == 0 {
        // SAFETY: in the child of a fork-like call; _exit ends it at once.
        unsafe { libc::_exit(CHILD_CODE) };
    }
    if rc < 0 {
        return result(rc);
    }
    let mut status = 0;
    // SAFETY: waits for the child just created; `status` is a local.
    let got = unsafe { libc::waitpid(rc as i32, &mut status, 0) };
    if got < 0 {
        return result(-1);
    }
    if libc::WIFEXITED(status) {
        (i64::from(libc::WEXITSTATUS(status)), 0)
    } else {
        (-1, 0)
    }
}

/// `struct clone_args`, version 0 (64 bytes).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
}

/// Runs every call; returns the exit code (0).
pub fn run() -> i32 {
    stdin_pipe();
    refused_outright();
    argument_checks();
    sockets_and_keys();
    new_processes();
    allowed_plain();
    allowed_through_libc();
    0
}

/// fd 0 becomes a pipe: a terminal ioctl on it is the kernel's ENOTTY, so
/// EPERM can only come from the filter.
fn stdin_pipe() {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills the local array; dup2 replaces fd 0.
    let piped = unsafe {
        libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) == 0 && libc::dup2(fds[0], 0) == 0
    };
    report("stdin_pipe", if piped { (0, 0) } else { result(-1) });
}

/// Calls refused whatever their arguments: io_uring, the LDT, x32 and
/// unknown numbers.
fn refused_outright() {
    // SAFETY: each call gets valid pointers to locals of the right size, or
    // none; its result is only reported.
    unsafe {
        let mut params = [0u64; 15]; // struct io_uring_params, 120 bytes
        let rc = libc::syscall(libc::SYS_io_uring_setup, 1, params.as_mut_ptr());
        let r = result(rc);
        if rc >= 0 {
            libc::close(rc as i32);
        }
        report("io_uring_setup", r);

        let mut ldt = [0u8; 16];
        report(
            "modify_ldt",
            result(libc::syscall(libc::SYS_modify_ldt, 0, ldt.as_mut_ptr(), 16)),
        );

        let x32 = 0x4000_0000 | libc::SYS_getpid;
        report("x32_getpid", result(libc::syscall(x32)));
        report("unknown_1000", result(libc::syscall(1000)));
        report("unknown_400", result(libc::syscall(400)));
    }
}

/// Calls whose arguments decide: personalities, terminal ioctls.
fn argument_checks() {
    // SAFETY: each call gets valid pointers to locals of the right size, or
    // none; its result is only reported.
    unsafe {
        let rc = libc::personality(0x0008); // PER_LINUX32
        let r = result(rc as i64);
        if rc >= 0 {
            libc::personality(rc as libc::c_ulong);
        }
        report("personality_linux32", r);
        report(
            "personality_query",
            result(libc::personality(0xffff_ffff) as i64),
        );

        let byte = b'x';
        report(
            "ioctl_tiocsti",
            result(libc::ioctl(0, libc::TIOCSTI, &byte) as i64),
        );
        // The kernel reads the request as 32 bits: the same call.
        report(
            "ioctl_tiocsti_high",
            result(libc::syscall(
                libc::SYS_ioctl,
                0,
                libc::TIOCSTI | 1 << 32,
                &byte,
            )),
        );
        let sub = [0u8; 2];
        report(
            "ioctl_tioclinux",
            result(libc::ioctl(0, libc::TIOCLINUX, sub.as_ptr()) as i64),
        );
        let mut n = 0i32;
        report(
            "ioctl_fionread",
            result(libc::ioctl(0, libc::FIONREAD, &mut n) as i64),
        );
    }
}

/// A vsock socket and the keyring.
fn sockets_and_keys() {
    // SAFETY: each call gets valid pointers to locals of the right size, or
    // none; its result is only reported.
    unsafe {
        let rc = libc::socket(libc::AF_VSOCK, libc::SOCK_STREAM, 0);
        let r = result(rc as i64);
        if rc >= 0 {
            libc::close(rc);
        }
        report("socket_vsock", r);

        // KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING.
        report("keyctl", result(libc::syscall(libc::SYS_keyctl, 0, -3, 0)));
    }
}

/// Fork-like calls, with and without a new namespace.
fn new_processes() {
    // SAFETY: each call gets valid pointers to locals of the right size, or
    // none; `child` handles the fork-like ones, whose child only exits.
    unsafe {
        let args = CloneArgs {
            exit_signal: libc::SIGCHLD as u64,
            ..CloneArgs::default()
        };
        let size = std::mem::size_of::<CloneArgs>();
        report(
            "clone3",
            child(libc::syscall(libc::SYS_clone3, &args, size)),
        );
        let newuser = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong;
        report(
            "clone_newuser",
            child(libc::syscall(libc::SYS_clone, newuser, 0, 0, 0, 0)),
        );
        let plain = libc::SIGCHLD as libc::c_ulong;
        report(
            "clone",
            child(libc::syscall(libc::SYS_clone, plain, 0, 0, 0, 0)),
        );
        report("fork", child(libc::fork() as i64));
    }
}

/// Calls that must keep working: getpid, a pipe round trip.
fn allowed_plain() {
    // SAFETY: each call gets valid pointers to locals of the right size, or
    // none; its result is only reported.
    unsafe {
        report("getpid", result(libc::getpid() as i64));
        let mut p = [0i32; 2];
        let mut got = -1;
        if libc::pipe(p.as_mut_ptr()) == 0 {
            let msg = *b"ping";
            let mut back = [0u8; 4];
            libc::write(p[1], msg.as_ptr().cast(), 4);
            got = libc::read(p[0], back.as_mut_ptr().cast(), 4) as i64;
            if back != msg {
                got = -1;
            }
            libc::close(p[0]);
            libc::close(p[1]);
        }
        report("pipe", result(got));
    }
}

/// posix_spawn and pthread_create try clone3 first and must fall back.
fn allowed_through_libc() {
    let spawned = std::process::Command::new("/proc/self/exe")
        .args(["ready", &CHILD_CODE.to_string()])
        .env_remove(FD_ENV)
        .stdout(std::process::Stdio::null())
        .status();
    report(
        "spawn",
        match spawned {
            Ok(s) => (i64::from(s.code().unwrap_or(-1)), 0),
            Err(e) => (-1, e.raw_os_error().unwrap_or(0)),
        },
    );
    let thread = std::thread::spawn(|| CHILD_CODE).join();
    report("thread", (thread.map_or(-1, i64::from), 0));
}
