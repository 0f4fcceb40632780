//! The claims table: every statement of the course notes about VMs versus
//! containers, the pair of backend classes it compares, the stated test and
//! threshold that decide it, this machine's figures and a verdict.
//!
//! A verdict comes only from a comparable pair measured natively with
//! enough samples; otherwise the row reads "not measurable here" with the
//! reason, never a verdict borrowed from another pair.
//!
//! - [`pairs`]: backend classes and which backends a claim may use;
//! - [`verdict`]: the row and the ratio rule;
//! - `boot`, `footprint`, `io`, `isolation`, `warm`: the claims themselves;
//! - `table`: all of them in the notes' order.
mod boot;
mod footprint;
mod io;
mod isolation;
pub mod pairs;
mod table;
mod verdict;
mod warm;

pub use footprint::host_dependencies;
pub use isolation::evidence_text;
pub use pairs::{class, BackendClass};
pub use table::claims;
pub use verdict::{Claim, Verdict};
