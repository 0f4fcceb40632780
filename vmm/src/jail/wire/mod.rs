//! The jailed VMM's report to its parent: a boot's [`VmOutcome`] or error,
//! encoded as little-endian fields. Guest failures keep their type (callers
//! match on them); any other error crosses as its message chain.

pub(crate) mod bytes;
mod failure;
mod report;

pub(crate) use report::{decode, encode, known_entry, MAX_REPORT};

#[cfg(test)]
mod tests;
