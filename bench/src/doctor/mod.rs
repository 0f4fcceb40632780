//! What `vmlab doctor` reports: the facts it looks at ([`facts`]) and the
//! capabilities it derives from them ([`assess`]), with the backends judged
//! by the same probes `vmlab compare` uses.
mod assess;
mod facts;

pub use assess::{assess, Capability};
pub use facts::{gather, Facts};
