//! The claims in the order the notes make them.
use super::verdict::Claim;
use super::{boot, footprint, io, isolation, warm};

/// Every claim, in the order the notes make them.
pub fn claims(results: &crate::model::Results) -> Vec<Claim> {
    vec![
        boot::linux(results),
        boot::unikernel(results),
        footprint::memory(results),
        io::io_cost(results),
        isolation::vms_isolate_better(results),
        footprint::dependencies(results),
        footprint::size(results),
        isolation::containers_contain(results),
        warm::restored_vs_restored(results),
        warm::pool_vs_pool(results),
        warm::restored_vs_cold(results),
        warm::cold_vs_cold(results),
    ]
}
