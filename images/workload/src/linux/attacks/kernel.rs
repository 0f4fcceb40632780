//! Attempts on the kernel the workload's calls reach: privileged calls,
//! kernel files, the procfs and sysfs control files, device nodes and the
//! terminal. Each is made so that it changes nothing where it succeeds.
use super::{c, errno, in_child, Battery, Scope, Scratch};

/// What only a privileged process may do: mounts, device nodes, kernel
/// modules, names and clocks, namespaces, bpf, keys, file handles, reboot.
pub fn privileged(b: &mut Battery) {
    let scratch = Scratch::new();
    let dir = scratch.path().to_string();
    let target = c(&dir);
    // SAFETY: NUL-terminated strings; a mount that succeeds is undone.
    let rc = unsafe {
        let rc = libc::mount(
            c"tmpfs".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        );
        if rc == 0 {
            libc::umount2(target.as_ptr(), libc::MNT_DETACH);
        }
        rc
    };
    b.attempt("mount", Scope::Kernel, rc.into());
    mknod(b, &dir);
    // SAFETY: no buffers are read: the kernel refuses the empty image
    // after its permission check.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            std::ptr::null::<u8>(),
            0,
            c"".as_ptr(),
        )
    };
    b.past_gate("init_module", rc);
    // SAFETY: as above, with fd -1.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0) };
    b.past_gate("finit_module", rc);
    names_and_clocks(b);
    for (name, flag) in [
        ("unshare_user", libc::CLONE_NEWUSER),
        ("unshare_mount", libc::CLONE_NEWNS),
    ] {
        // SAFETY: no pointers; the new namespace dies with the child.
        let rc = in_child(|| unsafe { libc::unshare(flag) }.into());
        b.attempt(name, Scope::Kernel, rc);
    }
    bpf(b);
    // KEYCTL_GET_KEYRING_ID of the session keyring: keys are not namespaced.
    // SAFETY: no pointers.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3, 0) };
    b.attempt("keyctl", Scope::Kernel, rc);
    open_by_handle(b);
    // Without the magic numbers reboot refuses (EINVAL) after its check.
    // SAFETY: no pointers are read.
    let rc = unsafe { libc::syscall(libc::SYS_reboot, 0, 0, 0, std::ptr::null::<u8>()) };
    b.past_gate("reboot", rc);
}

/// A one-entry BPF array map (closed right away): only `CAP_BPF` (or
/// `kernel.unprivileged_bpf_disabled=0`) makes one.
fn bpf(b: &mut Battery) {
    // union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size,
    // max_entries, the rest zero.
    let mut attr = [0u32; 16];
    attr[..4].copy_from_slice(&[2 /* BPF_MAP_TYPE_ARRAY */, 4, 4, 1]);
    // SAFETY: a local attribute of the size given; the map's fd is closed.
    let fd = unsafe {
        let fd = libc::syscall(
            libc::SYS_bpf,
            0, /* BPF_MAP_CREATE */
            attr.as_ptr(),
            std::mem::size_of_val(&attr),
        );
        if fd >= 0 {
            libc::close(fd as i32);
        }
        fd
    };
    b.attempt("bpf", Scope::Kernel, fd);
}

/// The "shocker" break-out's call: a file handle of `/` (which anyone
/// may take) opened with `open_by_handle_at`, which needs
/// `CAP_DAC_READ_SEARCH`: with it, a guessed handle opens any file of
/// the file system, around every mount.
fn open_by_handle(b: &mut Battery) {
    // struct file_handle: handle_bytes, handle_type, then the handle.
    let mut handle = [0u32; 34];
    handle[0] = 128;
    let mut mount_id = 0i32;
    // SAFETY: a local handle buffer of 128 bytes past its header, a local
    // mount id, NUL-terminated paths; the fds are closed.
    let rc = unsafe {
        let rc = libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            c"/".as_ptr(),
            handle.as_mut_ptr(),
            &mut mount_id as *mut i32,
            0,
        );
        let root = libc::open(c"/".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        let fd = if rc == 0 && root >= 0 {
            libc::syscall(
                libc::SYS_open_by_handle_at,
                root,
                handle.as_ptr(),
                libc::O_RDONLY,
            )
        } else {
            -1
        };
        let e = errno();
        if fd >= 0 {
            libc::close(fd as i32);
        }
        if root >= 0 {
            libc::close(root);
        }
        super::set_errno(e);
        fd
    };
    b.attempt("open_by_handle_at", Scope::Kernel, rc);
}

