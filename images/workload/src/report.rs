//! Results as JSON lines on the console.
//!
//! Every line starts with [`LINE_PREFIX`] so a
//! host can pick the lines out of other console output:
//!
//! ```text
//! {"vmlab":"ready"}
//! {"vmlab":"result","kernel":"cpu","iters":N,"total_ns":T,"ns_per_iter":X,"bytes":B,"mib_per_s":R}
//! {"vmlab":"result","kernel":"spawn","mode":"fork",...}
//! {"vmlab":"result","kernel":"net-rr",...,"p50_ns":P,"p99_ns":Q}
//! {"vmlab":"error","kernel":"tcp","message":"..."}
//! {"vmlab":"exit","code":N}
//! ```
//!
//! In a result, `bytes` is the total processed over all iterations (0 for
//! kernels without a data volume), `ns_per_iter` has three decimals,
//! `mib_per_s` appears when `bytes` is non-zero, `size` is the working set
//! when the kernel has one, and `mode` tells apart the variants of one
//! kernel; `p50_ns` and `p99_ns` (per-iteration latency percentiles)
//! appear for kernels that time each iteration (`net-rr`, `blk-rand`). Numbers are computed with integers only: the bare guest may run
//! without floating point set up.
use core::fmt::{self, Write};

use crate::kernel::Kernel;
use crate::latency::Latency;
use crate::measure::Timing;
use crate::protocol::{LINE_PREFIX, READY_LINE};

/// One kernel's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measurement {
    /// The kernel measured.
    pub kernel: Kernel,
    /// The variant, for kernels with several (`spawn`: `fork`, `exec`).
    pub mode: Option<&'static str>,
    /// Iterations and their time.
    pub timing: Timing,
    /// Bytes processed per iteration (0 if the kernel moves no data).
    pub bytes_per_iter: u64,
    /// Working-set size in bytes, if the kernel has one.
    pub size: Option<u64>,
    /// Per-iteration latency percentiles, for kernels that time each one.
    pub latency: Option<Latency>,
}

impl Measurement {
    /// A measurement of `kernel` with no data volume, mode or size.
    pub const fn new(kernel: Kernel, timing: Timing) -> Measurement {
        Measurement {
            kernel,
            mode: None,
            timing,
            bytes_per_iter: 0,
            size: None,
            latency: None,
        }
    }

    /// Total bytes processed.
    pub const fn bytes(&self) -> u64 {
        self.bytes_per_iter.saturating_mul(self.timing.iters)
    }
}

/// Why a kernel could not run: a message of up to [`Failure::CAPACITY`]
/// bytes, built without an allocator.
#[derive(Clone, Copy)]
pub struct Failure {
    buf: [u8; Failure::CAPACITY],
    len: u8,
}

impl Failure {
    /// Longest message kept; longer ones are cut at a character boundary.
    pub const CAPACITY: usize = 126;

    /// A failure with a formatted message (`format_args!`).
    pub fn new(message: fmt::Arguments<'_>) -> Failure {
        let mut f = Failure {
            buf: [0; Failure::CAPACITY],
            len: 0,
        };
        // Truncation is the only "error" and it is wanted.
        let _ = f.write_fmt(message);
        f
    }

    /// The failure of a kernel this platform does not have.
    pub fn unsupported(kernel: Kernel) -> Failure {
        Failure::new(format_args!(
            "kernel `{kernel}` is not supported on this platform (it needs Linux)"
        ))
    }

