//! The workload's JSON lines as a type.
//!
//! `vmlab_workload::report` writes the lines without an allocator (the bare
//! guest has none); [`Line`] is what every host-side reader parses them
//! into, with one parser, [`Line::parse`]. A console may put noise before a line (a
//! kernel log timestamp): [`Line::find`] looks for [`LINE_PREFIX`] anywhere
//! in a console line, and [`Line::scan`] does so for every line of a text.
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
pub use vmlab_workload::protocol::LINE_PREFIX;
use vmlab_workload::Kernel;

/// Longest line [`Line::parse`] accepts, in bytes. The longest line the
/// workload writes is a result (about 250 bytes) or an error with a
/// `vmlab_workload::report::Failure` message escaped (at most six bytes per byte).
pub const MAX_LINE: usize = 4096;

/// One JSON line of the workload, keyed by its `"vmlab"` field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "vmlab", rename_all = "lowercase")]
pub enum Line {
    /// `{"vmlab":"ready"}`: the workload proper has started.
    Ready,
    /// One kernel's measurement.
    Result(ResultLine),
    /// A kernel (or the workload's setup) failed.
    Error(ErrorLine),
    /// `{"vmlab":"exit","code":N}`: the workload is done.
    Exit {
        /// The exit code it asks for.
        code: u8,
    },
    /// One attempt of the escape battery (`vmlab-workload attacks`).
    Escape(EscapeLine),
    /// `{"vmlab":"attacks","tried":N,"escaped":M}`: the battery ran to its end.
    Attacks {
        /// Attempts it reported.
        tried: u32,
        /// Of them, the ones that escaped.
        escaped: u32,
    },
}

/// `{"vmlab":"escape",...}`: one attempt of the escape battery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscapeLine {
    /// What was tried (`read_host_file`, `mount`, ...).
    pub attempt: String,
    /// Whether the isolation failed to stop it.
    pub escaped: bool,
    /// What a success reaches (the probe's older lines have none: host).
    #[serde(default)]
    pub scope: Scope,
    /// The call's result (`>= 0`: it succeeded).
    pub rc: i64,
    /// Its errno when it failed, else 0.
    #[serde(default)]
    pub errno: i32,
}

/// What an attempt of the battery reaches when it succeeds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The host's own resources (its files, processes, loopback, fds).
    #[default]
    Host,
    /// The kernel the workload's calls reach: the host's for a container,
    /// its own for a VM's guest or gVisor.
    Kernel,
}

/// `{"vmlab":"result",...}`: see [`crate::report`] for what each field means.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultLine {
    /// The kernel measured.
    #[serde(with = "kernel_name")]
    pub kernel: Kernel,
    /// The variant, for kernels with several (`spawn`: `fork`, `exec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Iterations run.
    pub iters: u64,
    /// Their total time, ns.
    pub total_ns: u64,
    /// Time per iteration, ns (three decimals).
    pub ns_per_iter: f64,
    /// Bytes processed over all iterations (0 for kernels without data).
    pub bytes: u64,
    /// Throughput, when `bytes` is not 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mib_per_s: Option<f64>,
    /// The working set, for kernels that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Median latency of one iteration, ns (`net-rr`, `blk-rand`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_ns: Option<u64>,
    /// 99th-percentile latency of one iteration, ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_ns: Option<u64>,
}

impl ResultLine {
    /// `kernel`, or `kernel/mode` for a kernel with variants.
    pub fn name(&self) -> String {
        match &self.mode {
            Some(mode) => format!("{}/{mode}", self.kernel),
            None => self.kernel.name().to_string(),
        }
    }
}

/// `{"vmlab":"error",...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorLine {
    /// The kernel that failed; none for errors of the workload itself.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_kernel_name"
    )]
    pub kernel: Option<Kernel>,
    /// Why.
    pub message: String,
}

impl fmt::Display for ErrorLine {
    /// `kernel: message` (`workload: message` when no kernel is named).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kernel {
            Some(k) => write!(f, "{k}: {}", self.message),
            None => write!(f, "workload: {}", self.message),
        }
    }
}

/// Why a text is not a workload line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// It does not start with [`LINE_PREFIX`].
    #[error("not a workload line (it does not start with {LINE_PREFIX})")]
    NoPrefix,
    /// It is longer than [`MAX_LINE`].
    #[error("a workload line of {0} bytes is longer than the {MAX_LINE} accepted")]
    Oversize(usize),
    /// Its `"vmlab"` kind is none the workload writes.
    #[error("unknown workload line kind {0:?}")]
    Unknown(String),
    /// It is not valid JSON, or a known kind with missing or mistyped fields.
    #[error("malformed workload line: {0}")]
    Malformed(String),
}

