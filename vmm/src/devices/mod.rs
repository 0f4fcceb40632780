//! Legacy devices the guests talk to through port I/O.
pub(crate) mod lazy;
pub(crate) mod port;
pub(crate) mod rtc;
pub mod serial;