    /// The message.
    pub fn message(&self) -> &str {
        // `write_str` only ever appends whole UTF-8 characters.
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Write for Failure {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let len = usize::from(self.len);
        let room = Failure::CAPACITY - len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[len..len + take].copy_from_slice(&s.as_bytes()[..take]);
        // At most CAPACITY, which fits in a u8.
        self.len = (len + take) as u8;
        Ok(())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Failure").field(&self.message()).finish()
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Failure) -> bool {
        self.message() == other.message()
    }
}

impl Eq for Failure {}

impl core::error::Error for Failure {}

/// Writes what it is given as the inside of a JSON string.
struct Escaped<'a, W: Write + ?Sized>(&'a mut W);

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if (c as u32) < 0x20 || c == '\u{7f}' => "",
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escape.is_empty() {
                self.0.write_str("\\u")?;
                for shift in [12, 8, 4, 0] {
                    let d = (c as u32 >> shift) & 0xf;
                    self.0.write_char(char::from_digit(d, 16).unwrap_or('0'))?;
                }
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + c.len_utf8();
        }
        self.0.write_str(&s[plain..])
    }
}

/// Writes `"` + `value` escaped + `"`.
fn string<W: Write + ?Sized>(out: &mut W, value: &dyn fmt::Display) -> fmt::Result {
    out.write_char('"')?;
    write!(Escaped(out), "{value}")?;
    out.write_char('"')
}

