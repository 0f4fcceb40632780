//! 200 boots in one process leave no fds, threads or memory behind.
mod common;

use std::time::Duration;

use common::*;
use vmlab_test_util::kvm_available;

const BOOTS: usize = 200;
/// RSS growth allowed over 200 boots (allocator caches, lazily mapped code).
const RSS_TOLERANCE_KIB: u64 = 2048;

#[test]
fn two_hundred_boots_leave_nothing_behind() {
    if !kvm_available() || !in_child("two_hundred_boots_leave_nothing_behind") {
        return;
    }
    let rust_guest = guest_elf();
    let tiny = tiny_elf(&ready_exit_code(0));
    let timeout = Duration::from_secs(10);
    // Prefer the real guest; fall back to the tiny one where it cannot run.
    let elf = match vmlab_vmm::run(bare(&rust_guest, "--exit 0", timeout)) {
        Err(e) if guest_built_with_sse(&e) => tiny,
        r => {
            r.unwrap();
            rust_guest
        }
    };
    // Warm up: allocator arenas, signal handler, lazily loaded code.
    for _ in 0..5 {
        vmlab_vmm::run(bare(&elf, "--exit 0", timeout)).unwrap();
    }
    let before = process_usage();
    for _ in 0..BOOTS {
        let o = vmlab_vmm::run(bare(&elf, "--exit 0", timeout)).unwrap();
        assert_eq!(o.exit_code, 0);
    }
    let after = process_usage();
    eprintln!("fds, threads, RSS KiB: before {before:?}, after {after:?}");
    assert_eq!(after.0, before.0, "open fds changed");
    assert_eq!(after.1, before.1, "thread count changed");
    assert!(
        after.2 <= before.2 + RSS_TOLERANCE_KIB,
        "RSS grew by {} KiB",
        after.2 - before.2
    );
}
