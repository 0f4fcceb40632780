//! [`Real`]: each operation of [`Sys`] made by its system call.
use std::ffi::{c_char, CStr};
use std::os::fd::RawFd;

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::{files, mounts, privileges, process};
use crate::sys::{FsSpec, Sys};

/// The system calls themselves.
#[derive(Debug, Default)]
pub struct Real;

impl Sys for Real {
    fn write_file(&mut self, path: &CStr, data: &[u8]) -> Result<(), Errno> {
        files::write_file(path, data)
    }

    fn wait_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        files::wait_byte(fd)
    }

    fn send_byte(&mut self, fd: RawFd) -> Result<(), Errno> {
        files::send_byte(fd)
    }

    fn unshare(&mut self, flags: i32) -> Result<(), Errno> {
        process::unshare(flags)
    }

    fn clear_groups(&mut self) -> Result<(), Errno> {
        process::clear_groups()
    }

    fn set_gid(&mut self, gid: u32) -> Result<(), Errno> {
        process::set_gid(gid)
    }

    fn set_uid(&mut self, uid: u32) -> Result<(), Errno> {
        process::set_uid(uid)
    }

    fn die_with_parent(&mut self) -> Result<(), Errno> {
        process::die_with_parent()
    }

    fn set_propagation(&mut self, target: &CStr, flags: MsFlags) -> Result<(), Errno> {
        mounts::set_propagation(target, flags)
    }

    fn detach(&mut self, target: &CStr) -> Result<(), Errno> {
        mounts::detach(target)
    }

    fn open_dir(&mut self, path: &CStr) -> Result<RawFd, Errno> {
        files::open_dir(path)
    }

    fn open_beneath(&mut self, dirfd: RawFd, path: &CStr, dir: bool) -> Result<RawFd, Errno> {
        files::open_beneath(dirfd, path, dir)
    }

    fn clone_tree(&mut self, dirfd: RawFd, path: &CStr, recursive: bool) -> Result<RawFd, Errno> {
        mounts::clone_tree(dirfd, path, recursive)
    }

    fn new_fs(&mut self, fs: &FsSpec) -> Result<RawFd, Errno> {
        mounts::new_fs(fs)
    }

    fn move_mount(&mut self, from: RawFd, to: RawFd) -> Result<(), Errno> {
        mounts::move_mount(from, to)
    }

    fn set_mount_attrs(&mut self, fd: RawFd, attrs: u64, recursive: bool) -> Result<(), Errno> {
        mounts::set_mount_attrs(fd, attrs, recursive)
    }

    fn fs_magic(&mut self, fd: RawFd) -> Result<i64, Errno> {
        mounts::fs_magic(fd)
    }

    fn mount_id(&mut self, fd: RawFd) -> Result<u64, Errno> {
        mounts::mount_id(fd)
    }

    fn mkdir_at(&mut self, dirfd: RawFd, name: &CStr, mode: u32) -> Result<(), Errno> {
        files::mkdir_at(dirfd, name, mode)
    }

    fn open_nofollow(&mut self, path: &CStr) -> Result<RawFd, Errno> {
        files::open_nofollow(path)
    }

    fn file_id(&mut self, fd: RawFd) -> Result<(u64, u64), Errno> {
        mounts::file_id(fd)
    }

    fn create_at(&mut self, dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
        files::create_at(dirfd, name)
    }

    fn symlink_at(&mut self, target: &CStr, dirfd: RawFd, name: &CStr) -> Result<(), Errno> {
        files::symlink_at(target, dirfd, name)
    }

    fn fchdir(&mut self, fd: RawFd) -> Result<(), Errno> {
        files::fchdir(fd)
    }

    fn close(&mut self, fd: RawFd) {
        files::close(fd)
    }

    fn setsid(&mut self) -> Result<(), Errno> {
        process::setsid()
    }

    fn own_process_group(&mut self) -> Result<(), Errno> {
        process::own_process_group()
    }

    fn detach_terminal(&mut self) -> Result<(), Errno> {
        process::detach_terminal()
    }

    fn chdir(&mut self, path: &CStr) -> Result<(), Errno> {
        files::chdir(path)
    }

    fn pivot_root(&mut self, new_root: &CStr, put_old: &CStr) -> Result<(), Errno> {
        mounts::pivot_root(new_root, put_old)
    }

    fn sethostname(&mut self, name: &CStr) -> Result<(), Errno> {
        process::sethostname(name)
    }

    fn loopback_up(&mut self) -> Result<(), Errno> {
        process::loopback_up()
    }

    fn setrlimit(&mut self, resource: u32, limit: u64) -> Result<(), Errno> {
        process::setrlimit(resource, limit)
    }

    fn dup2(&mut self, old: RawFd, new: RawFd) -> Result<(), Errno> {
        files::dup2(old, new)
    }

    fn cloexec_from(&mut self, first: RawFd) -> Result<(), Errno> {
        files::cloexec_from(first)
    }

    fn close_from_except(&mut self, first: RawFd, keep: [RawFd; 2]) -> Result<(), Errno> {
        files::close_from_except(first, keep)
    }

    fn reset_signals(&mut self) -> Result<(), Errno> {
        process::reset_signals()
    }

    fn drop_bounding(&mut self, cap: u8) -> Result<(), Errno> {
        privileges::drop_bounding(cap)
    }

    fn clear_ambient(&mut self) -> Result<(), Errno> {
        privileges::clear_ambient()
    }

    fn capset(&mut self, mask: u64) -> Result<(), Errno> {
        privileges::capset(mask)
    }

    fn no_new_privs(&mut self) -> Result<(), Errno> {
        privileges::no_new_privs()
    }

    fn seccomp(&mut self, program: &[seccompiler::sock_filter]) -> Result<(), Errno> {
        privileges::seccomp(program)
    }

    fn write_all(&mut self, fd: RawFd, bytes: &[u8]) -> Result<(), Errno> {
        files::write_all(fd, bytes)
    }

    fn execve(
        &mut self,
        path: &CStr,
        argv: &[*const c_char],
        envp: &[*const c_char],
    ) -> Result<(), Errno> {
        process::execve(path, argv, envp)
    }

    fn now(&mut self) -> u64 {
        process::now()
    }
}
