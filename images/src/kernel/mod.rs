//! The guest kernel for the `vm-linux` backend: where it comes from, its
//! checks, and the `vmlinux` ELF derived from it.
//!
//! Resolution order ([`resolve`]):
//! 1. an explicit path (`vmlab images build --kernel PATH`);
//! 2. the environment variable [`ENV`] (`VMLAB_KERNEL`);
//! 3. the cache ([`cache`], `$XDG_CACHE_HOME/vmlab` or `~/.cache/vmlab`);
//! 4. a fetch ([`fetch`]): Debian's cloud kernel package, downloaded with
//!    `apt-get download` and unpacked with `dpkg-deb -x` into the cache,
//!    never installed.
//!
//! A kernel file may be a bzImage or an ELF `vmlinux`. A bzImage is checked
//! ([`bzimage::SetupHeader::parse`]) and its payload decompressed into a
//! `vmlinux`, kept in the cache; an ELF is checked ([`elf::check`]).
//!
//! - `types`: [`GuestKernel`] and the files it is made of;
//! - `resolve`: [`resolve`] and [`from_file`];
//! - [`bzimage`], [`elf`]: the two formats' checks;
//! - [`cache`], [`fetch`]: where kernels are kept and how one is fetched;
//! - [`modules`]: which modules are kept, in load order.
pub mod bzimage;
pub mod cache;
pub mod elf;
mod error;
pub mod fetch;
pub mod modules;
mod resolve;
mod types;

pub use cache::Cache;
pub use error::KernelError;
pub use resolve::{from_file, resolve};
pub use types::{FileRef, GuestKernel, Module, Source, ENV, HOW_TO_GET_ONE};
