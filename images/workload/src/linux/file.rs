//! `file`: write a 4 KiB block, fsync, read it back, on a file in `$TMPDIR`
//! (default `/tmp`, a tmpfs under PID 1). The file is removed afterwards.
use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

use vmlab_workload::measure::measure;
use vmlab_workload::{Failure, Kernel, Measurement, Spec};

use super::platform::Mono;

/// Bytes written and read per iteration.
pub const BLOCK: usize = 4096;

/// A temporary file, removed on drop.
struct TempFile {
    path: PathBuf,
    file: File,
}

impl TempFile {
    /// Creates a new file of our own in the temporary directory (never an
    /// existing file or a symlink someone planted).
    fn create() -> io::Result<TempFile> {
        let dir = std::env::temp_dir();
        let mut attempt = 0;
        loop {
            let path = dir.join(format!("vmlab-workload-{}-{attempt}", std::process::id()));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
            {
                Ok(file) => return Ok(TempFile { path, file }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs the kernel for the spec's time budget.
pub fn run(spec: &Spec, report: &mut dyn FnMut(&Measurement)) -> Result<(), Failure> {
    let tmp = TempFile::create()
        .map_err(|e| failure!("file: cannot create a file in {e}; set TMPDIR"))?;
    let block = [0xa5u8; BLOCK];
    let mut back = [0u8; BLOCK];
    let clock = Mono::new();
    let timing = measure(&clock, spec.time_ns, |n| {
        for _ in 0..n {
            tmp.file
                .write_all_at(black_box(&block), 0)
                .and_then(|()| tmp.file.sync_all())
                .and_then(|()| tmp.file.read_exact_at(&mut back, 0))
                .map_err(|e| failure!("file: write/fsync/read failed: {e}"))?;
            black_box(&back);
        }
        Ok(n)
    })?;
    if back != block {
        return Err(failure!("file: read back different data than written"));
    }
    report(&Measurement {
        bytes_per_iter: 2 * BLOCK as u64,
        size: Some(BLOCK as u64),
        ..Measurement::new(Kernel::File, timing)
    });
    Ok(())
}
