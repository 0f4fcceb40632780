//! The summary as GitHub-flavoured Markdown: the run's context in one
//! paragraph, then the page's tables (boot, skipped backends, the notes'
//! claims, overhead ratios, I/O, memory, image sizes, built artifacts) with the
//! same human units as `index.html`. Phases and raw samples stay in the CSV
//! and `results.json`.
use crate::html::{self, Page};
use crate::Results;

/// `results` as Markdown.
pub fn render(results: &Results) -> String {
    let results = &crate::mark_emulated(results);
    let ratios = crate::figures::overhead_ratios(results);
    let claims = crate::claims::claims(results);
    let page = html::page(results, html::Charts::default(), claims, &ratios, None);
    let mut out = String::new();
    out.push_str(&context(&page));
    section(&mut out, "Boot", &boot(&page));
    section(&mut out, "Not measured on this host", &skipped(&page));
    section(&mut out, "Claims from the notes", &claims_table(&page));
    section(
        &mut out,
        "Isolation overhead (ratio to the plain process)",
        &overhead(&page),
    );
    section(
        &mut out,
        "I/O across the boundary (ratio to the plain process)",
        &io(&page),
    );
    section(&mut out, "Memory", &memory(&page));
    section(&mut out, "Image size", &images(&page));
    section(&mut out, "Built artifacts", &artifacts(&page));
    out
}

/// A table of `header` and `rows`; `right` marks right-aligned (numeric)
/// columns.
struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[(&str, bool)]) -> Table {
        Table {
            header: columns.iter().map(|c| c.0.to_string()).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    fn to_markdown(&self) -> String {
        let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
        let mut out = line(self.header.iter().map(|h| cell(h)).collect());
        out.push_str(&line(
            self.right
                .iter()
                .map(|&r| if r { "---:" } else { "---" }.to_string())
                .collect(),
        ));
        for row in &self.rows {
            out.push_str(&line(row.iter().map(|c| cell(c)).collect()));
        }
        out
    }
}

/// A cell's text with what would break the table escaped: `|` as `\|`,
/// line breaks as spaces.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\r', '\n'], " ")
}

fn section(out: &mut String, title: &str, table: &Table) {
    if table.rows.is_empty() {
        return;
    }
    out.push_str(&format!("\n### {title}\n\n"));
    out.push_str(&table.to_markdown());
}

fn emu(name: &str, emulated: bool) -> String {
    if emulated {
        format!("{name} (emulated)")
    } else {
        name.to_string()
    }
}

fn context(p: &Page) -> String {
    let mut s = format!(
        "**vmlab results** ({}, revision {}): {} backend(s), {} measured run(s) each after {} warm-up run(s){}. \
         Host: {}, {} logical CPUs, kernel {}, KVM {}. \
         Times are medians; IQR is the interquartile range; the CI is the {} order-statistic interval of the median (or \"n too small\").\n",
        p.generated_at,
        p.git_revision,
        p.backends.len(),
        p.runs,
        p.warmup,
        if p.quick { " (quick mode)" } else { "" },
        p.host.cpu_model,
        p.host.cores,
        p.host.kernel,
        p.host.kvm,
        p.stats.confidence,
    );
    if p.software_nested {
        s.push_str(
            "\n**KVM here is software nested: VM figures measure emulated guest code, \
             not hardware virtualisation.**\n",
        );
    }
    s
}

fn boot(p: &Page) -> Table {
    let ci = format!("{} CI", p.stats.confidence);
    let mut t = Table::new(&[
        ("backend", false),
        ("kind", false),
        ("n", true),
        ("start → ready", true),
        ("IQR", true),
        (&ci, true),
        ("min – max", true),
        ("start → exit", true),
        ("clock starts at", false),
    ]);
    for b in &p.backends {
        t.rows.push(vec![
            emu(&b.name, b.emulated),
            b.kind.to_string(),
            b.n.to_string(),
            b.ready.clone(),
            b.ready_iqr.clone(),
            b.ready_ci.clone(),
            b.ready_range.clone(),
            b.exit.clone(),
            b.origin.to_string(),
        ]);
    }
    t
}

fn skipped(p: &Page) -> Table {
    let mut t = Table::new(&[("backend", false), ("kind", false), ("why", false)]);
    for s in &p.skipped {
        t.rows
            .push(vec![s.name.clone(), s.kind.to_string(), s.reason.clone()]);
    }
    t
}

fn claims_table(p: &Page) -> Table {
    let mut t = Table::new(&[
        ("claim", false),
        ("compared", false),
        ("metric", false),
        ("test", false),
        ("container side", false),
        ("VM side", false),
        ("verdict", false),
    ]);
    for c in &p.claims {
        t.rows.push(vec![
            c.quotes.join(" / "),
            c.pair.to_string(),
            c.metric.clone(),
            c.test.clone(),
            c.container.clone(),
            c.vm.clone(),
            format!("{}: {}", c.verdict_label, c.reason),
        ]);
    }
    t
}

