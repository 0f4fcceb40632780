//! `pagetouch`: the cost of touching memory for the first time, one write
//! per 4 KiB page.
//!
//! Regions of `--size` bytes come from [`Platform::fresh`]; one iteration
//! touches one page. When a region is used up the kernel asks for another
//! (on Linux a new mapping; in the bare guest the next part of the free
//! region) until the time budget is spent or the platform has no more.
//! Getting and releasing regions is not timed.
use core::hint::black_box;

use crate::args::Spec;
use crate::kernel::Kernel;
use crate::measure::{Clock as _, Pacer};
use crate::platform::Platform;
use crate::report::{Failure, Measurement};

/// Bytes per page touched.
pub const PAGE: usize = 4096;

/// Writes one byte into each of `count` pages of `region`, from page
/// `first`.
pub fn touch(region: &mut [u8], first: usize, count: usize) {
    for page in region[first * PAGE..].chunks_mut(PAGE).take(count) {
        page[0] = black_box(1);
    }
}

/// Runs the kernel for the spec's time budget.
pub fn run<P: Platform + ?Sized>(p: &mut P, spec: &Spec) -> Result<Measurement, Failure> {
    let clock = p.clock();
    let pages = (spec.size as usize / PAGE).max(1);
    let mut pacer = Pacer::new(spec.time_ns);
    'regions: while let Some(region) = p.fresh(pages * PAGE) {
        let mut at = 0;
        while at < pages {
            let count = (pages - at).min(pacer.next_batch().min(usize::MAX as u64) as usize);
            let start = clock.now_ns();
            touch(region, at, count);
            let ns = clock.now_ns().saturating_sub(start);
            black_box(&mut *region);
            at += count;
            if !pacer.record(count as u64, ns) {
                break 'regions;
            }
        }
        p.release();
    }
    p.release();
    let timing = pacer.timing();
    if timing.iters == 0 {
        return Err(Failure::new(format_args!(
            "pagetouch: cannot get {} bytes of fresh memory; give a smaller --size",
            pages * PAGE
        )));
    }
    Ok(Measurement {
        bytes_per_iter: PAGE as u64,
        size: Some((pages * PAGE) as u64),
        ..Measurement::new(Kernel::Pagetouch, timing)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touches_one_byte_per_page() {
        let mut region = std::vec![0u8; 5 * PAGE];
        touch(&mut region, 1, 3);
        let touched: std::vec::Vec<usize> = (0..region.len()).filter(|&i| region[i] != 0).collect();
        assert_eq!(touched, [PAGE, 2 * PAGE, 3 * PAGE]);
    }
}
