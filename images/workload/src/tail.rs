//! A bounded byte tail for output a workload feeds to the host: the last
//! `capacity` bytes are kept in a ring, everything before them is counted
//! and dropped, so a workload that floods its console costs the host a
//! fixed amount of memory however long it runs. The ring lives in storage
//! the caller provides (a boxed slice on the host), so this needs no
//! allocator.

/// The default bound for console, stdout and stderr tails: 1 MiB.
pub const DEFAULT_CAP: usize = 1 << 20;

/// The last `storage.len()` bytes written, and how many came before them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail<B> {
    ring: B,
    /// Next write position.
    head: usize,
    /// Every byte ever pushed.
    total: u64,
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Tail<B> {
    /// An empty tail in `storage` (its length is the bound).
    pub fn new(storage: B) -> Tail<B> {
        Tail {
            ring: storage,
            head: 0,
            total: 0,
        }
    }

    fn cap(&self) -> usize {
        self.ring.as_ref().len()
    }

    /// Appends `bytes`, dropping the oldest beyond the bound.
    pub fn push(&mut self, bytes: &[u8]) {
        let cap = self.cap();
        self.total = self.total.saturating_add(bytes.len() as u64);
        if cap == 0 {
            return;
        }
        let bytes = &bytes[bytes.len().saturating_sub(cap)..];
        let first = bytes.len().min(cap - self.head);
        let ring = self.ring.as_mut();
        ring[self.head..self.head + first].copy_from_slice(&bytes[..first]);
        ring[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.head = (self.head + bytes.len()) % cap;
    }

    /// The kept bytes, oldest first, as two slices (either may be empty).
    pub fn chunks(&self) -> [&[u8]; 2] {
        let ring = self.ring.as_ref();
        if self.total < ring.len() as u64 {
            [&ring[..self.head], &[]]
        } else {
            [&ring[self.head..], &ring[..self.head]]
        }
    }

    /// Number of bytes kept.
    pub fn len(&self) -> usize {
        self.total.min(self.cap() as u64) as usize
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Every byte ever pushed.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes pushed but no longer kept.
    pub fn dropped(&self) -> u64 {
        self.total - self.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn kept<B: AsRef<[u8]> + AsMut<[u8]>>(t: &Tail<B>) -> Vec<u8> {
        t.chunks().concat()
    }

    #[test]
    fn small_output_is_kept_whole() {
        let mut t = Tail::new([0u8; 8]);
        t.push(b"abc");
        t.push(b"de");
        assert_eq!(kept(&t), b"abcde");
        assert_eq!(t.dropped(), 0);
        assert_eq!(t.total(), 5);
        assert_eq!(t.len(), 5);
    }

    #[test]
    fn a_flood_keeps_the_last_bytes_and_counts_the_rest() {
        let mut t = Tail::new([0u8; 4]);
        for i in 0..1000u32 {
            t.push(&[(i % 251) as u8]);
        }
        assert_eq!(kept(&t), [243, 244, 245, 246]);
        assert_eq!(t.dropped(), 996);
        t.push(b"0123456789");
        assert_eq!(kept(&t), b"6789");
        t.push(b"ab");
        assert_eq!(kept(&t), b"89ab");
        assert_eq!(t.total(), 1012);
        assert_eq!(t.dropped(), 1008);
    }

    #[test]
    fn an_empty_ring_only_counts() {
        let mut t = Tail::new([0u8; 0]);
        t.push(b"abc");
        assert_eq!(kept(&t), b"");
        assert_eq!(t.dropped(), 3);
    }
}