impl Line {
    /// Parses one line (a trailing `\r` or `\n` is ignored).
    pub fn parse(text: &str) -> Result<Line, LineError> {
        let text = text.trim_end_matches(['\r', '\n']);
        if text.len() > MAX_LINE {
            return Err(LineError::Oversize(text.len()));
        }
        if !text.starts_with(LINE_PREFIX) {
            return Err(LineError::NoPrefix);
        }
        serde_json::from_str(text).map_err(|e| {
            /// Just the kind, to tell an unknown kind from a malformed line.
            #[derive(Deserialize)]
            struct Kind {
                vmlab: String,
            }
            match serde_json::from_str::<Kind>(text) {
                Ok(Kind { vmlab }) if !KINDS.contains(&vmlab.as_str()) => LineError::Unknown(vmlab),
                _ => LineError::Malformed(e.to_string()),
            }
        })
    }

    /// The workload line in one console line, wherever it starts on it;
    /// `None` when the console line holds none.
    pub fn find(console_line: &str) -> Option<Result<Line, LineError>> {
        console_line
            .find(LINE_PREFIX)
            .map(|at| Line::parse(&console_line[at..]))
    }

    /// Every well-formed workload line of `text`, in order (console noise
    /// and broken lines, e.g. cut by a bounded tail, are left out).
    pub fn scan(text: &str) -> impl Iterator<Item = Line> + '_ {
        text.lines().filter_map(|l| Line::find(l)?.ok())
    }

    /// Whether it is a kernel's line (a result or an error).
    pub fn is_kernel_line(&self) -> bool {
        matches!(self, Line::Result(_) | Line::Error(_))
    }

    /// Whether it is a line of the escape battery (an attempt or the summary).
    pub fn is_attack_line(&self) -> bool {
        matches!(self, Line::Escape(_) | Line::Attacks { .. })
    }

    /// Whether it is a line a run reports as its outcome: a kernel's or the
    /// battery's (not ready or exit, which the protocol events carry).
    pub fn is_outcome_line(&self) -> bool {
        self.is_kernel_line() || self.is_attack_line()
    }

    /// The line as the workload writes it, with its newline.
    pub fn to_json_line(&self) -> String {
        // Serializing these types cannot fail: string keys, finite numbers
        // from the parser (JSON has no others).
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

/// Every kind [`Line`] knows, as its `"vmlab"` field spells it.
const KINDS: [&str; 6] = ["ready", "result", "error", "exit", "escape", "attacks"];

impl fmt::Display for Line {
    /// A short label: `ready`, `result spawn/fork`, `error tcp: ...`, `exit 3`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Ready => f.write_str("ready"),
            Line::Result(r) => write!(f, "result {}", r.name()),
            Line::Error(e) => write!(f, "error {e}"),
            Line::Exit { code } => write!(f, "exit {code}"),
            Line::Escape(e) => write!(
                f,
                "escape {} {}",
                e.attempt,
                if e.escaped { "escaped" } else { "blocked" }
            ),
            Line::Attacks { tried, escaped } => write!(f, "attacks {escaped}/{tried} escaped"),
        }
    }
}

/// A [`Kernel`] as its name.
mod kernel_name {
    use super::*;

