//! OCI: the image layout (what registries and `skopeo` handle) and the
//! runtime bundle (what `crun run` / `runc run` start).
//!
//! - [`layer`]: the rootfs as one reproducible gzip tar layer;
//! - [`layout`]: `oci-layout`, `index.json` and the content-addressed blobs
//!   (manifest, config, layer) under `blobs/sha256/`;
//! - [`bundle`]: `config.json` plus `rootfs/`, accepted as is by crun and runc.
//!
//! Documents are built with the `oci-spec` types and serialized with
//! `serde_json`; every map left in them is empty or has one key, so the bytes
//! only depend on the inputs.
pub mod bundle;
mod env;
mod error;
pub mod layer;
pub mod layout;

pub use env::ENV;
pub use error::OciError;
