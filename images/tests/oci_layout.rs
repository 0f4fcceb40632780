//! The OCI image layout is consistent: blob names are their sha256, sizes
//! match the descriptors, and the config's diff_id is the sha256 of the
//! decompressed layer.
mod common;

use std::fs;
use std::io::Read;
use std::path::Path;

use common::{build_into, scratch};
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest, OciLayout};
use vmlab_images::checksum::sha256_hex;

fn blob(layout: &Path, digest: &str, size: u64) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let bytes = fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(
        sha256_hex(&bytes),
        hex,
        "blob {hex} does not hash to its name"
    );
    assert_eq!(bytes.len() as u64, size, "descriptor size of {hex}");
    bytes
}

#[test]
fn layout_digests_sizes_and_diff_ids_are_right() {
    let s = scratch("oci");
    let (out, manifest) = build_into(&s, 0);
    let layout = out.join("oci");

    let oci_layout: OciLayout =
        serde_json::from_slice(&fs::read(layout.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(oci_layout.image_layout_version(), "1.0.0");

    let index = ImageIndex::from_file(layout.join("index.json")).unwrap();
    assert_eq!(index.manifests().len(), 1);
    let desc = &index.manifests()[0];
    assert_eq!(desc.digest().to_string(), manifest.oci_digests.manifest);
    let image: ImageManifest =
        serde_json::from_slice(&blob(&layout, desc.digest().as_ref(), desc.size())).unwrap();

    let config_desc = image.config();
    let config: ImageConfiguration = serde_json::from_slice(&blob(
        &layout,
        config_desc.digest().as_ref(),
        config_desc.size(),
    ))
    .unwrap();
    assert_eq!(
        config.config().as_ref().unwrap().entrypoint().as_deref(),
        Some(&["/init".to_string()][..])
    );

    assert_eq!(image.layers().len(), 1);
    let layer_desc = &image.layers()[0];
    let gz = blob(&layout, layer_desc.digest().as_ref(), layer_desc.size());
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    let diff_id = format!("sha256:{}", sha256_hex(&tar));
    assert_eq!(config.rootfs().diff_ids(), std::slice::from_ref(&diff_id));
    assert_eq!(manifest.oci_digests.diff_id, diff_id);

    // The layer holds the workload as /init, executable.
    let mut archive = tar::Archive::new(&tar[..]);
    let init = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().to_str() == Some("init"))
        .expect("init in the layer");
    assert_eq!(init.header().mode().unwrap(), 0o755);
    assert_eq!(
        init.header().size().unwrap(),
        vmlab_images::embedded::WORKLOAD.len() as u64
    );

    // No blob the index does not reach.
    let blobs = fs::read_dir(layout.join("blobs/sha256")).unwrap().count();
    assert_eq!(blobs, 3);
}
