//! Guest RAM: anonymous, lazily backed (`MAP_NORESERVE`) host memory through
//! vm-memory, registered with KVM one slot per range.
use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryRegion, MemoryRegionAddress};

use crate::layout;

/// Guest memory as vm-memory sees it.
pub(crate) type GuestMemoryMmap = vm_memory::GuestMemoryMmap<()>;

/// Errors creating guest memory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The requested size is below what the guest needs.
    #[error("guest memory of {mib} MiB is too small: this guest needs at least {min_mib} MiB")]
    TooSmall {
        /// Requested MiB.
        mib: u64,
        /// Minimum MiB.
        min_mib: u64,
    },
    /// The requested size exceeds the host's RAM.
    #[error("guest memory of {mib} MiB is more than this host's {host_mib} MiB of RAM")]
    TooLarge {
        /// Requested MiB.
        mib: u64,
        /// Host RAM in MiB.
        host_mib: u64,
    },
    /// The requested size is beyond any guest this VMM maps.
    #[error("guest memory of {mib} MiB is beyond the {max_mib} MiB this VMM can map")]
    BeyondLimit {
        /// Requested MiB.
        mib: u64,
        /// The limit.
        max_mib: u64,
    },
    /// mmap of guest memory failed.
    #[error("cannot map {mib} MiB of guest memory")]
    Map {
        /// Requested MiB.
        mib: u64,
        /// What vm-memory reported.
        #[source]
        source: vm_memory::mmap::FromRangesError,
    },
    /// KVM refused a memory slot.
    #[error("KVM refused guest memory slot {slot}")]
    Register {
        /// The slot.
        slot: u32,
        /// What KVM reported.
        #[source]
        source: kvm_ioctls::Error,
    },
}

/// Host RAM in MiB (`MemTotal`), from one `sysinfo(2)` call (reading
/// `/proc/meminfo` costs more: the kernel formats the whole file); `None`
/// when the call fails.
pub fn host_mib() -> Option<u64> {
    nix::sys::sysinfo::sysinfo()
        .ok()
        .map(|s| s.ram_total() >> 20)
}

/// The most guest RAM this VMM maps, whatever the host has: 4 TiB.
pub const MAX_MIB: u64 = 4 << 20;

/// Checks a requested size against the guest's minimum, [`MAX_MIB`] and
/// the host's RAM.
pub(crate) fn check_size(mib: u64, min_mib: u64, host_mib: Option<u64>) -> Result<(), Error> {
    if mib < min_mib {
        return Err(Error::TooSmall { mib, min_mib });
    }
    if mib > MAX_MIB {
        return Err(Error::BeyondLimit {
            mib,
            max_mib: MAX_MIB,
        });
    }
    match host_mib {
        Some(host_mib) if mib > host_mib => Err(Error::TooLarge { mib, host_mib }),
        _ => Ok(()),
    }
}

/// `mib` MiB in bytes, if at most [`MAX_MIB`].
pub(crate) fn bytes(mib: u64) -> Option<u64> {
    (mib <= MAX_MIB).then(|| mib.checked_mul(1 << 20))?
}

/// Maps `mib` MiB of guest RAM (untouched, so it costs no host memory yet).
pub(crate) fn create(mib: u64) -> Result<GuestMemoryMmap, Error> {
    let beyond = || Error::BeyondLimit {
        mib,
        max_mib: MAX_MIB,
    };
    let ranges: Vec<(GuestAddress, usize)> = layout::ram_ranges(bytes(mib).ok_or_else(beyond)?)
        .into_iter()
        .map(|(start, len)| Some((GuestAddress(start), usize::try_from(len).ok()?)))
        .collect::<Option<_>>()
        .ok_or_else(beyond)?;
    GuestMemoryMmap::from_ranges(&ranges).map_err(|source| Error::Map { mib, source })
}

/// Registers every region of `mem` with the VM, one slot each.
pub(crate) fn register(vm: &VmFd, mem: &GuestMemoryMmap) -> Result<(), Error> {
    for (slot, region) in mem.iter().enumerate() {
        let slot = slot as u32;
        let host = region
            .get_host_address(MemoryRegionAddress(0))
            .expect("an mmap region has a host address");
        let desc = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: host as u64,
        };
        // SAFETY: the region is a live mapping of `memory_size` bytes owned by
        // `mem`, which the caller keeps alive for as long as the VM fd exists
        // (the VM struct drops the VM fd before the memory).
        unsafe { vm.set_user_memory_region(desc) }
            .map_err(|source| Error::Register { slot, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_sizes_are_errors_not_overflows() {
        assert!(matches!(
            check_size(u64::MAX, 2, None),
            Err(Error::BeyondLimit { .. })
        ));
        assert!(matches!(create(u64::MAX), Err(Error::BeyondLimit { .. })));
        assert!(matches!(create(1 << 44), Err(Error::BeyondLimit { .. })));
        assert_eq!(bytes(2), Some(2 << 20));
        assert_eq!(bytes(MAX_MIB + 1), None);
    }

    #[test]
    fn sizes_are_checked() {
        assert!(check_size(256, 2, Some(1024)).is_ok());
        assert!(check_size(256, 2, None).is_ok());
        assert!(matches!(
            check_size(1, 2, Some(1024)),
            Err(Error::TooSmall { mib: 1, min_mib: 2 })
        ));
        assert!(matches!(
            check_size(2048, 2, Some(1024)),
            Err(Error::TooLarge { .. })
        ));
    }

    #[test]
    fn memory_is_split_around_the_hole() {
        let mem = create(4096).unwrap();
        let ranges: Vec<_> = mem.iter().map(|r| (r.start_addr().0, r.len())).collect();
        assert_eq!(
            ranges,
            vec![(0, layout::MMIO_HOLE_GPA), (layout::HIGH_RAM_GPA, 1 << 30)]
        );
    }
}
