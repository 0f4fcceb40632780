//! Headless Chromium for the browser tests: finding it, running it with a
//! deadline, its console errors, and just enough PNG decoding to look at a
//! screenshot.
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// True when a missing browser must fail the test (`VMLAB_REQUIRE_BROWSER=1`
/// or `CI=true`) instead of skipping it.
pub fn required() -> bool {
    std::env::var("VMLAB_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

pub fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VMLAB_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser", "google-chrome"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// Runs chromium headless with `extra` arguments, killing it after a minute.
pub fn chromium(bin: &Path, profile: &Path, extra: &[String]) -> Output {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    // Drain both pipes in threads so a chatty browser cannot block.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for chromium") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    }
}

pub fn console_errors(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| {
            l.contains("Uncaught")
                || l.contains("ERROR:CONSOLE")
                || (l.contains("CONSOLE") && l.contains("rror"))
        })
        .map(str::to_string)
        .collect()
}

/// Just enough PNG decoding for 8-bit RGB/RGBA screenshots.
pub mod png {
    use std::io::Read;

    pub struct Image {
        pub width: usize,
        pub height: usize,
        /// RGB triples, row by row.
        pub rgb: Vec<[u8; 3]>,
    }

    impl Image {
        pub fn distinct_colours(&self) -> usize {
            let mut v: Vec<u32> = self
                .rgb
                .iter()
                .map(|p| u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]))
                .collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        }

        pub fn count_near(&self, c: [u8; 3]) -> usize {
            self.rgb
                .iter()
                .filter(|p| (0..3).all(|i| p[i].abs_diff(c[i]) <= 12))
                .count()
        }
    }

    pub fn decode(data: &[u8]) -> Image {
        assert_eq!(&data[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
        let mut pos = 8;
        let (mut width, mut height, mut channels) = (0usize, 0usize, 0usize);
        let mut idat = Vec::new();
        while pos + 8 <= data.len() {
            let len = u32::from_be_bytes(data[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &data[pos + 4..pos + 8];
            let body = &data[pos + 8..pos + 8 + len];
            match kind {
                b"IHDR" => {
                    width = u32::from_be_bytes(body[0..4].try_into().unwrap()) as usize;
                    height = u32::from_be_bytes(body[4..8].try_into().unwrap()) as usize;
                    assert_eq!(body[8], 8, "bit depth");
                    assert_eq!(body[12], 0, "interlaced PNG");
                    channels = match body[9] {
                        2 => 3,
                        6 => 4,
                        t => panic!("PNG colour type {t} not handled"),
                    };
                }
                b"IDAT" => idat.extend_from_slice(body),
                b"IEND" => break,
                _ => {}
            }
            pos += 12 + len;
        }
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&idat[..])
            .read_to_end(&mut raw)
            .expect("inflate");
        let stride = width * channels;
        assert_eq!(raw.len(), height * (stride + 1), "PNG data size");
        let mut prev = vec![0u8; stride];
        let mut rgb = Vec::with_capacity(width * height);
        for row in raw.chunks(stride + 1) {
            let filter = row[0];
            let mut cur = row[1..].to_vec();
            for i in 0..stride {
                let a = if i >= channels { cur[i - channels] } else { 0 };
                let b = prev[i];
                let c = if i >= channels { prev[i - channels] } else { 0 };
                let pred = match filter {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => ((u16::from(a) + u16::from(b)) / 2) as u8,
                    4 => paeth(a, b, c),
                    f => panic!("PNG filter {f}"),
                };
                cur[i] = cur[i].wrapping_add(pred);
            }
            rgb.extend(cur.chunks(channels).map(|p| [p[0], p[1], p[2]]));
            prev = cur;
        }
        Image { width, height, rgb }
    }

    fn paeth(a: u8, b: u8, c: u8) -> u8 {
        let p = i16::from(a) + i16::from(b) - i16::from(c);
        let (pa, pb, pc) = (
            (p - i16::from(a)).abs(),
            (p - i16::from(b)).abs(),
            (p - i16::from(c)).abs(),
        );
        if pa <= pb && pa <= pc {
            a
        } else if pb <= pc {
            b
        } else {
            c
        }
    }
}
