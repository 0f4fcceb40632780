//! The OCI image layout: `oci-layout`, `index.json`, and the blobs
//! (`blobs/sha256/<hex>`) of one image: manifest, config and one layer.
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, OciLayoutBuilder, Os, RootFsBuilder,
    Sha256Digest, ANNOTATION_REF_NAME, SCHEMA_VERSION,
};
use serde::{Deserialize, Serialize};

use super::error::write;
use super::layer::Layer;
use super::{OciError, ENV};
use crate::checksum::sha256_hex;

/// The tag `index.json` gives the image (`oci:DIR:latest` in skopeo terms).
pub const REF_NAME: &str = "latest";

/// The digests of a written layout, `sha256:<hex>` each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutDigests {
    /// The image manifest (what `index.json` points at).
    pub manifest: String,
    /// The image config.
    pub config: String,
    /// The gzip layer blob.
    pub layer: String,
    /// The uncompressed layer (`rootfs.diff_ids[0]`).
    pub diff_id: String,
}

/// Writes the image layout of `layer` into `dir` (created, must not exist).
/// `created` is the RFC 3339 creation time recorded in the config.
pub fn write_layout(dir: &Path, layer: &Layer, created: &str) -> Result<LayoutDigests, OciError> {
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).map_err(|source| OciError::Write {
        path: blobs.clone(),
        source,
    })?;
    let spec = |what| move |e| OciError::Spec(what, e);

    let layer_desc = put_blob(&blobs, MediaType::ImageLayerGzip, &layer.gzip)?;
    let config = ImageConfigurationBuilder::default()
        .created(created.to_string())
        .architecture(Arch::Amd64)
        .os(Os::Linux)
        .config(
            ConfigBuilder::default()
                .entrypoint(vec!["/init".to_string()])
                .env(ENV.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .working_dir("/".to_string())
                .build()
                .map_err(spec("image config (process)"))?,
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers".to_string())
                .diff_ids(vec![layer.diff_id()])
                .build()
                .map_err(spec("image config (rootfs)"))?,
        )
        .build()
        .map_err(spec("image config"))?;
    let config_json = config.to_string().map_err(spec("image config"))?;
    let config_desc = put_blob(&blobs, MediaType::ImageConfig, config_json.as_bytes())?;

    let manifest = ImageManifestBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageManifest)
        .config(config_desc.clone())
        .layers(vec![layer_desc.clone()])
        .build()
        .map_err(spec("image manifest"))?;
    let manifest_json = manifest.to_string().map_err(spec("image manifest"))?;
    let mut manifest_desc = put_blob(&blobs, MediaType::ImageManifest, manifest_json.as_bytes())?;
    manifest_desc.set_annotations(Some(HashMap::from([(
        ANNOTATION_REF_NAME.to_string(),
        REF_NAME.to_string(),
    )])));

    let index = ImageIndexBuilder::default()
        .schema_version(SCHEMA_VERSION)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![manifest_desc.clone()])
        .build()
        .map_err(spec("image index"))?;
    let index_json = index.to_string().map_err(spec("image index"))?;
    write(dir.join("index.json"), index_json.as_bytes())?;

    let layout = OciLayoutBuilder::default()
        .image_layout_version("1.0.0".to_string())
        .build()
        .map_err(spec("oci-layout"))?;
    let layout_json = serde_json::to_string(&layout)
        .map_err(|e| OciError::Spec("oci-layout", oci_spec::OciSpecError::SerDe(e)))?;
    write(dir.join("oci-layout"), layout_json.as_bytes())?;

    Ok(LayoutDigests {
        manifest: manifest_desc.digest().to_string(),
        config: config_desc.digest().to_string(),
        layer: layer_desc.digest().to_string(),
        diff_id: layer.diff_id(),
    })
}

/// Writes `bytes` as a content-addressed blob; returns its descriptor.
fn put_blob(blobs: &Path, media_type: MediaType, bytes: &[u8]) -> Result<Descriptor, OciError> {
    let hex = sha256_hex(bytes);
    write(blobs.join(&hex), bytes)?;
    let digest: Sha256Digest = hex.parse().map_err(|e| OciError::Spec("blob digest", e))?;
    DescriptorBuilder::default()
        .media_type(media_type)
        .size(bytes.len() as u64)
        .digest(digest)
        .build()
        .map_err(|e| OciError::Spec("descriptor", e))
}
