//! The claims in the order the notes make them.
use super::verdict::Claim;
use super::{boot, footprint, isolation};

/// Every claim, in the order the notes make them.
pub fn claims(results: &crate::model::Results) -> Vec<Claim> {
    vec![
        boot::linux(results),
        boot::unikernel(results),
        footprint::memory(results),
        isolation::vms_isolate_better(results),
        footprint::dependencies(results),
        footprint::size(results),
        isolation::containers_contain(results),
    ]
}
