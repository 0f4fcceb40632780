//! Builds what vmlab boots, from one workload.
pub mod checksum;
pub mod cpio;
pub mod embedded;
pub mod oci;
pub mod rootfs;
