//! `memory`: a STREAM-like triad `a[i] = b[i] + s * c[i]` over `--size`
//! bytes.
//!
//! The three arrays share the working set. One iteration is the triad over
//! one block of [`BLOCK`] elements; successive iterations walk the arrays
//! and wrap around, so the whole working set is streamed while the time
//! harness still gets fine-grained iterations (one full pass over 16 MiB
//! would take seconds under emulation). Integers, not floats: the bare
//! guest may run without SSE state set up.
use core::hint::black_box;

use crate::args::Spec;
use crate::kernel::Kernel;
use crate::measure::measure;
use crate::platform::Platform;
use crate::report::{Failure, Measurement};

/// Elements per iteration (per array).
pub const BLOCK: usize = 4096;

/// 64-bit words per 4 KiB page.
const PAGE_WORDS: usize = 512;

/// The triad's scalar.
pub const SCALAR: u64 = 3;

/// `a[i] = b[i] + s * c[i]` for every `i` (wrapping arithmetic).
pub fn triad(a: &mut [u64], b: &[u64], c: &[u64], s: u64) {
    for ((a, &b), &c) in a.iter_mut().zip(b).zip(c) {
        *a = b.wrapping_add(s.wrapping_mul(c));
    }
}

/// Runs the kernel for the spec's time budget.
pub fn run<P: Platform + ?Sized>(p: &mut P, spec: &Spec) -> Result<Measurement, Failure> {
    let clock = p.clock();
    let words = (spec.size / 8) as usize;
    let Some(buf) = p.scratch(words) else {
        return Err(Failure::new(format_args!(
            "memory: cannot get {} bytes of scratch memory; give a smaller --size",
            spec.size
        )));
    };
    let len = words / 3;
    let block = BLOCK.min(len);
    let len = len - len % block;
    let (a, rest) = buf.split_at_mut(len);
    let (b, rest) = rest.split_at_mut(len);
    let c = &mut rest[..len];
    // Untimed: fault in every page first. One write per page, not a fill:
    // under emulation every store costs about a microsecond. The values
    // in the arrays do not matter to the bandwidth.
    for array in [&mut *a, &mut *b, &mut *c] {
        for page in array.chunks_mut(PAGE_WORDS) {
            page[0] = black_box(page[0]);
        }
    }
    let (b, c) = (&*b, &*c);
    let mut at = 0;
    let timing = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            let end = at + block;
            triad(&mut a[at..end], &b[at..end], &c[at..end], black_box(SCALAR));
            at = if end == len { 0 } else { end };
        }
        black_box(&mut *a);
        Ok::<_, core::convert::Infallible>(n)
    })
    .unwrap_or_else(|never| match never {});
    Ok(Measurement {
        // Two loads and a store of 8 bytes per element, as STREAM counts.
        bytes_per_iter: 24 * block as u64,
        // The working set actually streamed: three arrays of `len` words.
        size: Some(24 * len as u64),
        ..Measurement::new(Kernel::Memory, timing)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::Fake;
    use core::cell::Cell;

    #[test]
    fn triad_computes_b_plus_s_c() {
        let b = [1, 2, 3, u64::MAX];
        let c = [10, 20, 30, 1];
        let mut a = [0; 4];
        triad(&mut a, &b, &c, SCALAR);
        assert_eq!(a, [31, 62, 93, 2]);
    }

    #[test]
    fn run_streams_the_whole_working_set() {
        let now = Cell::new(0);
        // The fake clock moves per read, not per work: keep the budget a
        // few reads long so batches stay small.
        let mut p = Fake::new(&now, 1_000);
        // Three arrays of two blocks each.
        let len = 2 * BLOCK;
        p.scratch = (0..3 * len as u64).map(|i| i * 7 + 1).collect();
        let spec = Spec::parse(["memory", "--size", "192K", "--time", "5us"]).unwrap();
        let m = run(&mut p, &spec).unwrap();
        assert!(m.timing.iters >= 2, "{m:?}");
        assert_eq!(m.size, Some(192 << 10));
        assert_eq!(m.bytes_per_iter, 24 * BLOCK as u64);
        let (a, rest) = p.scratch.split_at(len);
        let (b, c) = rest.split_at(len);
        for i in 0..len {
            assert_eq!(a[i], b[i] + SCALAR * c[i], "element {i}");
        }
    }

    #[test]
    fn too_little_scratch_memory_is_a_failure() {
        let now = Cell::new(0);
        let mut p = Fake::new(&now, 1);
        p.scratch_limit = Some(0);
        let spec = Spec::parse(["--size", "1M"]).unwrap();
        let err = run(&mut p, &spec).unwrap_err();
        assert!(err.message().contains("1048576 bytes"), "{err}");
    }
}
