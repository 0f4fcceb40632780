//! The boot-info struct: what the VMM tells the bare guest.
//!
//! The VMM writes one [`BootInfo`] into guest memory at [`BOOTINFO_GPA`],
//! the argument string right after it, and enters the guest in 64-bit long
//! mode with `rdi` pointing at the struct (the System V first argument).
//! All memory below `mem_bytes` is identity mapped by the VMM; the guest may
//! use `[free_start, free_end)` as scratch memory for its kernels.
//!
//! - `native`: the struct and its constants;
//! - [`foreign`]: the boot protocols of other VMMs, read into a [`BootInfo`].
pub mod foreign;
mod native;

pub use native::{
    BootInfo, VirtioEntry, VirtioTable, BOOTINFO_GPA, BOOTINFO_MAGIC, MAX_ARGS, MAX_VIRTIO,
    VIRTIO_FLAG_SELFTEST, VIRTIO_TABLE_GPA, VIRTIO_TABLE_MAGIC,
};
