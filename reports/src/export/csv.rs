//! The summary as CSV (RFC 4180: comma-separated, CRLF-free `\n` lines,
//! fields with a comma, quote or line break quoted, quotes doubled).
//!
//! One row per backend and figure, in "long" form so that every backend's
//! kernels and phases fit one header:
//!
//! `backend,kind,emulated,figure,unit,n,median,q1,q3,ci_low,ci_high,min,max`
//!
//! - `boot/to_ready`, `boot/to_exit`, `boot/phase/NAME` (unit `ns`): the
//!   sample's n, median, quartiles, order-statistic 95 % interval of the median (empty when n is too small), min, max.
//! - `overhead/KERNEL` (unit `ns/iter`): the same, over the runs' ns per
//!   iteration; `overhead_ratio/KERNEL` (unit `ratio`): median over the
//!   plain process's median with its distribution-free interval (n is the backend's).
//! - `latency_p50/KERNEL`, `latency_p99/KERNEL` (unit `ns`) and
//!   `throughput/KERNEL` (unit `MiB/s`): over the runs' p50 and p99
//!   latencies and throughputs, for the kernels that report them (the I/O
//!   kernels, and the others' throughput).
//! - `memory/rss`, `memory/pss`, `memory/per_instance` (unit `bytes`): the
//!   single figure in `median`.
//! - `image/uncompressed`, `image/gzip`, `image/zstd`, `image/on_disk`
//!   (unit `bytes`) and `image/files` (unit `files`): per backend with an
//!   image, and per built artifact (kind `artifact`).
//!
//! Numbers are in base units, unrounded; a missing value is an empty
//! field. Backends that did not run have no rows (the Markdown export and
//! `results.json` carry why).
use crate::figures::overhead_ratios;
use crate::model::{BackendResult, ImageSize};
use crate::stats::{as_f64, Summary};
use crate::Results;

/// The header, in column order.
pub const HEADER: [&str; 13] = [
    "backend", "kind", "emulated", "figure", "unit", "n", "median", "q1", "q3", "ci_low",
    "ci_high", "min", "max",
];

/// `results` as CSV text, header first.
pub fn render(results: &Results) -> String {
    let results = &crate::mark_emulated(results);
    let mut out = Rows::default();
    out.push(HEADER.iter().map(|s| s.to_string()).collect());
    let ratios = overhead_ratios(results);
    for b in results.backends.iter().filter(|b| b.available) {
        let id = Id::of(b);
        out.summary(&id, "boot/to_ready", "ns", &as_f64(&b.boot.to_ready_ns));
        out.summary(&id, "boot/to_exit", "ns", &as_f64(&b.boot.to_exit_ns));
        for p in &b.boot.phases {
            let figure = format!("boot/phase/{}", p.name);
            out.summary(&id, &figure, "ns", &as_f64(&p.ns));
        }
        for k in &b.overhead {
            let figure = format!("overhead/{}", k.kernel);
            out.summary(&id, &figure, "ns/iter", &k.ns_per_iter);
            let p50 = format!("latency_p50/{}", k.kernel);
            out.summary(&id, &p50, "ns", &as_f64(&k.p50_ns));
            let p99 = format!("latency_p99/{}", k.kernel);
            out.summary(&id, &p99, "ns", &as_f64(&k.p99_ns));
            let mib = format!("throughput/{}", k.kernel);
            out.summary(&id, &mib, "MiB/s", &k.mib_per_s);
        }
        for r in ratios.iter().filter(|r| r.backend == b.name) {
            let mut row = id.row(&format!("overhead_ratio/{}", r.kernel), "ratio");
            row[5] = r.n.to_string();
            row[6] = num(r.ratio);
            row[9] = num(r.ci_lo);
            row[10] = num(r.ci_hi);
            out.push(row);
        }
        if let Some(m) = &b.memory {
            out.single(&id, "memory/rss", "bytes", Some(m.rss_bytes));
            out.single(&id, "memory/pss", "bytes", m.pss_bytes);
            out.single(&id, "memory/per_instance", "bytes", m.per_instance_bytes);
        }
        if let Some(i) = &b.image {
            out.image(&id, i);
        }
    }
    for a in &results.images {
        let id = Id {
            backend: a.name.clone(),
            kind: "artifact",
            emulated: false,
        };
        out.image(&id, &a.size);
    }
    out.text
}

/// What every row of one backend starts with.
struct Id {
    backend: String,
    kind: &'static str,
    emulated: bool,
}

impl Id {
    fn of(b: &BackendResult) -> Id {
        Id {
            backend: b.name.clone(),
            kind: b.kind.label(),
            emulated: b.emulated,
        }
    }

