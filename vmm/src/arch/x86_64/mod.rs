//! x86_64 vCPU setup for 64-bit (and PVH 32-bit) entry, as pure functions
//! over guest memory and KVM structs where possible.
pub mod cpuid;
pub mod gdt;
pub mod lapic;
pub mod msr;
pub mod paging;
pub mod regs;
