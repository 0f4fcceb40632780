//! Legacy devices the guests talk to through port I/O.
pub mod port;
pub mod rtc;
pub mod serial;
