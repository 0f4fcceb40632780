//! The host side of the vmlab workload's protocol: [`protocol::Line`], the
//! workload's JSON lines (`{"vmlab":"ready"}`, results, errors, the exit)
//! as a type, with one parser. Every host-side reader (`vmlab run`,
//! `vmlab compare`, the rig, the tests) reads the lines with it.
pub mod protocol;
