//! What to run and how to isolate it: plain data, checked by [`Config::validate`].
//!
//! - `run`: [`Config`] and its [`Root`]; `isolation`: network, `/sys`, ids
//!   and namespaces; `limits`: [`Limits`] and [`parse_size`]; `error`:
//!   [`ConfigError`].
mod error;
mod isolation;
mod limits;
mod run;

pub use error::ConfigError;
pub use isolation::{IdMap, Namespaces, Net, SysMount, UserNs, NOBODY};
pub use limits::{
    host_memory, parse_size, Limits, DEFAULT_MEMORY_SHARE, DEFAULT_PIDS, MAX_TIMEOUT,
};
pub use run::{Config, FileBind, Root};

#[cfg(test)]
mod tests;
