//! The console (stdout) as a [`core::fmt::Write`] for the JSON lines.
use std::fmt;
use std::io::{self, Write};

/// Writes to stdout. Rust's stdout is line buffered, so each JSON line
/// leaves the process as soon as it is complete.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        io::stdout().write_all(s.as_bytes()).map_err(|_| fmt::Error)
    }
}
