//! The run's cgroup before the clone (v2: created; v1: checked, its
//! `tasks` files named for the child).
use std::ffi::CString;

use super::phases::Phases;
use super::LaunchError;
use crate::cgroup::{Cgroup, Hierarchy, Mode};
use crate::config::Config;

/// The cgroup as far as it goes before the clone: on v2 it exists (the
/// child is born in it), on v1 the parent creates it while the child mounts.
pub(super) struct CgroupSetup {
    pub(super) hier: Option<Hierarchy>,
    pub(super) name: String,
    pub(super) cgroup: Option<Cgroup>,
    /// v1: the `tasks` files the child moves itself into.
    pub(super) tasks: Vec<CString>,
}

pub(super) fn cgroup_before_clone(
    config: &Config,
    phases: &mut Phases,
) -> Result<CgroupSetup, LaunchError> {
    let hier = if config.cgroup {
        Some(Hierarchy::cached()?)
    } else {
        None
    };
    let name = crate::cgroup::unique_name();
    let cgroup = match &hier {
        Some(h) if h.mode == Mode::V2 => {
            let cg = Cgroup::create_named(h, &config.limits, config.devices, &name, None)?;
            phases.mark("cgroup");
            Some(cg)
        }
        Some(h) => {
            h.check(&config.limits)?;
            h.check_devices(config.devices)?;
            None
        }
        None => None,
    };
    let tasks = match &hier {
        Some(h) => Cgroup::v1_tasks_files(h, &config.limits, config.devices, &name)
            .into_iter()
            .filter_map(|p| CString::new(p.into_os_string().into_encoded_bytes()).ok())
            .collect(),
        None => Vec::new(),
    };
    Ok(CgroupSetup {
        hier,
        name,
        cgroup,
        tasks,
    })
}
