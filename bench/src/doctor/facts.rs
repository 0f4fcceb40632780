//! Everything `vmlab doctor` looks at, gathered once.
use std::path::PathBuf;

use serde::Serialize;
use vmlab_reports::model::Tool;

use crate::compare::probe::HostView;
use crate::host::{self, CacheEntry, Cgroups};

/// Everything doctor looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// What the backends' probes look at.
    #[serde(flatten)]
    pub view: HostView,
    /// Peers and versions.
    pub tools: Vec<Tool>,
    /// cgroup details.
    pub cgroups: Cgroups,
    /// The kernel cache directory.
    pub kernel_cache_dir: Option<PathBuf>,
    /// What is in it.
    pub kernel_cache: Vec<CacheEntry>,
    /// $VMLAB_KERNEL, when set.
    pub vmlab_kernel: Option<PathBuf>,
    /// The vmlab git revision.
    pub git_revision: String,
}

/// Gathers the facts from this host.
pub fn gather() -> Facts {
    let view = HostView::gather();
    let kernel_cache_dir = host::kernel_cache_dir();
    Facts {
        tools: view.tools(),
        view,
        cgroups: host::cgroups(),
        kernel_cache: kernel_cache_dir
            .as_deref()
            .map(host::kernel_cache)
            .unwrap_or_default(),
        kernel_cache_dir,
        vmlab_kernel: std::env::var_os("VMLAB_KERNEL").map(PathBuf::from),
        git_revision: host::git_revision(),
    }
}
