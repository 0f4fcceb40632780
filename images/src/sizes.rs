//! Sizes of the artifacts: uncompressed, gzip, zstd, on disk, file count.
//!
//! - uncompressed: the bytes of the file, or the sum of the regular files'
//!   (and symlink targets') bytes of a directory or set of files;
//! - gzip / zstd: the bytes after compressing the file, or a reproducible
//!   tar stream of the directory or set, at the command-line tools' default
//!   levels (gzip 6, zstd 3);
//! - on disk: allocated blocks (`st_blocks * 512`, each inode counted once);
//! - files: entries that are not directories.
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::manifest::{self, Manifest};

/// Measuring an artifact failed.
#[derive(Debug, thiserror::Error)]
pub enum SizesError {
    /// A file or directory could not be read.
    #[error("cannot measure {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The sizes of one artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    /// Artifact name.
    pub name: String,
    /// What was measured.
    pub paths: Vec<PathBuf>,
    /// Bytes, uncompressed.
    pub uncompressed: u64,
    /// Bytes after gzip -6.
    pub gzip: u64,
    /// Bytes after zstd -3.
    pub zstd: u64,
    /// Allocated bytes on disk.
    pub on_disk: u64,
    /// Non-directory entries.
    pub files: u64,
}

/// Measures `paths` (files or directories) as one artifact called `name`.
pub fn measure(name: &str, paths: &[PathBuf]) -> Result<Size, SizesError> {
    let mut walk = Walk::default();
    for path in paths {
        walk.visit(path, path)?;
    }
    let single_file = paths.len() == 1 && walk.entries.len() == 1 && walk.files == 1;
    let (gzip, zstd) = std::thread::scope(|s| {
        let gz = s.spawn(|| {
            let mut enc = flate2::write::GzEncoder::new(Counter(0), flate2::Compression::new(6));
            walk.stream(single_file, &mut enc)?;
            Ok::<u64, SizesError>(enc.finish().map_err(write_err)?.0)
        });
        let zs = s.spawn(|| {
            let mut enc = zstd::stream::write::Encoder::new(Counter(0), 3).map_err(write_err)?;
            walk.stream(single_file, &mut enc)?;
            Ok::<u64, SizesError>(enc.finish().map_err(write_err)?.0)
        });
        (
            gz.join().expect("the gzip thread does not panic"),
            zs.join().expect("the zstd thread does not panic"),
        )
    });
    Ok(Size {
        name: name.to_string(),
        paths: paths.to_vec(),
        uncompressed: walk.bytes,
        gzip: gzip?,
        zstd: zstd?,
        on_disk: walk.on_disk,
        files: walk.files,
    })
}

/// Measures every artifact the manifest of `dir` lists, kernel included.
pub fn of_build(dir: &Path, manifest: &Manifest) -> Result<Vec<Size>, SizesError> {
    let mut items: Vec<(String, Vec<PathBuf>)> = vec![
        (
            manifest::WORKLOAD.into(),
            vec![dir.join(&manifest.workload.path)],
        ),
        (manifest::GUEST.into(), vec![dir.join(&manifest.guest.path)]),
        (
            format!("{}/", manifest::ROOTFS),
            vec![dir.join(&manifest.rootfs)],
        ),
        (
            manifest::INITRAMFS.into(),
            vec![dir.join(&manifest.initramfs.path)],
        ),
        (
            manifest::INITRAMFS_GZ.into(),
            vec![dir.join(&manifest.initramfs_gz.path)],
        ),
        (
            format!("{}/ (OCI layout)", manifest::OCI),
            vec![dir.join(&manifest.oci)],
        ),
        (
            format!("{}/ (OCI bundle)", manifest::BUNDLE),
            vec![dir.join(&manifest.bundle)],
        ),
    ];
    if let Some(kernel) = &manifest.kernel {
        if let Some(bz) = &kernel.bzimage {
            items.push(("kernel bzImage".into(), vec![bz.path.clone()]));
        }
        items.push(("kernel vmlinux".into(), vec![kernel.vmlinux.path.clone()]));
        let boot = kernel.bzimage.as_ref().unwrap_or(&kernel.vmlinux);
        items.push((
            "vm image (kernel + initramfs.cpio.gz)".into(),
            vec![boot.path.clone(), dir.join(&manifest.initramfs_gz.path)],
        ));
    }
    items
        .iter()
        .map(|(name, paths)| measure(name, paths))
        .collect()
}