/// A node of `/dev/mem` (char 1:1) made in `dir` and opened: the device
/// controller may allow the node yet refuse its use. Escaped when it
/// opens, or fails for a reason other than a permission (`ENXIO`: the
/// kernel has no `/dev/mem` driver, yet nothing stopped the attempt).
/// Removed right after.
fn mknod(b: &mut Battery, dir: &str) {
    let node = c(&format!("{dir}/mem"));
    // SAFETY: a NUL-terminated path; the node is opened without reading
    // and removed.
    let (rc, opened) = unsafe {
        let rc = libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 1));
        if rc == 0 {
            let fd = libc::open(node.as_ptr(), libc::O_RDONLY);
            let e = errno();
            if fd >= 0 {
                libc::close(fd);
            }
            libc::unlink(node.as_ptr());
            super::set_errno(e);
            (fd, fd >= 0 || ![libc::EPERM, libc::EACCES].contains(&e))
        } else {
            (rc, false)
        }
    };
    b.report("mknod_open", Scope::Kernel, rc.into(), opened);
}

/// The hostname set to itself, and the clocks' permission checks
/// (`settimeofday` with no time; `adjtimex` setting the tick it has).
fn names_and_clocks(b: &mut Battery) {
    let mut name = [0u8; 256];
    // SAFETY: a writable local buffer, its length less one for the NUL.
    let rc = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len() - 1) };
    let len = name.iter().position(|&x| x == 0).unwrap_or(0);
    let rc = if rc == 0 {
        // SAFETY: the name just read, with its length.
        unsafe { libc::sethostname(name.as_ptr().cast(), len) }
    } else {
        rc
    };
    b.attempt("sethostname", Scope::Kernel, rc.into());
    // Both null: only the permission check runs (the raw call: the C
    // library's wrapper reads the time).
    // SAFETY: no pointers are read.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_settimeofday,
            std::ptr::null::<u8>(),
            std::ptr::null::<u8>(),
        )
    };
    b.attempt("settimeofday", Scope::Kernel, rc);
    // SAFETY: timex is plain data; adjtimex reads and writes the local.
    let rc = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        if libc::adjtimex(&mut tx) < 0 {
            -1
        } else {
            tx.modes = libc::ADJ_TICK;
            libc::adjtimex(&mut tx)
        }
    };
    b.attempt("adjtimex", Scope::Kernel, rc.into());
}

/// Kernel-wide files: sysrq, `/proc/sys`, kernel memory (opened for
/// writing, nothing written; kcore read).
pub fn files(b: &mut Battery) {
    for (name, path) in [
        ("write_sysrq", c"/proc/sysrq-trigger"),
        ("write_proc_sys", c"/proc/sys/kernel/hostname"),
    ] {
        // SAFETY: a NUL-terminated path; the fd is closed unwritten.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY) };
        b.attempt(name, Scope::Kernel, fd.into());
        if fd >= 0 {
            // SAFETY: our own fd.
            unsafe { libc::close(fd) };
        }
    }
    // SAFETY: a NUL-terminated path and a local buffer; closed after.
    let got = unsafe {
        let fd = libc::open(c"/proc/kcore".as_ptr(), libc::O_RDONLY);
        let mut buf = [0u8; 4];
        let got = if fd >= 0 {
            libc::read(fd, buf.as_mut_ptr().cast(), 4) as i64
        } else {
            -1
        };
        if fd >= 0 {
            libc::close(fd);
        }
        got
    };
    b.attempt("read_kcore", Scope::Kernel, if got > 0 { got } else { -1 });
}

