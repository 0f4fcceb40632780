//! A fake [`Platform`] for unit tests: a clock that only moves when read,
//! memory from the heap, and a log of events.
use core::cell::Cell;
use std::vec::Vec;

use crate::measure::Clock;
use crate::platform::Platform;
use crate::protocol::Event;

/// A clock that moves `step` nanoseconds at every read.
#[derive(Clone, Copy)]
pub struct StepClock<'a> {
    now: &'a Cell<u64>,
    step: u64,
}

impl<'a> StepClock<'a> {
    /// A clock on `now` that moves `step` ns per read.
    pub fn new(now: &'a Cell<u64>, step: u64) -> StepClock<'a> {
        StepClock { now, step }
    }
}

impl Clock for StepClock<'_> {
    fn now_ns(&self) -> u64 {
        self.now.set(self.now.get() + self.step);
        self.now.get()
    }
}

/// The fake platform; its fields are there for tests to inspect.
pub struct Fake<'a> {
    now: &'a Cell<u64>,
    step: u64,
    pub events: Vec<Event>,
    pub crossings: u64,
    pub scratch: Vec<u64>,
    /// Most scratch words it gives (`None`: any number).
    pub scratch_limit: Option<usize>,
    pub regions: Vec<Vec<u8>>,
    pub regions_left: usize,
    pub released: usize,
    /// Calls of `hold`.
    pub holds: usize,
    /// Calls of `park`.
    pub parks: usize,
    /// What `park` answers (`false`: the host went away).
    pub go: bool,
}

impl<'a> Fake<'a> {
    /// A platform whose clock moves `step` ns per read, with three fresh
    /// regions to give.
    pub fn new(now: &'a Cell<u64>, step: u64) -> Self {
        Fake {
            now,
            step,
            events: Vec::new(),
            crossings: 0,
            scratch: Vec::new(),
            scratch_limit: None,
            regions: Vec::new(),
            regions_left: 3,
            released: 0,
            holds: 0,
            parks: 0,
            go: true,
        }
    }
}

impl<'a> Platform for Fake<'a> {
    type Clock = StepClock<'a>;
    fn clock(&self) -> StepClock<'a> {
        StepClock {
            now: self.now,
            step: self.step,
        }
    }
    fn cross(&mut self) {
        self.crossings += 1;
    }
    fn event(&mut self, event: Event) {
        self.events.push(event);
    }
    fn hold(&mut self) {
        self.holds += 1;
    }
    fn park(&mut self) -> bool {
        self.parks += 1;
        self.go
    }
    fn scratch(&mut self, words: usize) -> Option<&mut [u64]> {
        if self.scratch_limit.is_some_and(|limit| words > limit) {
            return None;
        }
        self.scratch.resize(words, 0);
        Some(&mut self.scratch)
    }
    fn fresh(&mut self, bytes: usize) -> Option<&mut [u8]> {
        self.regions_left = self.regions_left.checked_sub(1)?;
        self.regions.push(std::vec![0; bytes]);
        self.regions.last_mut().map(|r| &mut r[..])
    }
    fn release(&mut self) {
        self.released += self.regions.len();
        self.regions.clear();
    }
}
