//! System calls made directly, without libc's `errno`.
//!
//! The child shares the parent's memory until `execve` (see
//! [`crate::clone`]), and with it the parent thread's thread-local `errno`:
//! every call the child makes returns its error in the result instead.
use nix::errno::Errno;

/// `syscall` with up to six arguments; `Err` for the kernel's -4095..-1.
///
/// # Safety
/// The arguments must be valid for system call `nr` (pointers to live,
/// correctly sized memory).
pub unsafe fn call(nr: i64, args: [usize; 6]) -> Result<usize, Errno> {
    let ret: isize;
    // SAFETY: the `syscall` instruction clobbers rcx and r11 only; the
    // caller vouches for the arguments.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// [`call`] with fewer arguments.
macro_rules! sys {
    ($nr:expr) => { $crate::sys::raw::call($nr, [0; 6]) };
    ($nr:expr, $a:expr) => { $crate::sys::raw::call($nr, [$a as usize, 0, 0, 0, 0, 0]) };
    ($nr:expr, $a:expr, $b:expr) => { $crate::sys::raw::call($nr, [$a as usize, $b as usize, 0, 0, 0, 0]) };
    ($nr:expr, $a:expr, $b:expr, $c:expr) => {
        $crate::sys::raw::call($nr, [$a as usize, $b as usize, $c as usize, 0, 0, 0])
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr) => {
        $crate::sys::raw::call($nr, [$a as usize, $b as usize, $c as usize, $d as usize, 0, 0])
    };
    ($nr:expr, $a:expr, $b:expr, $c:expr, $d:expr, $e:expr) => {
        $crate::sys::raw::call($nr, [$a as usize, $b as usize, $c as usize, $d as usize, $e as usize, 0])
    };
}
pub(crate) use sys;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_come_back_without_errno() {
        // SAFETY: close of an fd number that is not open.
        let r = unsafe { sys!(libc::SYS_close, 100_000) };
        assert_eq!(r, Err(Errno::EBADF));
        // SAFETY: getpid takes no arguments.
        let pid = unsafe { sys!(libc::SYS_getpid) }.unwrap();
        assert_eq!(pid as u32, std::process::id());
    }
}