/// The sizes as an aligned text table with binary units.
pub fn table(sizes: &[Size]) -> String {
    let header = [
        "artifact",
        "uncompressed",
        "gzip",
        "zstd",
        "on disk",
        "files",
    ];
    let rows: Vec<[String; 6]> = sizes
        .iter()
        .map(|s| {
            [
                s.name.clone(),
                human(s.uncompressed),
                human(s.gzip),
                human(s.zstd),
                human(s.on_disk),
                s.files.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[&str]| {
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                out.push_str(&format!("{cell:<w$}"));
            } else {
                out.push_str(&format!("  {cell:>w$}"));
            }
        }
        out.push('\n');
    };
    line(&header);
    for row in &rows {
        line(&row.each_ref().map(String::as_str));
    }
    out
}

/// `123 B`, `4.5 KiB`, `12.3 MiB`, `1.2 GiB` (binary units, one decimal
/// where it is not zero).
pub fn human(bytes: u64) -> String {
    humansize::format_size(bytes, humansize::BINARY.decimal_places(1))
}

/// Counts bytes written.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn write_err(source: io::Error) -> SizesError {
    SizesError::Read {
        path: PathBuf::from("<compressor>"),
        source,
    }
}

/// Every entry under the measured paths, sorted, with running totals.
#[derive(Default)]
struct Walk {
    /// (path on disk, name in the tar stream).
    entries: Vec<(PathBuf, PathBuf)>,
    inodes: HashSet<(u64, u64)>,
    bytes: u64,
    on_disk: u64,
    files: u64,
}

impl Walk {
    fn visit(&mut self, path: &Path, top: &Path) -> Result<(), SizesError> {
        let err = |source| SizesError::Read {
            path: path.to_path_buf(),
            source,
        };
        let meta = fs::symlink_metadata(path).map_err(err)?;
        if self.inodes.insert((meta.dev(), meta.ino())) {
            self.on_disk += meta.blocks() * 512;
        }
        let base = top.parent().unwrap_or(Path::new(""));
        let name = path.strip_prefix(base).unwrap_or(path).to_path_buf();
        self.entries.push((path.to_path_buf(), name));
        if meta.is_dir() {
            let mut children: Vec<PathBuf> = fs::read_dir(path)
                .map_err(err)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(err)?;
            children.sort();
            for child in children {
                self.visit(&child, top)?;
            }
        } else {
            self.files += 1;
            self.bytes += meta.len();
        }
        Ok(())
    }

    /// Writes the bytes to compress: the file itself, or a tar stream.
    fn stream(&self, single_file: bool, out: &mut impl Write) -> Result<(), SizesError> {
        if single_file {
            let path = &self.entries[0].0;
            let err = |source| SizesError::Read {
                path: path.clone(),
                source,
            };
            let mut file = File::open(path).map_err(err)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = file.read(&mut buf).map_err(err)?;
                if n == 0 {
                    return Ok(());
                }
                out.write_all(&buf[..n]).map_err(write_err)?;
            }
        }
        let mut builder = tar::Builder::new(out);
        builder.mode(tar::HeaderMode::Deterministic);
        builder.follow_symlinks(false);
        for (path, name) in &self.entries {
            builder
                .append_path_with_name(path, name)
                .map_err(|source| SizesError::Read {
                    path: path.clone(),
                    source,
                })?;
        }
        builder.finish().map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(14_186_432), "13.5 MiB");
        assert_eq!(human(3 << 30), "3 GiB");
    }

    #[test]
    fn measures_a_file_and_a_directory() {
        let dir = std::env::temp_dir().join(format!("vmlab-sizes-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("a"), vec![b'a'; 10_000]).unwrap();
        fs::write(dir.join("sub/b"), b"hello").unwrap();
        std::os::unix::fs::symlink("a", dir.join("link")).unwrap();

        let file = measure("a", &[dir.join("a")]).unwrap();
        assert_eq!((file.uncompressed, file.files), (10_000, 1));
        assert!(file.gzip < 200 && file.zstd < 200, "{file:?}");
        assert!(file.on_disk >= 4096);

        let all = measure("dir", std::slice::from_ref(&dir)).unwrap();
        assert_eq!(all.files, 3);
        assert_eq!(all.uncompressed, 10_000 + 5 + 1);
        assert!(all.on_disk > file.on_disk);
        let text = table(&[file, all]);
        assert_eq!(text.lines().count(), 3);
        let widths: Vec<usize> = text.lines().map(str::len).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{text}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
