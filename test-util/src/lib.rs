//! Scaffolding shared by the integration tests of the vmlab crates, used
//! only as a `[dev-dependencies]` entry:
//!
//! - [`gate`](mod@gate): whether a test that needs KVM, root, QEMU, ... may run here:
//!   it skips with a message, or panics when its `VMLAB_REQUIRE_*` variable
//!   is `1` (CI), so a required test never passes without running;
//! - [`wait`]: waiting for a child process under a time limit while
//!   draining its output;
//! - [`temp`]: a scratch directory removed on drop.
pub mod gate;
pub mod temp;
pub mod wait;

pub use gate::{gate, have_root, host_has, is_root, kvm_available, required, KVM, QEMU, ROOT};
pub use temp::TempDir;
pub use wait::wait_with_limit;