/// Writes `v` in decimal. Numbers never go through core's integer
/// formatting: its precompiled code uses SSE (`movd`, `pinsrw`) for five
/// digits and more, which software nested KVM's instruction emulator cannot
/// run in the bare guest.
pub fn uint<W: Write + ?Sized>(out: &mut W, mut v: u128) -> fmt::Result {
    let mut digits = [0u8; 39];
    let mut n = 0;
    loop {
        digits[n] = (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in digits[..n].iter().rev() {
        out.write_char(char::from(b'0' + d))?;
    }
    Ok(())
}

/// Writes `num / den` with three decimals (`den` > 0).
fn decimal<W: Write + ?Sized>(out: &mut W, num: u128, den: u128) -> fmt::Result {
    let milli = (num * 1000 + den / 2) / den;
    uint(out, milli / 1000)?;
    out.write_char('.')?;
    let frac = (milli % 1000) as u32;
    for d in [frac / 100, frac / 10 % 10, frac % 10] {
        out.write_char(char::from_digit(d, 10).unwrap_or('0'))?;
    }
    Ok(())
}

/// `{"vmlab":"ready"}`
pub fn ready<W: Write + ?Sized>(out: &mut W) -> fmt::Result {
    writeln!(out, "{READY_LINE}")
}

/// `{"vmlab":"result",...}` for one measurement.
pub fn result<W: Write + ?Sized>(out: &mut W, m: &Measurement) -> fmt::Result {
    write!(out, "{LINE_PREFIX}\"result\",\"kernel\":")?;
    string(out, &m.kernel)?;
    if let Some(mode) = m.mode {
        out.write_str(",\"mode\":")?;
        string(out, &mode)?;
    }
    let Timing { iters, total_ns } = m.timing;
    out.write_str(",\"iters\":")?;
    uint(out, iters.into())?;
    out.write_str(",\"total_ns\":")?;
    uint(out, total_ns.into())?;
    out.write_str(",\"ns_per_iter\":")?;
    decimal(out, total_ns as u128, iters.max(1) as u128)?;
    let bytes = m.bytes();
    out.write_str(",\"bytes\":")?;
    uint(out, bytes.into())?;
    if bytes > 0 {
        out.write_str(",\"mib_per_s\":")?;
        decimal(
            out,
            bytes as u128 * 1_000_000_000,
            (total_ns.max(1) as u128) << 20,
        )?;
    }
    if let Some(size) = m.size {
        out.write_str(",\"size\":")?;
        uint(out, size.into())?;
    }
    if let Some(Latency { p50_ns, p99_ns }) = m.latency {
        out.write_str(",\"p50_ns\":")?;
        uint(out, p50_ns.into())?;
        out.write_str(",\"p99_ns\":")?;
        uint(out, p99_ns.into())?;
    }
    out.write_str("}\n")
}

/// `{"vmlab":"error","kernel":...,"message":...}`; `kernel` is left out for
/// errors that belong to no kernel (e.g. bad arguments).
pub fn error<W: Write + ?Sized>(
    out: &mut W,
    kernel: Option<Kernel>,
    message: &dyn fmt::Display,
) -> fmt::Result {
    write!(out, "{LINE_PREFIX}\"error\"")?;
    if let Some(k) = kernel {
        out.write_str(",\"kernel\":")?;
        string(out, &k)?;
    }
    out.write_str(",\"message\":")?;
    string(out, message)?;
    out.write_str("}\n")
}

/// `{"vmlab":"exit","code":N}`
pub fn exit<W: Write + ?Sized>(out: &mut W, code: u8) -> fmt::Result {
    write!(out, "{LINE_PREFIX}\"exit\",\"code\":")?;
    uint(out, code.into())?;
    out.write_str("}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn result_line() {
        let mut s = String::new();
        let m = Measurement {
            kernel: Kernel::Memory,
            mode: None,
            timing: Timing {
                iters: 3,
                total_ns: 1_000,
            },
            bytes_per_iter: 1 << 20,
            size: Some(16 << 20),
            latency: None,
        };
        result(&mut s, &m).unwrap();
        assert_eq!(
            s,
            "{\"vmlab\":\"result\",\"kernel\":\"memory\",\"iters\":3,\"total_ns\":1000,\
             \"ns_per_iter\":333.333,\"bytes\":3145728,\"mib_per_s\":3000000.000,\
             \"size\":16777216}\n"
        );
        s.clear();
        let mut m = Measurement::new(
            Kernel::Spawn,
            Timing {
                iters: 2,
                total_ns: 3,
            },
        );
        m.mode = Some("exec");
        result(&mut s, &m).unwrap();
        assert_eq!(
            s,
            "{\"vmlab\":\"result\",\"kernel\":\"spawn\",\"mode\":\"exec\",\"iters\":2,\
             \"total_ns\":3,\"ns_per_iter\":1.500,\"bytes\":0}\n"
        );
        s.clear();
        m.latency = Some(Latency {
            p50_ns: 1,
            p99_ns: 2,
        });
        result(&mut s, &m).unwrap();
        assert!(
            s.ends_with(",\"bytes\":0,\"p50_ns\":1,\"p99_ns\":2}\n"),
            "{s}"
        );
    }

    #[test]
    fn other_lines() {
        let mut s = String::new();
        ready(&mut s).unwrap();
        exit(&mut s, 7).unwrap();
        error(&mut s, Some(Kernel::Tcp), &"no loopback").unwrap();
        error(&mut s, None, &"bad").unwrap();
        assert_eq!(
            s,
            "{\"vmlab\":\"ready\"}\n{\"vmlab\":\"exit\",\"code\":7}\n\
             {\"vmlab\":\"error\",\"kernel\":\"tcp\",\"message\":\"no loopback\"}\n\
             {\"vmlab\":\"error\",\"message\":\"bad\"}\n"
        );
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        error(&mut s, None, &"a\"b\\c\nd\te\u{1}f\u{7f}é✓").unwrap();
        assert_eq!(
            s,
            "{\"vmlab\":\"error\",\"message\":\"a\\\"b\\\\c\\nd\\te\\u0001f\\u007fé✓\"}\n"
        );
    }

    #[test]
    fn failures_keep_a_bounded_message() {
        let f = Failure::new(format_args!("tcp: {} {}", "lo is down", 5));
        assert_eq!(f.message(), "tcp: lo is down 5");
        let long = std::string::String::from("é").repeat(Failure::CAPACITY);
        let f = Failure::new(format_args!("{long}"));
        assert_eq!(f.message().len(), Failure::CAPACITY); // 63 whole characters
        let f = Failure::new(format_args!("x{long}"));
        assert_eq!(f.message().len(), Failure::CAPACITY - 1);
        assert!(Failure::unsupported(Kernel::Tcp)
            .message()
            .contains("`tcp`"));
    }
}
