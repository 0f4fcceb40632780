//! The jail's unsafe leaf: `fork`, `_exit` and `close_range`, behind safe
//! functions with their conditions stated.
use std::os::fd::RawFd;

/// Which side of a fork this is.
pub(crate) enum Forked {
    /// The parent, with the child's pid.
    Parent(libc::pid_t),
    /// The child.
    Child,
}

/// Forks the process. The child must end with [`exit_now`] and never return
/// into the caller's frames; it may allocate (glibc resets its allocator's
/// locks in the child) but must not take a lock another thread could have
/// held at the fork.
pub(crate) fn fork() -> std::io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions of its own; what the
    // child may do afterwards is the caller's contract, stated above.
    match unsafe { libc::fork() } {
        -1 => Err(std::io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid)),
    }
}

/// Ends the process now: no destructors, no atexit handlers, no stdio
/// flush (a forked child must not run its parent's).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of the process.
    unsafe { libc::_exit(code) }
}

/// Closes every fd from 3 up except those in `keep`.
pub(crate) fn close_fds_except(keep: &[RawFd]) -> std::io::Result<()> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd >= 3)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from = 3u32;
    for fd in keep.into_iter().chain([u32::MAX]) {
        if fd > from {
            // SAFETY: close_range only closes descriptors; none in
            // [from, fd - 1] is owned by a live Rust object the caller keeps
            // (the caller passes every fd it still uses in `keep`).
            let rc = unsafe { libc::syscall(libc::SYS_close_range, from, fd - 1, 0u32) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        from = fd.saturating_add(1);
    }
    Ok(())
}

/// Drops capability `cap` from the bounding set; `Ok(false)` when the
/// kernel knows no such capability (past the last one).
pub(crate) fn drop_bounding(cap: u32) -> std::io::Result<bool> {
    // SAFETY: PR_CAPBSET_DROP takes an integer and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EINVAL) {
        Ok(false)
    } else {
        Err(e)
    }
}
