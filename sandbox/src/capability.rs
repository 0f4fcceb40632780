//! The capabilities the workload keeps.
//!
//! Everything outside [`KEPT`] is dropped from the bounding set (so no later
//! `execve` can regain it), the ambient set is cleared, and the permitted and
//! effective sets become exactly [`KEPT`]; the inheritable set is emptied.
//! The kept set is what a process that owns its files needs, nothing that
//! reaches outside: no `CAP_SYS_ADMIN` (mount, namespaces), `CAP_MKNOD`,
//! `CAP_SYS_MODULE`, `CAP_SYS_PTRACE`, `CAP_SYS_TIME`, `CAP_NET_ADMIN`,
//! `CAP_NET_RAW`, `CAP_SYS_BOOT`, `CAP_SYS_RAWIO`, `CAP_DAC_READ_SEARCH`
//! (file handles) or `CAP_SETPCAP`.
use caps::Capability;

/// The capabilities the workload keeps.
pub const KEPT: &[Capability] = &[
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
    Capability::CAP_KILL,
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    Capability::CAP_NET_BIND_SERVICE,
];

/// What the child needs to reduce its capabilities without allocating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapPlan {
    /// Bit mask of [`KEPT`] (bit n = capability n).
    pub keep: u64,
    /// Capabilities to drop from the bounding set, lowest first.
    pub drop: Vec<u8>,
}

impl CapPlan {
    /// The plan for this kernel: every capability it supports outside [`KEPT`].
    pub fn new() -> CapPlan {
        let keep = KEPT.iter().fold(0u64, |m, c| m | c.bitmask());
        let mut drop: Vec<u8> = caps::runtime::thread_all_supported()
            .into_iter()
            .map(|c| c.index())
            .filter(|i| keep & (1 << i) == 0)
            .collect();
        drop.sort_unstable();
        CapPlan { keep, drop }
    }
}

impl Default for CapPlan {
    fn default() -> Self {
        CapPlan::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_capabilities_are_dropped() {
        let p = CapPlan::new();
        for c in [
            Capability::CAP_SYS_ADMIN,
            Capability::CAP_MKNOD,
            Capability::CAP_SYS_MODULE,
            Capability::CAP_SYS_PTRACE,
            Capability::CAP_SYS_TIME,
            Capability::CAP_NET_ADMIN,
            Capability::CAP_SETPCAP,
        ] {
            assert!(p.drop.contains(&c.index()), "{c}");
            assert_eq!(p.keep & c.bitmask(), 0);
        }
        assert_eq!(p.keep.count_ones() as usize, KEPT.len());
    }
}
