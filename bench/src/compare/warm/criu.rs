//! runc and crun checkpoint/restore through CRIU. Whether CRIU works is a
//! real check at run time (`criu check`), and its failure is the row's
//! skip reason; crun must also be built with CRIU (`+CRIU` in its
//! `--version`). Where the check passes the row still reads skipped: the
//! timed checkpoint/restore of a running container is not measured by this
//! version of vmlab (the command lines it would use are below and tested).
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vmlab_reports::model::{BackendKind, StartKind, Timing, WarmRow};

use crate::compare::peers::path_of;
use crate::compare::probe::HostView;
use crate::id::BackendId;

/// `criu check`'s verdict: `Ok` when CRIU can checkpoint here, else the
/// reason in CRIU's own words (its last error line).
pub fn check(criu: &Path) -> Result<(), String> {
    let out = Command::new(criu)
        .arg("check")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} check: {e}", criu.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("Error") || l.contains("rror"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output");
    Err(format!("`criu check` failed on this host: {}", line.trim()))
}

/// Whether crun's `--version` lists CRIU among its features.
pub fn crun_has_criu(version_output: &str) -> bool {
    version_output.split_whitespace().any(|w| w == "+CRIU")
}

/// `TOOL --root ROOT checkpoint --image-path IMAGES ID`.
pub fn checkpoint_command(tool: &Path, root: &Path, images: &Path, id: &str) -> Command {
    let mut c = Command::new(tool);
    c.arg("--root").arg(root).arg("checkpoint");
    c.arg("--image-path").arg(images).arg(id);
    c
}

/// `TOOL --root ROOT restore --detach --image-path IMAGES --bundle B ID`.
pub fn restore_command(
    tool: &Path,
    root: &Path,
    images: &Path,
    bundle: &Path,
    id: &str,
) -> Command {
    let mut c = Command::new(tool);
    c.arg("--root").arg(root).args(["restore", "--detach"]);
    c.arg("--image-path").arg(images);
    c.arg("--bundle").arg(bundle).arg(id);
    c
}

/// `criu` on PATH.
fn find_criu() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("criu"))
        .find(|p| p.is_file())
}

/// The restore row of `id` (runc or crun): skipped, with why.
pub fn row(id: BackendId, host: &HostView) -> WarmRow {
    let name = id.name();
    let r = WarmRow::new(
        name,
        BackendKind::Container,
        StartKind::Restore,
        Timing::EndToEnd,
        &format!("{name} restore from a CRIU checkpoint"),
    );
    let Some(tool) = path_of(host, id) else {
        return r.skip(format!("{name} is not installed"));
    };
    if id == BackendId::Crun {
        let v = Command::new(&tool).arg("--version").output();
        let v = v.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        if !v.as_deref().is_ok_and(crun_has_criu) {
            return r.skip("crun was built without CRIU support (no +CRIU in crun --version)");
        }
    }
    let Some(criu) = find_criu() else {
        return r.skip("criu is not installed");
    };
    match check(&criu) {
        Err(why) => r.skip(why),
        Ok(()) => r.skip(
            "criu check passed, but this vmlab does not time CRIU restores yet \
             (only the check and the command lines are in place)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn a_failing_check_gives_criu_s_own_error_line() {
        let d = tempfile::tempdir().unwrap();
        let bad = script(
            d.path(),
            "criu-bad",
            "echo 'Warn: something' >&2\necho 'Error (criu/vdso.c:1): Unexpected rt vDSO area bounds' >&2\nexit 1",
        );
        let why = check(&bad).unwrap_err();
        assert!(why.contains("Unexpected rt vDSO area bounds"), "{why}");
        let good = script(d.path(), "criu-good", "echo Looks good.");
        assert_eq!(check(&good), Ok(()));
        assert!(check(&d.path().join("missing")).is_err());
    }

    #[test]
    fn crun_s_criu_feature_is_read_from_its_version() {
        assert!(crun_has_criu(
            "crun version 1.8.1\ncommit: x\n+SYSTEMD +SELINUX +CRIU +YAJL"
        ));
        assert!(!crun_has_criu("crun version 1.8.1\n+SYSTEMD -CRIU +YAJL"));
    }

    #[test]
    fn checkpoint_and_restore_command_lines_reach_the_tool() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("args");
        let tool = script(
            d.path(),
            "runc",
            &format!("echo \"$@\" >> {}", log.display()),
        );
        let (root, images, bundle) = (Path::new("/r"), Path::new("/i"), Path::new("/b"));
        let st = checkpoint_command(&tool, root, images, "c1")
            .status()
            .unwrap();
        assert!(st.success());
        let st = restore_command(&tool, root, images, bundle, "c1")
            .status()
            .unwrap();
        assert!(st.success());
        let got = std::fs::read_to_string(&log).unwrap();
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines[0], "--root /r checkpoint --image-path /i c1");
        assert_eq!(
            lines[1],
            "--root /r restore --detach --image-path /i --bundle /b c1"
        );
    }
}
