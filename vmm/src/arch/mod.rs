//! Architecture-specific vCPU setup (x86_64 only).
pub(crate) mod x86_64;