    pub fn serialize<S: Serializer>(k: &Kernel, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(k.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Kernel, D::Error> {
        let name = String::deserialize(d)?;
        Kernel::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown kernel {name:?}")))
    }
}

/// An optional [`Kernel`] as its name.
mod optional_kernel_name {
    use super::*;

    pub fn serialize<S: Serializer>(k: &Option<Kernel>, s: S) -> Result<S::Ok, S::Error> {
        match k {
            Some(k) => kernel_name::serialize(k, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Kernel>, D::Error> {
        #[derive(Deserialize)]
        struct Named(#[serde(with = "kernel_name")] Kernel);
        Ok(Option::<Named>::deserialize(d)?.map(|Named(k)| k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmlab_workload::report::{self, Measurement};
    use vmlab_workload::Timing;

    fn cpu() -> ResultLine {
        ResultLine {
            kernel: Kernel::Cpu,
            mode: None,
            iters: 3,
            total_ns: 1000,
            ns_per_iter: 333.333,
            bytes: 0,
            mib_per_s: None,
            size: None,
            p50_ns: None,
            p99_ns: None,
        }
    }

    fn every_variant() -> Vec<Line> {
        let fork = ResultLine {
            kernel: Kernel::Spawn,
            mode: Some("fork".into()),
            bytes: 3 << 20,
            mib_per_s: Some(3_000_000.0),
            size: Some(16 << 20),
            p50_ns: Some(10),
            p99_ns: Some(20),
            ..cpu()
        };
        vec![
            Line::Ready,
            Line::Result(cpu()),
            Line::Result(fork),
            Line::Error(ErrorLine {
                kernel: Some(Kernel::Tcp),
                message: "no \"lo\"\n".into(),
            }),
            Line::Error(ErrorLine {
                kernel: None,
                message: "bad arguments".into(),
            }),
            Line::Exit { code: 0 },
            Line::Exit { code: 255 },
            Line::Escape(EscapeLine {
                attempt: "write /proc/sys/vm/drop_caches".into(),
                escaped: false,
                scope: Scope::Kernel,
                rc: -1,
                errno: 13,
            }),
            Line::Attacks {
                tried: 40,
                escaped: 0,
            },
        ]
    }

    #[test]
    fn each_variant_round_trips() {
        for line in every_variant() {
            let text = line.to_json_line();
            assert!(text.starts_with(LINE_PREFIX), "{text}");
            assert_eq!(Line::parse(&text), Ok(line.clone()), "{text}");
        }
    }

    #[test]
    fn what_the_writer_writes_parses() {
        let mut s = String::new();
        report::ready(&mut s).unwrap();
        let mut m = Measurement::new(
            Kernel::Memory,
            Timing {
                iters: 3,
                total_ns: 1000,
            },
        );
        m.bytes_per_iter = 1 << 20;
        m.size = Some(16 << 20);
        m.mode = Some("triad");
        m.latency = Some(vmlab_workload::latency::Latency {
            p50_ns: 5,
            p99_ns: 9,
        });
        report::result(&mut s, &m).unwrap();
        report::error(&mut s, Some(Kernel::Tcp), &"a\"b\\c\u{1}é").unwrap();
        report::error(&mut s, None, &"bad").unwrap();
        report::exit(&mut s, 7).unwrap();
        let lines: Vec<Line> = s.lines().map(|l| Line::parse(l).unwrap()).collect();
        let memory = ResultLine {
            kernel: Kernel::Memory,
            mode: Some("triad".into()),
            bytes: 3 << 20,
            mib_per_s: Some(3_000_000.0),
            size: Some(16 << 20),
            p50_ns: Some(5),
            p99_ns: Some(9),
            ..cpu()
        };
        assert_eq!(
            lines,
            [
                Line::Ready,
                Line::Result(memory),
                Line::Error(ErrorLine {
                    kernel: Some(Kernel::Tcp),
                    message: "a\"b\\c\u{1}é".into()
                }),
                Line::Error(ErrorLine {
                    kernel: None,
                    message: "bad".into()
                }),
                Line::Exit { code: 7 },
            ]
        );
        assert!(lines[1].is_kernel_line());
        assert!(!lines[0].is_kernel_line() && !lines[4].is_kernel_line());
    }

    #[test]
    fn garbage_oversize_and_unknown_lines_are_errors() {
        let bad = |s: &str| Line::parse(s).unwrap_err();
        assert_eq!(bad("hello"), LineError::NoPrefix);
        assert_eq!(bad(""), LineError::NoPrefix);
        assert_eq!(bad("x {\"vmlab\":\"ready\"}"), LineError::NoPrefix);
        assert!(matches!(bad("{\"vmlab\":\"rea"), LineError::Malformed(_)));
        assert!(matches!(
            bad("{\"vmlab\":\"result\",\"kernel\":\"cpu\"}"),
            LineError::Malformed(_)
        ));
        assert!(matches!(
            bad("{\"vmlab\":\"exit\",\"code\":256}"),
            LineError::Malformed(_)
        ));
        assert!(matches!(
            bad("{\"vmlab\":\"error\",\"kernel\":\"gpu\",\"message\":\"x\"}"),
            LineError::Malformed(_)
        ));
        assert_eq!(
            bad("{\"vmlab\":\"hello\"}"),
            LineError::Unknown("hello".into())
        );
        let long = format!(
            "{LINE_PREFIX}\"ready\",\"pad\":\"{}\"}}",
            "x".repeat(MAX_LINE)
        );
        assert_eq!(bad(&long), LineError::Oversize(long.len()));
        // Just at the limit, it is parsed (extra fields are ignored).
        let pad = MAX_LINE - "{\"vmlab\":\"ready\",\"pad\":\"\"}".len();
        let edge = format!("{LINE_PREFIX}\"ready\",\"pad\":\"{}\"}}", "x".repeat(pad));
        assert_eq!(
            (edge.len(), Line::parse(&edge)),
            (MAX_LINE, Ok(Line::Ready))
        );
    }

    /// The lines the battery (`images/workload/src/linux/attacks/`) and
    /// the older probe write.
    #[test]
    fn escape_lines_parse() {
        let line = "{\"vmlab\":\"escape\",\"attempt\":\"read_host_file\",\"escaped\":true,\
            \"scope\":\"host\",\"rc\":3,\"errno\":0}";
        let read = EscapeLine {
            attempt: "read_host_file".into(),
            escaped: true,
            scope: Scope::Host,
            rc: 3,
            errno: 0,
        };
        assert_eq!(Line::parse(line), Ok(Line::Escape(read.clone())));
        // Without a scope (the probe's lines before the battery moved): host.
        let old =
            "{\"vmlab\":\"escape\",\"attempt\":\"mount\",\"escaped\":false,\"rc\":-1,\"errno\":1}";
        let Ok(Line::Escape(e)) = Line::parse(old) else {
            panic!("{old}")
        };
        assert_eq!(
            (e.scope, e.rc, e.errno, e.escaped),
            (Scope::Host, -1, 1, false)
        );
        let kernel = "{\"vmlab\":\"escape\",\"attempt\":\"mount\",\"escaped\":true,\"scope\":\"kernel\",\"rc\":0,\"errno\":0}";
        assert!(matches!(
            Line::parse(kernel),
            Ok(Line::Escape(EscapeLine {
                scope: Scope::Kernel,
                ..
            }))
        ));
        let summary = Line::parse("{\"vmlab\":\"attacks\",\"tried\":48,\"escaped\":33}").unwrap();
        assert_eq!(
            summary,
            Line::Attacks {
                tried: 48,
                escaped: 33
            }
        );
        assert!(summary.is_attack_line() && !summary.is_kernel_line());
        assert!(Line::Escape(read).is_attack_line());
        assert!(!Line::Ready.is_attack_line());
        assert!(summary.is_outcome_line() && Line::Result(cpu()).is_outcome_line());
        assert!(!Line::Exit { code: 0 }.is_outcome_line());
        for bad in [
            "{\"vmlab\":\"escape\",\"attempt\":\"x\",\"rc\":0}",
            "{\"vmlab\":\"escape\",\"attempt\":\"x\",\"escaped\":true,\"scope\":\"moon\",\"rc\":0}",
            "{\"vmlab\":\"attacks\",\"tried\":-1,\"escaped\":0}",
        ] {
            assert!(
                matches!(Line::parse(bad), Err(LineError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn consoles_put_noise_around_lines() {
        let console = "[    0.1] kernel noise\n{\"vmlab\":\"ready\"}\r\n\
            junk {\"vmlab\":\"exit\",\"code\":3}\n{\"vmlab\":\"result\",broken\n";
        assert_eq!(Line::find("no line here"), None);
        let ready = vmlab_workload::protocol::READY_LINE;
        assert_eq!(Line::parse(ready), Ok(Line::Ready));
        assert_eq!(Line::find("t {\"vmlab\":\"ready\"}"), Some(Ok(Line::Ready)));
        let lines: Vec<Line> = Line::scan(console).collect();
        assert_eq!(lines, [Line::Ready, Line::Exit { code: 3 }]);
    }

    #[test]
    fn names_and_messages() {
        let labels: Vec<String> = every_variant().iter().map(|l| l.to_string()).collect();
        assert_eq!(
            labels,
            [
                "ready",
                "result cpu",
                "result spawn/fork",
                "error tcp: no \"lo\"\n",
                "error workload: bad arguments",
                "exit 0",
                "exit 255",
                "escape write /proc/sys/vm/drop_caches blocked",
                "attacks 0/40 escaped"
            ]
        );
        let mut r = cpu();
        assert_eq!(r.name(), "cpu");
        r.mode = Some("exec".into());
        assert_eq!(r.name(), "cpu/exec");
        let e = ErrorLine {
            kernel: Some(Kernel::Tcp),
            message: "no lo".into(),
        };
        assert_eq!(e.to_string(), "tcp: no lo");
        let e = ErrorLine {
            kernel: None,
            message: "bad".into(),
        };
        assert_eq!(e.to_string(), "workload: bad");
    }
}