/// The procfs and sysfs mount points this process can see: from
/// `/proc/self/mountinfo` and every top-level directory.
fn kernel_mounts() -> Vec<(String, String)> {
    let mut found = Vec::new();
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        for l in info.lines() {
            // id parent maj:min root mountpoint opts ... - fstype source super
            let f: Vec<&str> = l.split_whitespace().collect();
            let Some(dash) = f.iter().position(|x| *x == "-") else {
                continue;
            };
            if let (Some(mp), Some(fstype)) = (f.get(4), f.get(dash + 1)) {
                if *fstype == "proc" || *fstype == "sysfs" {
                    found.push((fstype.to_string(), mp.to_string()));
                }
            }
        }
    }
    if let Ok(d) = std::fs::read_dir("/") {
        for e in d.flatten() {
            let p = e.path().display().to_string();
            let path = c(&p);
            // SAFETY: statfs is plain data; a NUL-terminated path and a
            // pointer to the local.
            let t = unsafe {
                let mut st: libc::statfs = std::mem::zeroed();
                if libc::statfs(path.as_ptr(), &mut st) != 0 {
                    continue;
                }
                st.f_type
            };
            let t = match t {
                libc::PROC_SUPER_MAGIC => "proc",
                libc::SYSFS_MAGIC => "sysfs",
                _ => continue,
            };
            found.push((t.to_string(), p));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The host-wide control files of every reachable procfs and sysfs,
/// opened for writing (nothing written): `write MOUNT/FILE`.
pub fn control_files(b: &mut Battery) {
    for (fstype, mp) in kernel_mounts() {
        let files: &[&str] = if fstype == "proc" {
            &[
                "sys/kernel/core_pattern",
                "sys/vm/drop_caches",
                "sysrq-trigger",
            ]
        } else {
            &["kernel/uevent_helper", "power/state"]
        };
        for f in files {
            let path = c(&format!("{mp}/{f}"));
            // SAFETY: a NUL-terminated path; the fd is closed unwritten.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY) };
            b.attempt(&format!("write {mp}/{f}"), Scope::Kernel, fd.into());
            if fd >= 0 {
                // SAFETY: our own fd.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Opens the device node at `path` (read-only, not read):
/// `open_device_node`, escaped when it opened.
pub fn device_node(b: &mut Battery, name: &str, path: &str) -> bool {
    let p = c(path);
    // SAFETY: a NUL-terminated path; the fd is closed right away.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    let escaped = b.attempt(name, Scope::Kernel, fd.into());
    if fd >= 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(fd) };
    }
    escaped
}

/// Kernel memory (`open /dev/mem`) and the block devices in `/dev`
/// (`open_block_device`: one attempt, escaped when any of them opens; rc
/// is how many did), opened read-only and not read.
pub fn devices(b: &mut Battery) {
    device_node(b, "open /dev/mem", "/dev/mem");
    let mut disks: Vec<String> = Vec::new();
    if let Ok(d) = std::fs::read_dir("/dev") {
        use std::os::unix::fs::FileTypeExt;
        disks = d
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_block_device()))
            .map(|e| e.path().display().to_string())
            .collect();
    }
    let (mut opened, mut last) = (0i64, libc::ENOENT);
    for disk in disks {
        let p = c(&disk);
        // SAFETY: a NUL-terminated path; the fd is closed right away.
        let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
        if fd >= 0 {
            opened += 1;
            // SAFETY: our own fd.
            unsafe { libc::close(fd) };
        } else {
            last = errno();
        }
    }
    if opened == 0 {
        super::set_errno(last);
    }
    let rc = if opened > 0 { opened } else { -1 };
    b.attempt("open_block_device", Scope::Kernel, rc);
}

/// Typing into a terminal with `TIOCSTI` (`#vmlab-injected` and a
/// newline, a comment to a shell): through fds 0-2, and through
/// `/dev/tty` with `dev_tty` (only where the caller supplied a terminal of
/// its own: elsewhere it would type into whoever started the run).
pub fn tiocsti(b: &mut Battery, dev_tty: bool) {
    let tty_fd = if dev_tty {
        // SAFETY: a NUL-terminated path.
        let fd = unsafe { libc::open(c"/dev/tty".as_ptr(), libc::O_RDWR | libc::O_NOCTTY) };
        b.note("open_dev_tty", fd.into());
        fd
    } else {
        -1
    };
    for fd in [tty_fd, 0, 1, 2] {
        if fd < 0 {
            continue;
        }
        let mut rc = 0;
        for &ch in b"#vmlab-injected\n" {
            // SAFETY: TIOCSTI reads one byte from a valid pointer.
            rc = unsafe { libc::ioctl(fd, libc::TIOCSTI, &ch as *const u8) };
            if rc < 0 {
                break;
            }
        }
        b.attempt(&format!("tiocsti_fd{fd}"), Scope::Kernel, rc.into());
    }
    if tty_fd >= 0 {
        // SAFETY: our own fd.
        unsafe { libc::close(tty_fd) };
    }
}
