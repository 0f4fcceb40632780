//! Putting guests into memory: the bare ELF with its boot info, and Linux
//! (bzImage or vmlinux) with its zero page, command line, initramfs, e820
//! map and ACPI tables.
pub(crate) mod acpi;
pub(crate) mod aml;
pub mod bare;
pub(crate) mod boot_params;
pub mod linux;
