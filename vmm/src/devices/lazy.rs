//! A zeroed byte buffer whose pages cost memory only once written: an
//! anonymous private mapping of its own, returned to the kernel when
//! dropped. A console tail of 1 MiB per VM then costs what the guest
//! printed (a held guest: one page), not the bound, and nothing stays in
//! an allocator's free lists after the VM is gone.
use std::ptr::NonNull;

/// A zeroed, lazily backed buffer of a fixed length.
pub(crate) struct LazyBuf {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone (no aliasing pointer
// exists outside it), so moving it to another thread is sound.
unsafe impl Send for LazyBuf {}

impl LazyBuf {
    /// A buffer of `len` zero bytes; `None` when the mapping fails (or `len`
    /// is 0, which needs no mapping: use an empty slice).
    pub(crate) fn new(len: usize) -> Option<LazyBuf> {
        if len == 0 {
            return None;
        }
        // SAFETY: a fresh anonymous private mapping at an address the kernel
        // picks overlaps nothing the process owns; the result is checked.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        NonNull::new(p.cast()).map(|ptr| LazyBuf { ptr, len })
    }
}

impl AsRef<[u8]> for LazyBuf {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes, zero-initialised by
        // the kernel, alive while `self` is, and only reachable through it.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl AsMut<[u8]> for LazyBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_ref`, and `&mut self` makes this the only borrow.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for LazyBuf {
    fn drop(&mut self) {
        // SAFETY: the mapping was created in `new` with this length and is
        // unmapped only here; no borrow of it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroed_writable_and_sized() {
        let mut b = LazyBuf::new(1 << 20).unwrap();
        assert_eq!(b.as_ref().len(), 1 << 20);
        assert!(b.as_ref().iter().step_by(4096).all(|&x| x == 0));
        b.as_mut()[12345] = 7;
        assert_eq!(b.as_ref()[12345], 7);
        assert!(LazyBuf::new(0).is_none());
    }
}
