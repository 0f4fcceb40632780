//! The vmlab workload, shared by every backend.
//!
//! This library is `no_std`: the bare KVM guest (`images/guest`) links it as
//! well as the static Linux binary (`src/main.rs`). It holds
//! - [`protocol`]: the ready / mark / exit events and how they travel;
//! - [`bootinfo`]: the boot-info struct the VMM hands the bare guest.
#![no_std]

pub mod bootinfo;
pub mod protocol;
