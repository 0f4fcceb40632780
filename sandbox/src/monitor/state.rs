//! What watching has gathered so far: the bounded output tails, the
//! decoded protocol events ([`Proto`]), and where the watch stands.
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::errno::Errno;
use vmlab_workload::protocol::Event;
use vmlab_workload::tail::Tail;

use super::{reap, Dropped, Stop, Watched, MAX_EVENTS, OUTPUT_CAP};
use crate::clone::Child;
use crate::sys::monotonic_ns;

type Ring = Tail<Box<[u8]>>;

fn ring() -> Ring {
    Tail::new(vec![0u8; OUTPUT_CAP].into_boxed_slice())
}

fn kept(t: &Ring) -> Vec<u8> {
    t.chunks().concat()
}

/// Reads what is there into `buf`; `Ok(0)` is EOF.
pub(super) fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match nix::unistd::read(fd, buf) {
            Ok(n) => return Ok(n),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The protocol pipe decoded so far: whole words become events (or bad
/// words), each list bounded by [`MAX_EVENTS`]; a partial word waits for
/// the rest.
#[derive(Debug, Default)]
pub(super) struct Proto {
    buf: Vec<u8>,
    pub(super) events: Vec<(Event, u64)>,
    pub(super) bad_words: Vec<u32>,
    /// Words not kept.
    pub(super) dropped: u64,
}

impl Proto {
    /// Decodes `bytes`, stamping each event `arrived`.
    pub(super) fn feed(&mut self, bytes: &[u8], arrived: u64) {
        self.buf.extend_from_slice(bytes);
        let whole = self.buf.len() / 4 * 4;
        for w in self.buf[..whole].chunks_exact(4) {
            let word = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
            let kept = match Event::decode(word) {
                Some(e) if self.events.len() < MAX_EVENTS => {
                    self.events.push((e, arrived));
                    true
                }
                None if self.bad_words.len() < MAX_EVENTS => {
                    self.bad_words.push(word);
                    true
                }
                _ => false,
            };
            if !kept {
                self.dropped += 1;
            }
        }
        self.buf.drain(..whole);
    }
}

/// What watching has gathered so far, and where it stands.
pub(super) struct State {
    /// When the timeout expires.
    pub(super) deadline: u64,
    /// After the exit: when draining the pipes stops.
    pub(super) drain_until: u64,
    pub(super) proto: Proto,
    /// stdout, stderr.
    out: [Ring; 2],
    /// Protocol, stdout, stderr: still open.
    pub(super) open: [bool; 3],
    pub(super) stop: Stop,
    /// The child is gone (or killed): only draining is left.
    pub(super) exited: bool,
}

impl State {
    /// A watch from now until `timeout`, going on from what `proto` read.
    pub(super) fn new(timeout: Duration, proto: Proto) -> State {
        let timeout_ns = timeout.as_nanos().min(u64::MAX as u128) as u64;
        State {
            deadline: monotonic_ns().saturating_add(timeout_ns),
            drain_until: u64::MAX,
            proto,
            out: [ring(), ring()],
            open: [true, true, true],
            stop: Stop::Exited,
            exited: false,
        }
    }

    /// How long to poll from `now`, in ms; `None` once draining is over.
    pub(super) fn wait_ms(&self, now: u64) -> Option<i32> {
        let until = if self.exited {
            self.drain_until.min(self.deadline)
        } else {
            self.deadline
        };
        if self.exited && now >= until {
            return None;
        }
        let ms = until.saturating_sub(now).div_ceil(1_000_000);
        Some(ms.min(i32::MAX as u64) as i32)
    }

    /// The child is gone (or killed, for `stop`); drain until `drain_until`.
    pub(super) fn ended(&mut self, stop: Option<Stop>, drain_until: u64) {
        if let Some(stop) = stop {
            self.stop = stop;
        }
        self.exited = true;
        self.drain_until = drain_until;
    }

    /// Reads pipe `i`; protocol words are decoded and stamped `arrived`.
    pub(super) fn read_pipe(&mut self, i: usize, fd: BorrowedFd<'_>, buf: &mut [u8], arrived: u64) {
        let n = match read_some(fd, buf) {
            Ok(0) | Err(_) => {
                self.open[i] = false;
                0
            }
            Ok(n) => n,
        };
        if i > 0 {
            if n > 0 {
                self.out[i - 1].push(&buf[..n]);
            }
            return;
        }
        self.proto.feed(&buf[..n], arrived);
    }

    pub(super) fn finish(self, child: &Child<'_>) -> Watched {
        let (status, reaped_at) = reap(child);
        Watched {
            events: self.proto.events,
            bad_words: self.proto.bad_words,
            stdout: kept(&self.out[0]),
            stderr: kept(&self.out[1]),
            dropped: Dropped {
                stdout_bytes: self.out[0].dropped(),
                stderr_bytes: self.out[1].dropped(),
                events: self.proto.dropped,
            },
            status,
            reaped_at,
            stop: self.stop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_across_reads_decode_once_whole() {
        let ready = Event::Ready.encode().to_le_bytes();
        let mut p = Proto::default();
        p.feed(&ready[..1], 1);
        assert!(p.events.is_empty(), "a partial word waits");
        p.feed(&ready[1..], 2);
        assert_eq!(p.events, [(Event::Ready, 2)]);
        let mut both = ready.to_vec();
        both.extend_from_slice(&u32::MAX.to_le_bytes());
        p.feed(&both[..6], 3);
        p.feed(&both[6..], 4);
        assert_eq!(p.events.len(), 2);
        assert_eq!(p.bad_words, [u32::MAX]);
        assert_eq!(p.dropped, 0);
    }
}
