//! x86_64 vCPU setup for 64-bit (and PVH 32-bit) entry, as pure functions
//! over guest memory and KVM structs where possible.
pub(crate) mod cpuid;
pub(crate) mod gdt;
pub(crate) mod lapic;
pub(crate) mod msr;
pub(crate) mod paging;
pub(crate) mod regs;
