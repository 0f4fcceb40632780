//! `cargo bench --bench boot`: time from start to the workload's ready mark,
//! per backend. Each backend's group lives in its own file under `boot/`.
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "boot/sandbox.rs"]
mod sandbox;
#[path = "boot/vm.rs"]
mod vm;

fn benches(c: &mut Criterion) {
    vm::benches(c);
    sandbox::benches(c);
}

criterion_group!(boot, benches);
criterion_main!(boot);
