//! The [`Platform`] of the Linux binary.
use std::time::Instant;

use vmlab_workload::{Clock, Event, Failure, Kernel, Measurement, Platform, Spec};

use super::channel::Channel;
use super::sys::{self, Mapping};
use super::{blk, file, init, net, pipe, spawn, tcp};

/// `CLOCK_MONOTONIC` (through [`Instant`]) in nanoseconds since the clock
/// was made.
#[derive(Clone, Copy, Debug)]
pub struct Mono(Instant);

impl Mono {
    /// A clock starting now.
    pub fn new() -> Mono {
        Mono(Instant::now())
    }
}

impl Clock for Mono {
    fn now_ns(&self) -> u64 {
        self.0.elapsed().as_nanos().min(u64::MAX.into()) as u64
    }
}

/// The workload running on Linux: a process, a container's PID 1 or a
/// Linux guest's PID 1.
pub struct Linux {
    channel: Channel,
    clock: Mono,
    pid1: bool,
    scratch: Vec<u64>,
    regions: Vec<Mapping>,
}

impl Linux {
    /// A platform sending events to `channel`; `pid1` makes it reap
    /// orphans after each Linux-only kernel.
    pub fn new(channel: Channel, pid1: bool) -> Linux {
        Linux {
            channel,
            clock: Mono::new(),
            pid1,
            scratch: Vec::new(),
            regions: Vec::new(),
        }
    }

    /// The protocol channel, to send the exit event at the end.
    pub fn into_channel(self) -> Channel {
        self.channel
    }
}

impl Platform for Linux {
    type Clock = Mono;

    fn clock(&self) -> Mono {
        self.clock
    }

    fn cross(&mut self) {
        sys::null_syscall();
    }

    fn event(&mut self, event: Event) {
        self.channel.send(event);
    }

    fn hold(&mut self) {
        self.channel.hold();
    }

    fn park(&mut self) -> bool {
        self.channel.park()
    }

    fn scratch(&mut self, words: usize) -> Option<&mut [u64]> {
        if let Some(more) = words.checked_sub(self.scratch.len()) {
            self.scratch.try_reserve_exact(more).ok()?;
            self.scratch.resize(words, 0);
        }
        Some(&mut self.scratch[..words])
    }

    fn fresh(&mut self, bytes: usize) -> Option<&mut [u8]> {
        self.regions.push(Mapping::new(bytes).ok()?);
        self.regions.last_mut().map(Mapping::as_mut_slice)
    }

    fn release(&mut self) {
        self.regions.clear();
    }

    fn native(
        &mut self,
        kernel: Kernel,
        spec: &Spec,
        report: &mut dyn FnMut(&Measurement),
    ) -> Result<(), Failure> {
        // Free the shared kernels' scratch memory first, so that `spawn`'s
        // fork does not pay for copying its page tables.
        self.scratch = Vec::new();
        let outcome = match kernel {
            Kernel::Spawn => spawn::run(spec, report),
            Kernel::Pipe => pipe::run(spec, report),
            Kernel::File => file::run(spec, report),
            Kernel::Tcp => tcp::run(spec, report),
            Kernel::NetRr => net::rr(spec, report),
            Kernel::NetStream => net::stream(spec, report),
            Kernel::BlkRand => blk::rand(spec, report),
            Kernel::BlkSeq => blk::seq(spec, report),
            _ => Err(Failure::unsupported(kernel)),
        };
        if self.pid1 {
            init::reap_orphans();
        }
        outcome
    }
}
