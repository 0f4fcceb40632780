//! Reading L1's results channel: `@@`-framed lines written by `init.sh`.
//!
//! ```text
//! @@L1 up 1.95            L1 milestones, seconds of L1 uptime (emulated time)
//! @@L1 kvm 2.67
//! @@L1 fail <why>         L1 could not prepare KVM
//! @@BEGIN <check>         stdout of the check follows
//! @@STDERR <check>        stderr of the check follows
//! @@END <check> rc=N t0=S t1=S crc_out=X crc_err=Y copy=K
//! @@L1 done 9.80
//! ```
//!
//! Each check is sent twice with the CRC-32 (hex, zlib's) of its stdout
//! and stderr: a serial line may garble a byte, and the first copy whose
//! checksums match is the one kept.

/// One check run inside L1.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckRun {
    pub name: String,
    pub rc: i32,
    pub stdout: String,
    pub stderr: String,
    /// L1 uptime (s) at the start and end of the check.
    pub t0: f64,
    pub t1: f64,
    /// CRC-32 of stdout and stderr as L1 sent them (None: not sent).
    pub crc: Option<(u32, u32)>,
    /// Every copy arrived garbled (checksum mismatch): this is the first.
    pub garbled: bool,
}

impl CheckRun {
    /// Whether the text received matches the checksums L1 sent (true when
    /// it sent none).
    pub fn intact(&self) -> bool {
        self.crc.is_none_or(|(out, err)| {
            crc32fast::hash(self.stdout.as_bytes()) == out
                && crc32fast::hash(self.stderr.as_bytes()) == err
        })
    }
}

/// One run per check name, in first-seen order: the first intact copy, or
/// the first copy marked garbled when none is.
fn keep_intact(copies: Vec<CheckRun>) -> Vec<CheckRun> {
    let mut kept: Vec<CheckRun> = Vec::new();
    for c in copies {
        match kept.iter_mut().find(|k| k.name == c.name) {
            Some(k) if k.garbled && c.intact() => *k = c,
            Some(_) => {}
            None => {
                let garbled = !c.intact();
                kept.push(CheckRun { garbled, ..c });
            }
        }
    }
    kept
}

/// Everything L1 reported.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct L1Report {
    /// L1 milestones in order: (name, L1 uptime in s).
    pub milestones: Vec<(String, f64)>,
    /// Failures L1 itself reported.
    pub failures: Vec<String>,
    pub checks: Vec<CheckRun>,
    /// Whether L1 reached the end of its script.
    pub done: bool,
}

enum Section {
    None,
    Stdout,
    Stderr,
}

/// Parses the results channel. Tolerates `\r\n` and a cut-off tail (a check
/// that never ended is simply absent: the caller reports it as missing).
pub fn parse(text: &str) -> L1Report {
    let mut report = L1Report::default();
    let mut current = CheckRun::default();
    let mut section = Section::None;
    let mut copies = Vec::new();
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if let Some(rest) = line.strip_prefix("@@L1 ") {
            let (what, arg) = rest.split_once(' ').unwrap_or((rest, ""));
            match what {
                "fail" => report.failures.push(arg.to_string()),
                "done" => {
                    report.done = true;
                    report.milestones.push((what.into(), first_f64(arg)));
                }
                _ => report.milestones.push((what.into(), first_f64(arg))),
            }
        } else if let Some(name) = line.strip_prefix("@@BEGIN ") {
            current = CheckRun {
                name: name.to_string(),
                ..CheckRun::default()
            };
            section = Section::Stdout;
        } else if line.starts_with("@@STDERR ") {
            section = Section::Stderr;
        } else if let Some(rest) = line.strip_prefix("@@END ") {
            let mut crc = (None, None);
            for word in rest.split_whitespace().skip(1) {
                match word.split_once('=') {
                    Some(("rc", v)) => current.rc = v.parse().unwrap_or(-1),
                    Some(("t0", v)) => current.t0 = v.parse().unwrap_or(0.0),
                    Some(("t1", v)) => current.t1 = v.parse().unwrap_or(0.0),
                    Some(("crc_out", v)) => crc.0 = u32::from_str_radix(v, 16).ok(),
                    Some(("crc_err", v)) => crc.1 = u32::from_str_radix(v, 16).ok(),
                    _ => {}
                }
            }
            // A garbled checksum field garbles the copy, as a garbled text does.
            current.crc = match crc {
                (Some(o), Some(e)) => Some((o, e)),
                (None, None) => None,
                _ => Some((!0, !0)),
            };
            copies.push(std::mem::take(&mut current));
            section = Section::None;
        } else {
            let buf = match section {
                Section::Stdout => &mut current.stdout,
                Section::Stderr => &mut current.stderr,
                Section::None => continue,
            };
            buf.push_str(line);
            buf.push('\n');
        }
    }
    report.checks = keep_intact(copies);
    report
}

