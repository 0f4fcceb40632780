//! The record the child sends the parent over the status pipe.
use nix::errno::Errno;

use super::{Failure, Step};

/// The record the child sends the parent: each step's end time (0 if not
/// run) and, on failure, the step and error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// `CLOCK_MONOTONIC` ns at the end of each step, by `Step as usize`.
    pub times: [u64; Step::COUNT],
    /// The failed step, if any.
    pub failure: Option<Failure>,
}

/// Bytes of an encoded [`Status`].
pub const STATUS_LEN: usize = 8 + 8 * Step::COUNT;

impl Status {
    /// No step run yet.
    pub fn new() -> Status {
        Status {
            times: [0; Step::COUNT],
            failure: None,
        }
    }

    /// Little-endian encoding: failed step + 1 (0 = none), errno, times.
    pub fn encode(&self) -> [u8; STATUS_LEN] {
        let mut b = [0u8; STATUS_LEN];
        let (step, errno) = match self.failure {
            Some(f) => (f.step as u32 + 1, f.errno as i32),
            None => (0, 0),
        };
        b[0..4].copy_from_slice(&step.to_le_bytes());
        b[4..8].copy_from_slice(&errno.to_le_bytes());
        for (i, t) in self.times.iter().enumerate() {
            b[8 + 8 * i..16 + 8 * i].copy_from_slice(&t.to_le_bytes());
        }
        b
    }

    /// Decodes [`Status::encode`]'s output; `None` if malformed.
    pub fn decode(b: &[u8]) -> Option<Status> {
        if b.len() != STATUS_LEN {
            return None;
        }
        let word = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        let step = word(0);
        let failure = match step {
            0 => None,
            n => Some(Failure {
                step: Step::from_index(n - 1)?,
                errno: Errno::from_raw(word(4) as i32),
            }),
        };
        let mut times = [0u64; Step::COUNT];
        for (i, t) in times.iter_mut().enumerate() {
            *t = u64::from_le_bytes(b[8 + 8 * i..16 + 8 * i].try_into().unwrap_or_default());
        }
        Some(Status { times, failure })
    }
}

impl Default for Status {
    fn default() -> Self {
        Status::new()
    }
}
