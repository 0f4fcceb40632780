//! The leaf with the raw accesses: virtio-mmio registers (volatile 32-bit
//! loads and stores) and guest memory the drivers own (identity mapped, so
//! an address is both the pointer and what the device is told).

/// Register offsets (virtio 1.x, MMIO version 2).
pub const MAGIC: usize = 0x000;
pub const VERSION: usize = 0x004;
pub const DEVICE_ID: usize = 0x008;
pub const DEVICE_FEATURES: usize = 0x010;
pub const DEVICE_FEATURES_SEL: usize = 0x014;
pub const DRIVER_FEATURES: usize = 0x020;
pub const DRIVER_FEATURES_SEL: usize = 0x024;
pub const QUEUE_SEL: usize = 0x030;
pub const QUEUE_NUM_MAX: usize = 0x034;
pub const QUEUE_NUM: usize = 0x038;
pub const QUEUE_READY: usize = 0x044;
pub const QUEUE_NOTIFY: usize = 0x050;
pub const STATUS: usize = 0x070;
pub const QUEUE_DESC_LOW: usize = 0x080;
pub const QUEUE_DESC_HIGH: usize = 0x084;
pub const QUEUE_AVAIL_LOW: usize = 0x090;
pub const QUEUE_AVAIL_HIGH: usize = 0x094;
pub const QUEUE_USED_LOW: usize = 0x0a0;
pub const QUEUE_USED_HIGH: usize = 0x0a4;
pub const CONFIG: usize = 0x100;

/// One device's register page.
pub struct Regs {
    base: usize,
}

impl Regs {
    /// The registers at `base`.
    ///
    /// # Safety
    /// `base` must be a virtio-mmio register page the VMM announced, mapped
    /// uncached, and used by nothing else.
    pub unsafe fn new(base: u64) -> Regs {
        Regs {
            base: base as usize,
        }
    }

    /// Reads the 32-bit register at `off`.
    pub fn read(&self, off: usize) -> u32 {
        // SAFETY: `base` is a register page (see `new`) and `off` one of the
        // offsets above or inside its config space; reads have no effect on
        // guest memory.
        unsafe { core::ptr::read_volatile((self.base + off) as *const u32) }
    }

    /// Reads a byte of configuration space.
    pub fn config_byte(&self, off: usize) -> u8 {
        // SAFETY: as for `read`.
        unsafe { core::ptr::read_volatile((self.base + CONFIG + off) as *const u8) }
    }

    /// Writes the 32-bit register at `off`.
    pub fn write(&self, off: usize, v: u32) {
        // The device reads descriptors from memory on a notify: earlier
        // stores first.
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile((self.base + off) as *mut u32, v) }
    }
}

/// Guest memory a driver owns: `pages` pages at `base`.
#[derive(Clone, Copy)]
pub struct Dma {
    pub base: u64,
    pub len: u64,
}

impl Dma {
    /// Writes `v` at byte `off`.
    pub fn put<T: Copy>(&self, off: u64, v: T) {
        assert!(off + core::mem::size_of::<T>() as u64 <= self.len);
        // SAFETY: [base, base+len) is identity-mapped RAM this driver alone
        // owns (carved from the boot info's free range before the platform
        // was made); the bound is checked above. Volatile: the device reads it.
        unsafe { core::ptr::write_volatile((self.base + off) as *mut T, v) }
    }

    /// Reads a `T` at byte `off`.
    pub fn get<T: Copy>(&self, off: u64) -> T {
        assert!(off + core::mem::size_of::<T>() as u64 <= self.len);
        // SAFETY: as for `put`; volatile: the device writes it.
        unsafe { core::ptr::read_volatile((self.base + off) as *const T) }
    }

    /// Copies `src` in at byte `off`.
    pub fn copy_in(&self, off: u64, src: &[u8]) {
        assert!(off + src.len() as u64 <= self.len);
        // SAFETY: as for `put`; `src` is a live slice that cannot overlap
        // memory only this driver owns.
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr(), (self.base + off) as *mut u8, src.len())
        }
    }

    /// Copies out to `dst` from byte `off`.
    pub fn copy_out(&self, off: u64, dst: &mut [u8]) {
        assert!(off + dst.len() as u64 <= self.len);
        // SAFETY: as for `copy_in`.
        unsafe {
            core::ptr::copy_nonoverlapping(
                (self.base + off) as *const u8,
                dst.as_mut_ptr(),
                dst.len(),
            )
        }
    }
}

/// The guest-physical address of a buffer (the guest is identity mapped).
pub fn gpa(p: *const u8) -> u64 {
    p as u64
}

impl Dma {
    /// Zeroes the whole region.
    pub fn zero(&self) {
        // SAFETY: as for `put`: [base, base+len) is RAM this driver owns.
        unsafe { core::ptr::write_bytes(self.base as *mut u8, 0, self.len as usize) }
    }
}
