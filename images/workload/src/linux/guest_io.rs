//! As a Linux guest's PID 1 given `--addr`: load the virtio modules the
//! initramfs carries, give `eth0` the address, and wait for the disk.
//!
//! vmlab's images put the guest kernel's virtio modules (and what they
//! depend on) into `initramfs-io.cpio` as [`MODULES_DIR`]`/NN-name.ko`,
//! in load order; they are loaded in the order of their names. A module
//! the kernel already has (built in, or loaded) is fine.
use std::fmt;
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use vmlab_workload::Spec;

use super::sys;

/// Where the initramfs keeps the modules (`vmlab_images::kernel::modules::INITRAMFS_DIR`).
pub const MODULES_DIR: &str = "/lib/vmlab-modules";

/// The interface the address goes to.
pub const INTERFACE: &str = "eth0";

/// How long the network interface and the disk may take to appear after
/// the modules loaded (devices probe asynchronously; emulated guests are slow).
const APPEAR_LIMIT: Duration = Duration::from_secs(20);

/// Why the guest's I/O could not be set up.
#[derive(Debug)]
pub enum GuestIoError {
    /// The module directory could not be read.
    NoModules(io::Error),
    /// A module did not load.
    Module(String, io::Error),
    /// A device did not appear in time.
    Missing(String),
    /// The address could not be set.
    Address(io::Error),
}

impl fmt::Display for GuestIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GuestIoError::NoModules(e) => write!(
                f,
                "--addr needs the virtio modules in {MODULES_DIR} ({e}); boot the initramfs \
                 built for I/O (initramfs-io.cpio)"
            ),
            GuestIoError::Module(name, e) => write!(f, "cannot load the module {name}: {e}"),
            GuestIoError::Missing(what) => write!(
                f,
                "{what} did not appear within {} s after the virtio modules loaded; does the \
                 VMM give the guest that virtio device?",
                APPEAR_LIMIT.as_secs()
            ),
            GuestIoError::Address(e) => write!(f, "cannot give {INTERFACE} its address: {e}"),
        }
    }
}

impl std::error::Error for GuestIoError {}

/// Sets up the guest's I/O when `spec` asks for it (`--addr`); returns
/// the modules it loaded.
pub fn setup(spec: &Spec) -> Result<Vec<String>, GuestIoError> {
    let Some(addr) = spec.addr else {
        return Ok(Vec::new());
    };
    let loaded = load_modules()?;
    let iface = format!("/sys/class/net/{INTERFACE}");
    wait_for(
        Path::new(&iface),
        &format!("the network interface {INTERFACE}"),
    )?;
    sys::ipv4_up(INTERFACE, addr.addr, addr.netmask()).map_err(GuestIoError::Address)?;
    if let Some(disk) = spec.disk {
        wait_for(
            Path::new(disk.as_str()),
            &format!("the disk {}", disk.as_str()),
        )?;
    }
    Ok(loaded)
}

/// Loads every `*.ko` in [`MODULES_DIR`] in the order of their names.
fn load_modules() -> Result<Vec<String>, GuestIoError> {
    let mut names: Vec<String> = std::fs::read_dir(MODULES_DIR)
        .map_err(GuestIoError::NoModules)?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ko"))
        .collect();
    names.sort();
    for name in &names {
        let path = Path::new(MODULES_DIR).join(name);
        let loaded = File::open(&path).and_then(|f| sys::finit_module(&f));
        match loaded {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(GuestIoError::Module(name.clone(), e)),
        }
    }
    Ok(names)
}

/// Waits until `path` exists, for at most [`APPEAR_LIMIT`].
fn wait_for(path: &Path, what: &str) -> Result<(), GuestIoError> {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > APPEAR_LIMIT {
            return Err(GuestIoError::Missing(what.to_string()));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
