//! `cpu`: FNV-1a over a small buffer, a fixed amount of pure computation per
//! iteration.
use core::hint::black_box;

use crate::args::Spec;
use crate::kernel::Kernel;
use crate::measure::{measure, Timing};
use crate::platform::Platform;
use crate::report::Measurement;

/// Bytes hashed per iteration.
pub const BLOCK: usize = 64;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a (64 bit) of `data`, continuing from `hash`.
pub fn fnv1a(hash: u64, data: &[u8]) -> u64 {
    data.iter()
        .fold(hash, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_PRIME))
}

/// Hashes [`BLOCK`] bytes `iters` times, each time chained to the previous
/// hash; returns the last hash.
pub fn hash_rounds(seed: u64, iters: u64) -> u64 {
    let mut block = [0u8; BLOCK];
    for (i, b) in block.iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut h = seed;
    for _ in 0..iters {
        // The opaque reference makes every round read the block again.
        h = fnv1a(h, black_box(&block));
    }
    h
}

/// Runs the kernel for the spec's time budget.
pub fn run<P: Platform + ?Sized>(p: &mut P, spec: &Spec) -> Measurement {
    let clock = p.clock();
    let mut h = FNV_OFFSET;
    let timing: Timing = measure(&clock, spec.time_ns, |n| {
        h = black_box(hash_rounds(h, n));
        Ok::<_, core::convert::Infallible>(n)
    })
    .unwrap_or_else(|never| match never {});
    Measurement {
        bytes_per_iter: BLOCK as u64,
        size: Some(BLOCK as u64),
        ..Measurement::new(Kernel::Cpu, timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn rounds_chain() {
        let block: std::vec::Vec<u8> = (0..BLOCK as u8).collect();
        let once = fnv1a(FNV_OFFSET, &block);
        assert_eq!(hash_rounds(FNV_OFFSET, 1), once);
        assert_eq!(hash_rounds(FNV_OFFSET, 2), fnv1a(once, &block));
        assert_eq!(hash_rounds(7, 0), 7);
    }
}
