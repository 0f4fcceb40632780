//! The seccomp policy: every x86_64 system call number the filter knows, in
//! number order, with its verdict and why. Numbers not listed answer
//! `ENOSYS`; see the parent module for the rest of the design.
//!
//! Numbers and names: the kernel's `arch/x86/entry/syscalls/syscall_64.tbl`
//! as of Linux 6.18 (the 64-bit and common entries; the x32 ones, 512..=547
//! with the x32 bit, are refused as a whole).
//!
//! - `entries`: [`TABLE`] itself; `reasons`: the sentences its entries give.
mod entries;
mod reasons;

pub use entries::TABLE;
