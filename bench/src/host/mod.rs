//! Host facts: CPU, memory, kernel, what /dev/kvm is, how cgroups are
//! mounted, user namespaces, the peers on PATH, the kernel cache and the
//! git revision. Everything is read from /proc, /sys and the file system or
//! asked of the tools themselves (with a timeout); parsing is split from
//! reading so it is unit-tested on sample text.
mod cache;
mod cgroups;
mod kvm;
mod system;
mod tools;

pub use cache::{kernel_cache, kernel_cache_dir, CacheEntry};
pub use cgroups::{cgroup_mode, cgroups, v1_controllers, Cgroups};
pub use kvm::{kvm_openable, Kvm};
pub use system::{cpu_model, euid, facts, mem_total, userns, userns_allowed};
pub use tools::{git_revision, peers, version, which, Peer};
