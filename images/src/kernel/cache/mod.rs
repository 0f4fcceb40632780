//! The kernel cache: `$XDG_CACHE_HOME/vmlab` (default `~/.cache/vmlab`).
//!
//! ```text
//! kernels/<release>/vmlinuz        the bzImage, as packaged
//!                   vmlinux        the ELF derived from it
//!                   config         the kernel's build config
//!                   modules/<path> kvm.ko, kvm-amd.ko, kvm-intel.ko, the virtio drivers
//!                                  and what they depend on (`kernel::modules`)
//!                                  (their path below /lib/modules/<release>/)
//!                   kernel.json    format, release, package, compression, sha256 of every file
//! derived/<sha256 of a bzImage>/vmlinux, derived.json
//!                                  vmlinux derived from a kernel given by path
//! ```
//! Every entry is staged in a scratch directory and renamed into place, its
//! JSON written last; reading an entry checks every recorded sha256.
//!
//! Neither `kernel.json` nor an unpacked package is trusted with paths: a
//! recorded path must be relative, without `..`, and no component of it
//! (from the entry or package root down) may be a symlink; files are opened
//! with `O_NOFOLLOW`. So nothing outside the cache entry or the package is
//! ever read through them.
//!
//! - `record`: what `kernel.json` and `derived.json` hold;
//! - `store`: [`Cache`], finding and reading an entry back;
//! - `install`: writing an entry;
//! - `paths`: reading below a root without following symlinks ([`contained`]).
mod install;
mod paths;
mod record;
mod store;

pub use paths::contained;
pub use record::{ModuleRecord, Record, Unpacked, FORMAT};
pub use store::Cache;

#[cfg(test)]
mod tests;
