//! The test hook: a forbidden call made after setup.
use std::fs::File;

/// A forbidden call the VMM attempts after setup, on request: a test hook
/// showing the jail holds (jailed: the VMM is killed) and that the probe
/// itself works (not jailed: the call is made, its result reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `openat` of a host file (`/etc/passwd`).
    OpenHostFile,
    /// `execve` of a path that does not exist (made, it fails `ENOENT`).
    Exec,
    /// `socket(AF_INET, SOCK_DGRAM)`.
    Socket,
}

impl Probe {
    /// By name: `open`, `exec`, `socket`.
    pub fn from_name(name: &str) -> Option<Probe> {
        match name {
            "open" => Some(Probe::OpenHostFile),
            "exec" => Some(Probe::Exec),
            "socket" => Some(Probe::Socket),
            _ => None,
        }
    }

    /// Makes the call; says what it returned.
    pub(crate) fn attempt(self) -> String {
        match self {
            Probe::OpenHostFile => match File::open("/etc/passwd") {
                Ok(_) => "openat(/etc/passwd): opened".into(),
                Err(e) => format!("openat(/etc/passwd): {e}"),
            },
            Probe::Exec => {
                let path = c"/nonexistent/vmlab-probe";
                match nix::unistd::execve::<&std::ffi::CStr, &std::ffi::CStr>(path, &[path], &[]) {
                    Err(e) => format!("execve(/nonexistent/vmlab-probe): {e}"),
                }
            }
            Probe::Socket => match std::net::UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0)) {
                Ok(_) => "socket(AF_INET, SOCK_DGRAM): created".into(),
                Err(e) => format!("socket(AF_INET, SOCK_DGRAM): {e}"),
            },
        }
    }
}
