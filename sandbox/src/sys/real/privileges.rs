//! Giving up privileges: capabilities, `no_new_privs`, the seccomp filter.

use nix::errno::Errno;

use super::abi::{CapData, CapHeader, LINUX_CAPABILITY_VERSION_3};
use crate::sys::raw::sys;

pub(super) fn drop_bounding(cap: u8) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    unsafe { sys!(libc::SYS_prctl, libc::PR_CAPBSET_DROP, cap) }.map(drop)
}

pub(super) fn clear_ambient() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    unsafe {
        sys!(
            libc::SYS_prctl,
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL
        )
    }
    .map(drop)
}

pub(super) fn capset(mask: u64) -> Result<(), Errno> {
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |m: u32| CapData {
        effective: m,
        permitted: m,
        inheritable: 0,
    };
    let data = [half(mask as u32), half((mask >> 32) as u32)];
    // SAFETY: header and two data structs, as version 3 requires.
    unsafe { sys!(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) }.map(drop)
}

pub(super) fn no_new_privs() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    unsafe { sys!(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1) }.map(drop)
}

pub(super) fn seccomp(program: &[seccompiler::sock_filter]) -> Result<(), Errno> {
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `program`, which outlives the call; the
    // kernel copies it. seccompiler's sock_filter has libc's layout.
    unsafe {
        sys!(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog
        )
    }
    .map(drop)
}
