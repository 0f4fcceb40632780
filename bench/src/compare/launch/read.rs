//! Reading the launcher's stdout and stderr, a bounded amount of each, and
//! noting when the workload's ready line first shows up.
use std::io::Read;
use std::process::Child;
use std::sync::mpsc;

use vmlab_workload::protocol::READY_LINE;
use vmlab_workload::tail::{Tail, DEFAULT_CAP};

use super::monotonic_ns;
use super::options::Stdout;

/// The ready line the workload prints.
const READY: &[u8] = READY_LINE.as_bytes();

/// What a reader kept of one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    /// The bytes kept (lossy UTF-8).
    pub text: String,
    /// Bytes read but not kept.
    pub dropped: u64,
    /// CLOCK_MONOTONIC when the ready line was first seen, ns.
    pub ready_at: Option<u64>,
}

/// Reads `r` to its end, keeping what `keep` says (a bounded amount,
/// whatever is written) and noting when [`READY`] first shows up.
pub fn read_bounded(mut r: impl Read, keep: Stdout) -> Kept {
    enum Store {
        Head(Vec<u8>, usize),
        Tail(Tail<Box<[u8]>>),
    }
    let mut store = match keep {
        Stdout::Json { cap } => Store::Head(Vec::new(), cap),
        Stdout::Console { cap } => Store::Tail(Tail::new(vec![0u8; cap].into_boxed_slice())),
    };
    let mut dropped = 0u64;
    let mut ready_at = None;
    let mut buf = vec![0u8; 64 << 10];
    // The end of the previous read, so a ready line split across reads is seen.
    let mut carry: Vec<u8> = Vec::with_capacity(2 * READY.len());
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let chunk = &buf[..n];
        if ready_at.is_none() {
            let keep = READY.len() - 1;
            carry.extend_from_slice(&chunk[..n.min(keep)]);
            let seen = contains(&carry, READY) || contains(chunk, READY);
            // The last `keep` bytes of everything read so far.
            if n >= keep {
                carry.clear();
                carry.extend_from_slice(&chunk[n - keep..]);
            } else {
                carry.drain(..carry.len().saturating_sub(keep));
            }
            if seen {
                ready_at = Some(monotonic_ns());
            }
        }
        match &mut store {
            Store::Head(v, cap) => {
                let room = cap.saturating_sub(v.len()).min(n);
                v.extend_from_slice(&chunk[..room]);
                dropped += (n - room) as u64;
            }
            Store::Tail(t) => t.push(chunk),
        }
    }
    let (text, dropped) = match store {
        Store::Head(v, _) => (String::from_utf8_lossy(&v).into_owned(), dropped),
        Store::Tail(t) => (
            String::from_utf8_lossy(&t.chunks().concat()).into_owned(),
            t.dropped(),
        ),
    };
    Kept {
        text,
        dropped,
        ready_at,
    }
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

type Output = mpsc::Receiver<Kept>;

/// Threads reading stdout (noting when the ready line arrives) and stderr,
/// each keeping a bounded amount.
pub(super) fn readers(child: &mut Child, keep: Stdout) -> (Output, Output) {
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            let _ = out_tx.send(read_bounded(out, keep));
        });
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            let _ = err_tx.send(read_bounded(err, Stdout::Console { cap: DEFAULT_CAP }));
        });
    }
    (out_rx, err_rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_console_keeps_its_tail_and_counts_the_rest() {
        let flood = vec![b'x'; 100_000];
        let mut input = b"boot {\"vmlab\":\"ready\"}\n".to_vec();
        input.extend_from_slice(&flood);
        input.extend_from_slice(b"\nthe end\n");
        let k = read_bounded(&input[..], Stdout::Console { cap: 1000 });
        assert_eq!(k.text.len(), 1000);
        assert!(k.text.ends_with("x\nthe end\n"), "{}", &k.text[990..]);
        assert_eq!(k.dropped, input.len() as u64 - 1000);
        assert!(k.ready_at.is_some());
        let small = read_bounded(&b"abc"[..], Stdout::Console { cap: 1000 });
        assert_eq!((small.text.as_str(), small.dropped), ("abc", 0));
        assert_eq!(small.ready_at, None);
    }

    #[test]
    fn json_keeps_its_head_and_counts_the_rest() {
        let input = vec![b'{'; 5000];
        let k = read_bounded(&input[..], Stdout::Json { cap: 4096 });
        assert_eq!((k.text.len(), k.dropped), (4096, 904));
        let k = read_bounded(&input[..4096], Stdout::Json { cap: 4096 });
        assert_eq!((k.text.len(), k.dropped), (4096, 0));
    }

    /// A reader that hands out its bytes a few at a time.
    struct Dribble<'a>(&'a [u8], usize);

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_ready_line_split_across_reads_is_seen() {
        let text = b"[ 0.1] x {\"vmlab\":\"ready\"}\r\n";
        for step in 1..text.len() {
            let k = read_bounded(Dribble(text, step), Stdout::Console { cap: 8 });
            assert!(k.ready_at.is_some(), "reads of {step}");
        }
        let k = read_bounded(Dribble(b"{\"vmlab\":\"rea", 3), Stdout::Console { cap: 8 });
        assert_eq!(k.ready_at, None);
    }
}
