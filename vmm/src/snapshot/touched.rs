//! How much of a restored guest's memory the host actually backs: the
//! resident (`Rss`) and copied-on-write (`Anonymous`) bytes of the memory
//! image's mappings, from `/proc/self/smaps`. Pages the guest never touched
//! after the restore are neither.
use vm_memory::{GuestMemoryBackend, GuestMemoryRegion, MemoryRegionAddress};

use crate::memory::GuestMemoryMmap;

/// A restored guest's memory use, read before it is torn down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// Bytes of guest RAM mapped (the snapshot's memory size).
    pub mapped_bytes: u64,
    /// Bytes resident in this process's page tables: pages touched after the
    /// restore (read from the file's page cache, or copied on write).
    pub resident_bytes: u64,
    /// Of those, pages the guest wrote: private copies (the file is untouched).
    pub copied_bytes: u64,
}

/// Sums `Rss` and `Anonymous` of the smaps entries whose start address is
/// in `starts`.
pub(crate) fn from_smaps(smaps: &str, starts: &[u64]) -> Touched {
    let mut t = Touched::default();
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                inside = starts.contains(&a);
                if inside {
                    t.mapped_bytes += b - a;
                }
                continue;
            }
        }
        if !inside {
            continue;
        }
        let kib = || -> u64 {
            line.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        if line.starts_with("Rss:") {
            t.resident_bytes += kib() * 1024;
        } else if line.starts_with("Anonymous:") {
            t.copied_bytes += kib() * 1024;
        }
    }
    t
}

/// [`from_smaps`] for `mem`'s regions in this process (`None` when
/// `/proc/self/smaps` cannot be read, as in the jail).
pub(crate) fn measure(mem: &GuestMemoryMmap) -> Option<Touched> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let starts: Vec<u64> = mem
        .iter()
        .filter_map(|r| r.get_host_address(MemoryRegionAddress(0)).ok())
        .map(|p| p as u64)
        .collect();
    Some(from_smaps(&smaps, &starts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
7f0000000000-7f0010000000 rw-p 00001000 fe:01 123 /tmp/snap
Size:             262144 kB
Rss:                  92 kB
Anonymous:            24 kB
7f0010000000-7f0010001000 rw-p 00000000 00:00 0
Rss:                   4 kB
Anonymous:             4 kB
";

    #[test]
    fn only_the_guest_mappings_count() {
        let t = from_smaps(SMAPS, &[0x7f00_0000_0000]);
        assert_eq!(
            t,
            Touched {
                mapped_bytes: 256 << 20,
                resident_bytes: 92 * 1024,
                copied_bytes: 24 * 1024,
            }
        );
        assert_eq!(from_smaps(SMAPS, &[1]), Touched::default());
    }
}
