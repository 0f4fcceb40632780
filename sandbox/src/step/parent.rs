//! The parent's steps after the clone: id maps and releases.
use std::ffi::CString;
use std::os::fd::RawFd;

use super::failure::at;
use super::{Failure, Step};
use crate::plan::Plan;
use crate::sys::Sys;

/// Releases the child a second time, once its v1 cgroup exists.
pub fn release_cgroup<S: Sys>(
    sys: &mut S,
    sync: RawFd,
    times: &mut [u64; Step::COUNT],
) -> Result<(), Failure> {
    sys.send_byte(sync).map_err(at(Step::ReleaseCgroup))?;
    times[Step::ReleaseCgroup as usize] = sys.now();
    Ok(())
}

/// The parent's part, after the clone: the id maps of child `pid`, then
/// the release through `sync`, the write end of the sync pipe.
pub fn parent_steps<S: Sys>(
    plan: &Plan,
    sys: &mut S,
    pid: i32,
    sync: RawFd,
    times: &mut [u64; Step::COUNT],
) -> Result<(), Failure> {
    if let Some(user) = &plan.user {
        let file = |name: &str| CString::new(format!("/proc/{pid}/{name}")).unwrap_or_default();
        let line = |m: crate::config::IdMap| format!("{} {} {}\n", m.inside, m.outside, m.count);
        if !plan.setgroups {
            sys.write_file(&file("setgroups"), b"deny")
                .map_err(at(Step::IdMaps))?;
        }
        sys.write_file(&file("uid_map"), line(user.uid).as_bytes())
            .map_err(at(Step::IdMaps))?;
        sys.write_file(&file("gid_map"), line(user.gid).as_bytes())
            .map_err(at(Step::IdMaps))?;
        times[Step::IdMaps as usize] = sys.now();
    }
    if plan.sync {
        sys.send_byte(sync).map_err(at(Step::Release))?;
        times[Step::Release as usize] = sys.now();
    }
    Ok(())
}