    /// A row with the identifying columns set and every figure empty.
    fn row(&self, figure: &str, unit: &str) -> Vec<String> {
        let mut row = vec![String::new(); HEADER.len()];
        row[0] = self.backend.clone();
        row[1] = self.kind.to_string();
        row[2] = self.emulated.to_string();
        row[3] = figure.to_string();
        row[4] = unit.to_string();
        row
    }
}

#[derive(Default)]
struct Rows {
    text: String,
}

impl Rows {
    fn push(&mut self, fields: Vec<String>) {
        let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
        self.text.push_str(&line.join(","));
        self.text.push('\n');
    }

    /// A sample's summary; nothing when the sample is empty.
    fn summary(&mut self, id: &Id, figure: &str, unit: &str, xs: &[f64]) {
        let Some(s) = Summary::of(xs) else {
            return;
        };
        let mut row = id.row(figure, unit);
        row[5] = s.n.to_string();
        for (i, v) in [s.median, s.q1, s.q3, s.ci_lo, s.ci_hi, s.min, s.max]
            .into_iter()
            .enumerate()
        {
            row[6 + i] = num(v);
        }
        self.push(row);
    }

    /// One figure in `median`; nothing when it is missing.
    fn single(&mut self, id: &Id, figure: &str, unit: &str, v: Option<u64>) {
        if let Some(v) = v {
            let mut row = id.row(figure, unit);
            row[6] = v.to_string();
            self.push(row);
        }
    }

    fn image(&mut self, id: &Id, i: &ImageSize) {
        for (figure, v) in [
            ("image/uncompressed", i.uncompressed),
            ("image/gzip", i.gzip),
            ("image/zstd", i.zstd),
            ("image/on_disk", i.on_disk),
        ] {
            self.single(id, figure, "bytes", Some(v));
        }
        self.single(id, "image/files", "files", Some(i.files));
    }
}

/// A number as the shortest text that reads back to the same f64; empty
/// when not finite.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// One field, quoted when it holds a comma, a quote or a line break (or
/// starts or ends with a space, which some readers trim).
pub fn field(s: &str) -> String {
    let needs = s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ');
    if needs {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stats::median;

    pub(crate) const FIXTURE: &str = include_str!("../../tests/fixtures/results.json");

    fn fixture() -> Results {
        Results::from_json(FIXTURE, "fixture").unwrap()
    }

    /// Splits simple lines (the fixture's fields hold no quotes).
    fn rows(text: &str) -> Vec<Vec<&str>> {
        text.lines().map(|l| l.split(',').collect()).collect()
    }

    #[test]
    fn quoting() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field(" padded"), "\" padded\"");
        assert_eq!(num(f64::NAN), "");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(850000.0), "850000");
    }

    #[test]
    fn the_fixture_has_a_row_per_figure() {
        let r = fixture();
        let text = render(&r);
        let rows = rows(&text);
        assert_eq!(rows[0], HEADER);
        assert!(rows.iter().all(|row| row.len() == HEADER.len()), "{text}");
        let ran: Vec<&BackendResult> = r.backends.iter().filter(|b| b.available).collect();
        for b in &ran {
            let ready = rows
                .iter()
                .find(|row| row[0] == b.name && row[3] == "boot/to_ready")
                .unwrap_or_else(|| panic!("no to_ready row for {}:\n{text}", b.name));
            let expected = median(&as_f64(&b.boot.to_ready_ns));
            assert_eq!(ready[6].parse::<f64>().unwrap(), expected, "{}", b.name);
            assert_eq!(ready[5], b.boot.to_ready_ns.len().to_string());
            assert_eq!(ready[4], "ns");
        }
        for b in r.backends.iter().filter(|b| !b.available) {
            assert!(rows.iter().all(|row| row[0] != b.name), "{}", b.name);
        }
        let ratios = rows
            .iter()
            .filter(|row| row[3].starts_with("overhead_ratio/"))
            .count();
        assert_eq!(ratios, overhead_ratios(&r).len());
        assert!(ratios > 0);
        for a in &r.images {
            let zstd = rows
                .iter()
                .find(|row| row[0] == a.name && row[3] == "image/zstd")
                .unwrap();
            assert_eq!((zstd[1], zstd[6]), ("artifact", &*a.size.zstd.to_string()));
        }
    }

    #[test]
    fn software_nested_vms_are_marked_emulated() {
        let r = fixture();
        assert!(r.host.kvm.is_software());
        let text = render(&r);
        for row in rows(&text).iter().skip(1).filter(|row| row[1] == "VM") {
            assert_eq!(row[2], "true", "{row:?}");
        }
    }
}
