//! The real system calls.
//!
//! Every function here runs in the cloned child between `clone3` and
//! `execve`, in memory shared with the parent: none allocates, takes a lock,
//! panics or touches `errno` (each call goes through [`super::raw`]).
//!
//! - `calls`: [`Real`], the [`Sys`](super::Sys) implementation;
//! - `files`, `mounts`, `process`, `privileges`: the calls by what they act on;
//! - `abi`: the kernel structures and constants they pass.
mod abi;
mod calls;
mod files;
mod mounts;
mod privileges;
mod process;

pub use calls::Real;
