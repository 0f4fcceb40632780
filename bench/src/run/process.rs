//! `vmlab run --backend process`: the workload as a plain child process,
//! started by the same launcher as the sandbox with every isolation off.
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::sandbox::{built_init, launch, timeout};
use vmlab_bench::record::RunRecord;
use vmlab_bench::BackendId;

use super::RunArgs;

/// The name of the staged workload binary.
const WORKLOAD_NAME: &str = "vmlab-workload";

/// The workload binary: the rootfs's `/init` if the images are built, else
/// the embedded one, written once under `target/vmlab/bin`.
pub fn binary(args: &RunArgs) -> anyhow::Result<PathBuf> {
    if let Some(p) = built_init(&args.images) {
        return Ok(p);
    }
    let dir = args
        .images
        .parent()
        .map(|p| p.join("bin"))
        .unwrap_or_else(|| PathBuf::from("target/vmlab/bin"));
    install(&dir, vmlab_images::embedded::WORKLOAD)
}

/// `bytes` as `dir/vmlab-workload` (mode 0755), written unless a regular
/// file of ours with those bytes is there already.
///
/// What runs as root must not be swappable by another user, so `dir` and
/// every directory above it must belong to this user, root or the owner of
/// the running `vmlab` binary (who could swap that anyway), and none may
/// be writable by others (sticky ones such as `/tmp` above it excepted).
/// The file is written under a fresh random name (`O_EXCL`, never through a
/// link) and renamed into place, which replaces a link planted there
/// instead of following it; a concurrent run never execs a half file.
pub fn install(dir: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    trusted(&dir)?;
    let path = dir.join(WORKLOAD_NAME);
    if holds(&path, bytes) {
        return Ok(path);
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".vmlab-workload.")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", tmp.path().display()))?;
    tmp.persist(&path)
        .with_context(|| format!("cannot rename the workload to {}", path.display()))?;
    Ok(path)
}

/// Fails unless `dir` (canonical) and every directory above it are owned by
/// this user, root or the owner of the running binary, and are not writable
/// by others (sticky directories above `dir` are allowed).
fn trusted(dir: &Path) -> anyhow::Result<()> {
    let me = nix::unistd::geteuid().as_raw();
    let exe_owner = std::env::current_exe()
        .and_then(std::fs::metadata)
        .map_or(me, |m| m.uid());
    for (i, d) in dir.ancestors().enumerate() {
        let m = std::fs::symlink_metadata(d)
            .with_context(|| format!("cannot inspect {}", d.display()))?;
        if ![me, 0, exe_owner].contains(&m.uid()) {
            anyhow::bail!(
                "{} is owned by uid {}, not by you, root or the owner of vmlab: another user could swap the \
                 workload vmlab runs; use an --images directory of your own",
                d.display(),
                m.uid()
            );
        }
        let sticky = m.mode() & libc::S_ISVTX != 0;
        if m.mode() & 0o022 != 0 && (i == 0 || !sticky) {
            anyhow::bail!(
                "{} is writable by other users (mode {:o}): another user could swap the \
                 workload vmlab runs; run `chmod go-w {}` or use another --images directory",
                d.display(),
                m.mode() & 0o7777,
                d.display()
            );
        }
    }
    Ok(())
}

/// Whether `path` is a regular file (not a link) of this user, not writable
/// by others, holding exactly `bytes`.
fn holds(path: &Path, bytes: &[u8]) -> bool {
    use std::io::Read;
    let me = nix::unistd::geteuid().as_raw();
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    else {
        return false;
    };
    let ok = f.metadata().is_ok_and(|m| {
        m.is_file() && m.uid() == me && m.mode() & 0o022 == 0 && m.len() == bytes.len() as u64
    });
    let mut current = Vec::with_capacity(bytes.len());
    ok && f
        .take(bytes.len() as u64 + 1)
        .read_to_end(&mut current)
        .is_ok()
        && current == bytes
}

/// Where the workload's files go (`$TMPDIR`: the `file` kernel writes
/// there): a private directory on the tmpfs at `/dev/shm`, like the tmpfs
/// `/tmp` the workload gets in every other backend, removed after the run.
/// None where `/dev/shm` is not a tmpfs (the workload then uses `/tmp`).
fn tmpfs_dir() -> Option<tempfile::TempDir> {
    use nix::sys::statfs::{statfs, TMPFS_MAGIC};
    let shm = Path::new("/dev/shm");
    if !statfs(shm).is_ok_and(|s| s.filesystem_type() == TMPFS_MAGIC) {
        return None;
    }
    tempfile::Builder::new()
        .prefix("vmlab-process.")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(shm)
        .ok()
}

