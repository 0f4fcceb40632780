//! Where protocol events go: an inherited fd, the vmlab I/O port, or
//! nowhere (console lines only).
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};

use vmlab_workload::protocol::{
    Event, FD_ENV, HOLD_FD_ENV, HOLD_PORT, PARK_FD_ENV, PORT, PORT_ENV,
};

use super::sys;

/// The protocol channel chosen from the environment.
pub enum Channel {
    /// 4-byte little-endian words to an inherited fd (`VMLAB_FD=<n>`).
    Fd(File),
    /// One `out dx, eax` per event to the vmlab port (`VMLAB_PORT=1`).
    Port,
    /// No channel: events are only visible as console lines.
    Console,
}

/// Why the protocol channel could not be set up.
#[derive(Debug)]
pub enum ChannelError {
    /// `VMLAB_FD` is not a number.
    BadFd(String),
    /// `VMLAB_FD` names an fd that cannot be used.
    FdNotOpen(String, io::Error),
    /// `VMLAB_PORT` is set to something other than `1`.
    BadPort(String),
    /// `ioperm` refused the port.
    Ioperm(io::Error),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::BadFd(v) => {
                write!(f, "{FD_ENV}=`{v}` is not a file descriptor number; unset it or give the number of an inherited pipe")
            }
            ChannelError::FdNotOpen(v, e) => {
                write!(f, "{FD_ENV}={v} cannot be used ({e}); pass an open, inherited pipe fd above 2")
            }
            ChannelError::BadPort(v) => {
                write!(f, "{PORT_ENV}=`{v}` is not `1`; set it to 1 in a vmlab VM or unset it")
            }
            ChannelError::Ioperm(e) => write!(
                f,
                "{PORT_ENV}=1 but access to I/O port {PORT:#x} was refused ({e}); run it as root (CAP_SYS_RAWIO) in a VM whose kernel supports ioperm, or unset {PORT_ENV}"
            ),
        }
    }
}

impl std::error::Error for ChannelError {}

impl Channel {
    /// Chooses the channel from `VMLAB_FD` and `VMLAB_PORT`.
    pub fn from_env() -> Result<Channel, ChannelError> {
        if let Some(v) = std::env::var_os(FD_ENV) {
            let v = v.to_string_lossy().into_owned();
            let fd = v.parse().map_err(|_| ChannelError::BadFd(v.clone()))?;
            let fd = sys::inherited_fd(fd).map_err(|e| ChannelError::FdNotOpen(v, e))?;
            return Ok(Channel::Fd(File::from(fd)));
        }
        match std::env::var_os(PORT_ENV) {
            None => Ok(Channel::Console),
            Some(v) if v == "1" => {
                sys::ioperm(PORT, 4).map_err(ChannelError::Ioperm)?;
                Ok(Channel::Port)
            }
            Some(v) => Err(ChannelError::BadPort(v.to_string_lossy().into_owned())),
        }
    }

    /// Sends one event. A host that went away cannot be told anything, so a
    /// failed fd write is reported on stderr once and otherwise ignored.
    pub fn send(&mut self, event: Event) {
        match self {
            Channel::Fd(f) => {
                if let Err(e) = f.write_all(&event.to_bytes()) {
                    eprintln!("vmlab-workload: cannot write protocol event to {FD_ENV}: {e}");
                    *self = Channel::Console;
                }
            }
            Channel::Port => sys::out32(PORT, event.encode()),
            Channel::Console => {}
        }
    }

    /// Waits until the host lets a held workload exit: in a VM, a read of
    /// the hold port (which the VMM answers when told to); elsewhere one
    /// byte or end of file on the fd in `VMLAB_HOLD_FD`, else on stdin.
    /// A read error also ends the wait (the host is gone), reported once.
    pub fn hold(&self) {
        if let Channel::Port = self {
            sys::in32(HOLD_PORT);
            return;
        }
        if let Err(e) = read_byte(HOLD_FD_ENV) {
            eprintln!(
                "vmlab-workload: cannot wait for the host ({HOLD_FD_ENV} or stdin): {e}; exiting"
            );
        }
    }

    /// Waits for a parked workload's go: one byte on the fd in
    /// `VMLAB_PARK_FD`, else on stdin. `false` at end of file or on a read
    /// error (reported): the host is gone. In a VM (the port channel) it
    /// goes on at once: a VMM parks its guest at the snapshot mark instead.
    pub fn park(&self) -> bool {
        if let Channel::Port = self {
            return true;
        }
        match read_byte(PARK_FD_ENV) {
            Ok(1) => true,
            Ok(_) => false,
            Err(e) => {
                eprintln!("vmlab-workload: cannot wait for the go ({PARK_FD_ENV} or stdin): {e}");
                false
            }
        }
    }
}

/// Reads one byte from the inherited fd named in `env`, else from stdin;
/// how many bytes came (0: end of file).
fn read_byte(env: &str) -> io::Result<usize> {
    let mut byte = [0u8; 1];
    match std::env::var_os(env) {
        Some(v) => {
            let fd = v
                .to_string_lossy()
                .parse()
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
                .and_then(sys::inherited_fd)?;
            File::from(fd).read(&mut byte)
        }
        None => io::stdin().lock().read(&mut byte),
    }
}
