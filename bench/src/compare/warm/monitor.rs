//! QEMU's human monitor (HMP) on a Unix socket: one command at a time, its
//! answer read up to the next `(qemu) ` prompt (bounded).
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

/// The prompt that ends every answer.
const PROMPT: &[u8] = b"(qemu) ";
/// Most bytes of one answer kept.
const ANSWER_CAP: usize = 64 << 10;

/// A connected monitor.
pub struct Monitor {
    stream: UnixStream,
}

impl Monitor {
    /// Connects to the socket at `path` (QEMU creates it as it starts: tried
    /// until `limit`), and reads the greeting.
    pub fn connect(path: &Path, limit: Duration) -> anyhow::Result<Monitor> {
        let deadline = Instant::now() + limit;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("QEMU's monitor at {} did not answer", path.display())
                    })
                }
            }
        };
        stream.set_read_timeout(Some(limit))?;
        let mut m = Monitor { stream };
        m.answer()?;
        Ok(m)
    }

    /// Reads up to the next prompt.
    fn answer(&mut self) -> anyhow::Result<String> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.ends_with(PROMPT) {
            let n = self
                .stream
                .read(&mut chunk)
                .context("reading QEMU's monitor")?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > ANSWER_CAP {
                anyhow::bail!("QEMU's monitor answered more than {ANSWER_CAP} bytes");
            }
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Sends `line` and returns the answer.
    pub fn command(&mut self, line: &str) -> anyhow::Result<String> {
        writeln!(self.stream, "{line}").context("writing to QEMU's monitor")?;
        self.answer()
    }

    /// Sends `quit` (QEMU closes the socket as it ends).
    pub fn quit(mut self) {
        let _ = writeln!(self.stream, "quit");
        let mut rest = Vec::new();
        let _ = self.stream.read_to_end(&mut rest);
    }
}