pub fn run(args: &RunArgs) -> anyhow::Result<RunRecord> {
    let mut config =
        vmlab_bench::configs::process(binary(args)?, args.workload.clone(), timeout(args.timeout)?);
    let tmp = tmpfs_dir();
    let tmpdir = match &tmp {
        Some(d) => {
            let path = d.path().display().to_string();
            config.env.push(("TMPDIR".into(), path.clone()));
            format!("{path} (tmpfs)")
        }
        None => "/tmp (no tmpfs at /dev/shm)".to_string(),
    };
    let mut out = launch(BackendId::Process, &config, args.json)?;
    out.facts.insert("tmpdir".into(), tmpdir);
    drop(tmp);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const BYTES: &[u8] = b"\x7fELF not really";

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn the_workload_dir_is_a_private_tmpfs_dir() {
        let Some(d) = tmpfs_dir() else {
            assert!(!nix::sys::statfs::statfs("/dev/shm")
                .is_ok_and(|s| { s.filesystem_type() == nix::sys::statfs::TMPFS_MAGIC }));
            return;
        };
        assert!(d.path().starts_with("/dev/shm"));
        assert_eq!(mode(d.path()), 0o700);
        let path = d.path().to_path_buf();
        drop(d);
        assert!(!path.exists(), "removed after the run");
    }

    #[test]
    fn installs_once_as_a_0755_file() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("bin");
        let p = install(&dir, BYTES).unwrap();
        assert_eq!(p, dir.canonicalize().unwrap().join(WORKLOAD_NAME));
        assert_eq!(std::fs::read(&p).unwrap(), BYTES);
        assert_eq!(mode(&p), 0o755);
        let ino = std::fs::metadata(&p).unwrap().ino();
        assert_eq!(install(&dir, BYTES).unwrap(), p);
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino, "not rewritten");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no staging file left");
        install(&dir, b"other").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"other");
    }

    /// A bin directory in a fresh temp dir, and a victim file beside it.
    fn planted_bin() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("bin");
        std::fs::create_dir(&dir).unwrap();
        let victim = top.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        (top, dir, victim)
    }

    #[test]
    fn a_link_planted_at_the_old_staging_name_is_not_followed() {
        let (_top, dir, victim) = planted_bin();
        // The old staging name, for this pid.
        let staging = dir.join(format!(".vmlab-workload.{}", std::process::id()));
        symlink(&victim, &staging).unwrap();
        let p = install(&dir, BYTES).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(mode(&victim), 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), BYTES);

        // Positive control: the old writer (`fs::write` + chmod at the
        // predictable staging name) clobbers the victim through the link.
        std::fs::write(&staging, BYTES).unwrap();
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), BYTES);
        assert_eq!(mode(&victim), 0o755);
    }

    #[test]
    fn a_link_planted_at_the_final_name_is_replaced() {
        // A link to a file the attacker keeps (with the right bytes for
        // now, to be swapped later): never accepted as the workload.
        let (top, dir, _) = planted_bin();
        let twin = top.path().join("twin");
        std::fs::write(&twin, BYTES).unwrap();
        let fin = dir.join(WORKLOAD_NAME);
        symlink(&twin, &fin).unwrap();
        // Positive control: the link does hold the right bytes.
        assert_eq!(std::fs::read(&fin).unwrap(), BYTES);
        let p = install(&dir, BYTES).unwrap();
        assert_eq!(p, dir.canonicalize().unwrap().join(WORKLOAD_NAME));
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert!(m.file_type().is_file(), "the planted link was replaced");
        assert_eq!(std::fs::read(&p).unwrap(), BYTES);
        std::fs::write(&twin, b"swapped").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), BYTES);
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let top = tempfile::tempdir().unwrap();
        let dir = top.path().join("bin");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = format!("{:#}", install(&dir, BYTES).unwrap_err());
        assert!(
            e.contains("writable by other users") && e.contains("chmod go-w"),
            "{e}"
        );
        assert!(!dir.join(WORKLOAD_NAME).exists());
        // Above it too (the temp dir's own parent, /tmp, is sticky: allowed).
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = format!("{:#}", install(&dir, BYTES).unwrap_err());
        assert!(e.contains(&top.path().display().to_string()), "{e}");
        std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        install(&dir, BYTES).unwrap();
    }
}
