//! Programs on this host: finding a peer on PATH, asking its version (with
//! a timeout), and the git revision vmlab was built from.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vmlab_reports::model::Tool;

use crate::id::BackendId;

/// How long a `--version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(3);

/// A peer's program as found on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Which peer.
    pub id: BackendId,
    /// Where its program is, when installed.
    pub path: Option<PathBuf>,
    /// The first line of its `--version`, or why there is none.
    pub version: Result<String, String>,
}

impl Peer {
    /// Looks `id`'s program up on PATH and asks its version.
    pub fn find(id: BackendId) -> Peer {
        let program = id.program().unwrap_or(id.name());
        let path = which(program);
        let version = match &path {
            Some(p) => version(p),
            None => Err(format!("{program} is not installed (not on PATH)")),
        };
        Peer { id, path, version }
    }

    /// As the results record it.
    pub fn tool(&self) -> Tool {
        Tool {
            name: self.id.program().unwrap_or(self.id.name()).to_string(),
            version: self.version.clone().ok(),
            path: self.path.as_ref().map(|p| p.display().to_string()),
        }
    }
}

/// Every peer, looked up; peers that share a program (qemu and
/// qemu-bare, ...) share one look-up and one `--version`.
pub fn peers() -> Vec<Peer> {
    let mut found: Vec<Peer> = Vec::new();
    for id in BackendId::peers() {
        let same = found.iter().find(|p| p.id.program() == id.program());
        let peer = match same {
            Some(p) => Peer { id, ..p.clone() },
            None => Peer::find(id),
        };
        found.push(peer);
    }
    found
}

/// Finds `name` on PATH (plus /usr/sbin and /sbin, where runc may live).
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

/// The first line of `path --version`, killed after a few seconds.
pub fn version(path: &Path) -> Result<String, String> {
    let mut child = Command::new(path)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{} --version` did not answer within {VERSION_TIMEOUT:?}",
                    path.display()
                ));
            }
            Err(e) => return Err(format!("waiting for {}: {e}", path.display())),
        }
    };
    // --version output is far below a pipe's capacity, so reading after exit cannot block.
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    first_line(&out)
        .or_else(|| first_line(&err))
        .ok_or_else(|| {
            format!(
                "`{} --version` printed nothing (exit {status})",
                path.display()
            )
        })
}

fn first_line(s: &str) -> Option<String> {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// `git rev-parse --short HEAD` of the current directory's repository, or "unknown".
pub fn git_revision() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let rev = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let dirty = Command::new("git")
                .args(["status", "--porcelain", "--untracked-files=no"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|s| s.status.success() && !s.stdout.is_empty());
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        _ => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_once_and_peers_of_one_program_share_its_look_up() {
        let peers = peers();
        let ids: Vec<BackendId> = peers.iter().map(|p| p.id).collect();
        assert_eq!(ids, BackendId::peers().collect::<Vec<_>>());
        let of = |id| peers.iter().find(|p| p.id == id).unwrap();
        for (a, b) in [
            (BackendId::Qemu, BackendId::QemuBare),
            (BackendId::Firecracker, BackendId::FirecrackerBare),
            (BackendId::CloudHypervisor, BackendId::CloudHypervisorBare),
        ] {
            assert_eq!((&of(a).path, &of(a).version), (&of(b).path, &of(b).version));
        }
    }

    #[test]
    fn version_of_a_missing_binary_is_an_error() {
        assert!(version(Path::new("/nonexistent/vmlab-no-such-tool")).is_err());
        assert!(which("vmlab-no-such-tool-anywhere").is_none());
    }
}
