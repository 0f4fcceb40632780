//! A Linux guest: bzImage (64-bit boot protocol) or uncompressed vmlinux
//! (PVH entry when its note is present, else 64-bit entry at `e_entry`),
//! the command line, the initramfs at the top of low memory, the e820 map,
//! ACPI tables and the zero page / PVH start info.
//!
//! - `kernel`: the file's format and its headers checked (`Files`);
//! - `entry`: the command line, the initramfs's place, the vCPU's entry;
//! - `load`: the kernel and its boot parameters in guest memory (`load`).
mod entry;
mod error;
mod kernel;
mod load;

pub(crate) use entry::{cmdline, initramfs_addr, Entry};
pub use error::Error;
pub(crate) use kernel::{Files, KernelFormat};
pub(crate) use load::load;

#[cfg(test)]
mod tests;
