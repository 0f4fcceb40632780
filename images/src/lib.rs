//! Builds what vmlab boots, from one workload.
//!
//! One [`rootfs::Rootfs`] (the workload as `/init`, a few directories) is
//! written in every format a backend boots:
//! - a rootfs directory (the namespace sandbox);
//! - an initramfs, newc cpio plain and gzip ([`cpio`]; the Linux VM);
//! - an OCI image layout and runtime bundle ([`oci`]; crun, runc, gVisor);
//! - plus the bare KVM guest ELF, both binaries coming from a nested release
//!   build in `build.rs` ([`embedded`]).
//!
//! The guest kernel for the Linux VM is located, checked, fetched and cached
//! by [`kernel`]; [`builder::build`] writes everything into one directory
//! with a [`manifest::Manifest`], and [`sizes`] measures it. Same inputs,
//! same bytes: archives use fixed owners, modes, order and mtimes
//! (`SOURCE_DATE_EPOCH` or 0), gzip headers carry no time or name.
pub mod builder;
pub mod checksum;
pub mod cpio;
pub mod embedded;
pub mod kernel;
pub mod manifest;
pub mod oci;
pub mod rootfs;
pub mod scratch;
pub mod sizes;
