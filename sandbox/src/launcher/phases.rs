//! The run's named phases and when each ended.
use crate::sys::monotonic_ns;

/// Named phases, each with its end time in ns since the start of the run.
pub(super) struct Phases {
    pub(super) start: u64,
    pub(super) list: Vec<(&'static str, u64)>,
}

impl Phases {
    pub(super) fn mark(&mut self, name: &'static str) {
        self.at(name, monotonic_ns());
    }

    pub(super) fn at(&mut self, name: &'static str, t: u64) {
        self.list.push((name, t.saturating_sub(self.start)));
    }
}
