//! `cargo bench --bench boot`: time from start to the workload's ready
//! mark, every backend of one clock in one Criterion group, so that the HTML
//! report (`target/criterion/report/index.html`) draws them side by side:
//!
//! - `boot/call_to_ready/{vm-bare,sandbox,sandbox-root,process}`: in
//!   process, the clock starts at the library call;
//! - `boot/call_to_exit/vm-bare`: the same clock, to the VM torn down;
//! - `boot/spawn_to_ready/{crun,bwrap}`: end to end, the clock starts at
//!   the spawn of the tool.
//!
//! Each backend's benches live in `boot/`; each prints its own summary at
//! the end. `VMLAB_BENCH_QUICK=1` runs every group and backend with a few
//! samples only (`shared/mode.rs`); what ran and what was skipped is
//! recorded for the report test (`shared/record.rs`).
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, PlottingBackend};

#[path = "shared/mode.rs"]
mod mode;
#[path = "shared/record.rs"]
mod record;
#[path = "boot/sandbox.rs"]
mod sandbox;
#[path = "boot/vm.rs"]
mod vm;

/// A group of wall-clock boot benches.
pub type Group<'c> = BenchmarkGroup<'c, WallTime>;

/// In process: the clock starts at the library call, stops at ready.
pub const CALL_TO_READY: &str = "boot/call_to_ready";
/// The same clock, stopped when the VM is torn down.
pub const CALL_TO_EXIT: &str = "boot/call_to_exit";
/// End to end: the clock starts at the spawn of the tool.
pub const SPAWN_TO_READY: &str = "boot/spawn_to_ready";

fn benches(c: &mut Criterion) {
    let mut vm = vm::VmBare::probe();
    let mut boots = sandbox::Boots::new();

    let mut g = c.benchmark_group(CALL_TO_READY);
    if let Some(vm) = &mut vm {
        vm.bench_ready(&mut g);
    }
    boots.bench_in_process(&mut g);
    g.finish();

    if let Some(vm) = &mut vm {
        let mut g = c.benchmark_group(CALL_TO_EXIT);
        vm.bench_exit(&mut g);
        g.finish();
    }

    let mut g = c.benchmark_group(SPAWN_TO_READY);
    boots.bench_spawned(&mut g);
    g.finish();

    if let Some(vm) = vm {
        vm.print();
    }
    boots.print();
    record::save("boot");
}

criterion_group! {
    name = boot;
    // Plotters draws the HTML report's charts; no gnuplot needed.
    config = Criterion::default().plotting_backend(PlottingBackend::Plotters);
    targets = benches
}
criterion_main!(boot);