fn overhead(p: &Page) -> Table {
    let mut t = Table::new(&[
        ("kernel", false),
        ("backend", false),
        ("ratio", true),
        ("CI", true),
        ("n (backend / process)", true),
    ]);
    for o in &p.overhead {
        t.rows.push(vec![
            o.kernel.clone(),
            emu(&o.backend, o.emulated),
            o.ratio.clone(),
            o.ci.clone(),
            o.n.clone(),
        ]);
    }
    t
}

fn io(p: &Page) -> Table {
    let mut t = Table::new(&[
        ("kernel", false),
        ("process", true),
        ("backend", false),
        ("its figure", true),
        ("ratio", true),
        ("CI", true),
        ("n (backend / process)", true),
        ("note", false),
    ]);
    for o in &p.io {
        t.rows.push(vec![
            o.kernel.clone(),
            o.process.clone(),
            emu(&o.backend, o.emulated),
            o.value.clone(),
            o.ratio.clone(),
            o.ci.clone(),
            o.n.clone(),
            o.note.clone(),
        ]);
    }
    t
}

fn memory(p: &Page) -> Table {
    let mut t = Table::new(&[
        ("backend", false),
        ("peak RSS", true),
        ("PSS", true),
        ("per extra instance", true),
        ("instances", true),
    ]);
    for m in &p.memory {
        t.rows.push(vec![
            emu(&m.backend, m.emulated),
            m.rss.clone(),
            m.pss.clone(),
            m.per_instance.clone(),
            m.instances.to_string(),
        ]);
    }
    t
}

const SIZE_COLUMNS: [(&str, bool); 6] = [
    ("contents", false),
    ("uncompressed", true),
    ("gzip", true),
    ("zstd", true),
    ("on disk", true),
    ("files", true),
];

fn size_table(first: &str, rows: &[html::ImageRow]) -> Table {
    let mut columns = vec![(first, false)];
    columns.extend(SIZE_COLUMNS);
    let mut t = Table::new(&columns);
    for i in rows {
        t.rows.push(vec![
            emu(&i.name, i.emulated),
            i.contents.clone(),
            i.uncompressed.clone(),
            i.gzip.clone(),
            i.zstd.clone(),
            i.on_disk.clone(),
            i.files.to_string(),
        ]);
    }
    t
}

fn images(p: &Page) -> Table {
    size_table("backend", &p.images)
}

fn artifacts(p: &Page) -> Table {
    size_table("artifact", &p.artifacts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charts::fmt_ns;
    use crate::figures::ready;

    fn fixture() -> Results {
        Results::from_json(crate::export::csv::tests::FIXTURE, "fixture").unwrap()
    }

    /// The rows of the table under `### title`, split into trimmed cells.
    fn table(md: &str, title: &str) -> Vec<Vec<String>> {
        let start = md
            .find(&format!("### {title}\n"))
            .unwrap_or_else(|| panic!("no `{title}` table in:\n{md}"));
        md[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split(" | ")
                    .map(|c| c.trim().to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_fixture_boot_table_has_every_backend_that_ran() {
        let r = fixture();
        let md = render(&r);
        let rows = table(&md, "Boot");
        assert_eq!(rows[0][0], "backend");
        assert!(
            rows[1].iter().all(|c| c.starts_with("---")),
            "{:?}",
            rows[1]
        );
        let ran: Vec<_> = r.backends.iter().filter(|b| b.available).collect();
        assert_eq!(rows.len() - 2, ran.len(), "{md}");
        for (row, b) in rows[2..].iter().zip(&ran) {
            assert!(row[0].starts_with(&b.name), "{row:?}");
            assert_eq!(row[3], fmt_ns(ready(b).unwrap().median), "{row:?}");
            assert_eq!(row.len(), rows[0].len(), "{row:?}");
        }
        let skipped = table(&md, "Not measured on this host");
        assert_eq!(skipped.len() - 2, r.backends.len() - ran.len());
        assert!(md.contains("vm-bare (emulated)"), "{md}");
        assert!(md.contains("software nested"), "{md}");
        for title in [
            "Isolation overhead",
            "Memory",
            "Image size",
            "Built artifacts",
        ] {
            assert!(
                md.contains(&format!("### {title}")),
                "{title} missing:\n{md}"
            );
        }
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        let mut r = fixture();
        let b = r.backends.iter_mut().find(|b| !b.available).unwrap();
        b.skipped_reason = Some("pipes | and\nnewlines".into());
        let md = render(&r);
        let rows = table(&md, "Not measured on this host");
        assert!(rows.iter().all(|row| row.len() == 3), "{rows:?}");
        assert!(md.contains("pipes \\| and newlines"), "{md}");
    }
}