fn first_f64(s: &str) -> f64 {
    s.split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_milestones_checks_and_failures() {
        let text = "@@L1 up 1.95\r\n@@L1 tsc 2.28 polls=4\r\n@@L1 kvm 2.67\r\n\
            @@BEGIN linux\r\n{\"a\":1}\r\n@@STDERR linux\r\nlinux: ready\r\n\
            @@END linux rc=3 t0=2.70 t1=5.5\r\n@@L1 fail no /dev/kvm\r\n@@L1 done 9.8\r\n";
        let r = parse(text);
        assert!(r.done);
        assert_eq!(
            r.milestones,
            vec![
                ("up".into(), 1.95),
                ("tsc".into(), 2.28),
                ("kvm".into(), 2.67),
                ("done".into(), 9.8)
            ]
        );
        assert_eq!(r.failures, vec!["no /dev/kvm".to_string()]);
        assert_eq!(r.checks.len(), 1);
        let c = &r.checks[0];
        assert_eq!((c.name.as_str(), c.rc, c.t0, c.t1), ("linux", 3, 2.70, 5.5));
        assert_eq!(c.stdout, "{\"a\":1}\n");
        assert_eq!(c.stderr, "linux: ready\n");
    }

    fn copy(stdout: &str, crc_of: &str, n: u32) -> String {
        format!(
            "@@BEGIN linux\n{stdout}@@STDERR linux\n@@END linux rc=0 t0=1 t1=2 \
             crc_out={:08x} crc_err={:08x} copy={n}\n",
            crc32fast::hash(crc_of.as_bytes()),
            crc32fast::hash(b""),
        )
    }

    #[test]
    fn the_first_intact_copy_is_kept() {
        let good = "{\"a\":1}\n";
        let bad = "{\"a\":\u{c}}\n";
        // The first copy garbled, the second intact: the second is kept.
        let r = parse(&(copy(bad, good, 1) + &copy(good, good, 2)));
        assert_eq!(r.checks.len(), 1);
        assert_eq!(r.checks[0].stdout, good);
        assert!(!r.checks[0].garbled);
        // Both intact: one run, not two.
        let r = parse(&(copy(good, good, 1) + &copy(good, good, 2)));
        assert_eq!((r.checks.len(), r.checks[0].garbled), (1, false));
        // Both garbled: the first, marked.
        let r = parse(&(copy(bad, good, 1) + &copy(bad, good, 2)));
        assert_eq!(r.checks.len(), 1);
        assert!(r.checks[0].garbled && r.checks[0].stdout == bad);
        // Without checksums (an older init.sh): taken as sent.
        let r = parse("@@BEGIN x\nout\n@@STDERR x\n@@END x rc=0\n");
        assert!(!r.checks[0].garbled);
    }

    #[test]
    fn a_cut_off_check_is_absent_and_not_done() {
        let r = parse("@@L1 up 2.0\n@@BEGIN linux\n{\"partial\":\n");
        assert!(!r.done);
        assert!(r.checks.is_empty());
    }

    #[test]
    fn noise_outside_frames_is_ignored() {
        let r = parse("random\n[  1.0] kernel says hi\n@@L1 done 3\n");
        assert!(r.done && r.checks.is_empty() && r.failures.is_empty());
    }
}
