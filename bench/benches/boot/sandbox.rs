//! Boot benches for this backend (placeholder).
use criterion::Criterion;

pub fn benches(_c: &mut Criterion) {}
