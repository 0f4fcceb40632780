//! The OCI runtime bundle: `config.json` and `rootfs/`, started as is by
//! `crun run` and `runc run`.
//!
//! The config follows what `runc spec` writes (the `oci-spec` defaults:
//! `/proc`, a tmpfs `/dev` with `pts`, `shm`, `mqueue`, read-only `/sys` and
//! cgroup mounts, masked and read-only paths, default capabilities and
//! `RLIMIT_NOFILE`), with the workload as the process, no terminal, a
//! read-only root with a tmpfs on `/tmp`, `no_new_privileges`, and pid, mount, ipc, uts and network
//! namespaces.
use std::path::Path;

use oci_spec::runtime::{
    LinuxBuilder, LinuxDeviceCgroupBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxResourcesBuilder, MountBuilder, ProcessBuilder, RootBuilder, Spec,
};

use super::error::write;
use super::{OciError, ENV};
use crate::rootfs::Rootfs;

/// The hostname inside the container.
pub const HOSTNAME: &str = "vmlab";

/// The runtime config for the workload.
pub fn runtime_config() -> Result<Spec, OciError> {
    let spec = |what| move |e| OciError::Spec(what, e);
    let defaults = Spec::default();
    let default_process = defaults.process().clone().unwrap_or_default();
    let default_linux = defaults.linux().clone().unwrap_or_default();

    let process = ProcessBuilder::default()
        .terminal(false)
        .user(default_process.user().clone())
        .args(vec!["/init".to_string()])
        .env(ENV.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .cwd("/")
        .capabilities(default_process.capabilities().clone().unwrap_or_default())
        .rlimits(default_process.rlimits().clone().unwrap_or_default())
        .no_new_privileges(true)
        .build()
        .map_err(spec("process"))?;

    let namespaces = [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
    ]
    .into_iter()
    .map(|typ| {
        LinuxNamespaceBuilder::default()
            .typ(typ)
            .build()
            .map_err(spec("namespace"))
    })
    .collect::<Result<Vec<_>, _>>()?;

    let deny_all_devices = LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .map_err(spec("device cgroup"))?;
    let linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .resources(
            LinuxResourcesBuilder::default()
                .devices(vec![deny_all_devices])
                .build()
                .map_err(spec("resources"))?,
        )
        .masked_paths(default_linux.masked_paths().clone().unwrap_or_default())
        .readonly_paths(default_linux.readonly_paths().clone().unwrap_or_default())
        .build()
        .map_err(spec("linux"))?;

    let root = RootBuilder::default()
        .path("rootfs")
        .readonly(true)
        .build()
        .map_err(spec("root"))?;

    // A writable /tmp on the read-only root, as an initramfs root has one.
    let tmp = MountBuilder::default()
        .destination("/tmp")
        .typ("tmpfs")
        .source("tmpfs")
        .options(
            ["nosuid", "nodev", "mode=1777", "size=65536k"]
                .map(String::from)
                .to_vec(),
        )
        .build()
        .map_err(spec("mount /tmp"))?;
    let mut mounts = defaults.mounts().clone().unwrap_or_default();
    mounts.push(tmp);

    let mut config = defaults;
    config.set_mounts(Some(mounts));
    config.set_version("1.0.2".to_string());
    config.set_hostname(Some(HOSTNAME.to_string()));
    config.set_process(Some(process));
    config.set_root(Some(root));
    config.set_linux(Some(linux));
    config.set_annotations(None);
    Ok(config)
}

/// `config.json`'s bytes: [`runtime_config`] pretty-printed, with the
/// capability sets (hash sets in `oci-spec`) sorted so the bytes are stable.
pub fn config_json() -> Result<Vec<u8>, OciError> {
    let serde = |e| OciError::Spec("config.json", oci_spec::OciSpecError::SerDe(e));
    let mut value = serde_json::to_value(runtime_config()?).map_err(serde)?;
    if let Some(sets) = value["process"]["capabilities"].as_object_mut() {
        for set in sets.values_mut() {
            if let Some(caps) = set.as_array_mut() {
                caps.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
            }
        }
    }
    let mut json = serde_json::to_vec_pretty(&value).map_err(serde)?;
    json.push(b'\n');
    Ok(json)
}

/// Writes the bundle into `dir` (created, must not exist): `config.json`
/// (pretty-printed) and `rootfs/`.
pub fn write_bundle(dir: &Path, rootfs: &Rootfs) -> Result<(), OciError> {
    std::fs::create_dir(dir).map_err(|source| OciError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    write(dir.join("config.json"), &config_json()?)?;
    rootfs.write_to(&dir.join("rootfs"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_runs_the_workload_read_only_without_terminal() {
        let config = runtime_config().unwrap();
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["process"]["args"], serde_json::json!(["/init"]));
        assert_eq!(json["process"]["terminal"], false);
        assert_eq!(json["process"]["noNewPrivileges"], true);
        assert_eq!(json["root"]["path"], "rootfs");
        assert_eq!(json["root"]["readonly"], true);
        let ns: Vec<&str> = json["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "network", "ipc", "uts", "mount"]);
        let mounts: Vec<&str> = json["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["destination"].as_str().unwrap())
            .collect();
        assert!(mounts.contains(&"/proc") && mounts.contains(&"/dev"));
        assert!(mounts.contains(&"/tmp"));
        // Same input, same bytes, whatever the hash sets' order.
        let first = config_json().unwrap();
        for _ in 0..8 {
            assert_eq!(config_json().unwrap(), first);
        }
    }
}
