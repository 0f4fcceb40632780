//! The Markdown and CSV exports of the checked-in fixture, read back with
//! an independent CSV reader and checked against the results model.
mod common;

use vmlab_reports::export::{self, csv::HEADER, Format};
use vmlab_reports::stats::{as_f64, median, Summary};

/// The CSV as records keyed by (backend, figure).
fn records(text: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .expect("a header")
        .iter()
        .map(String::from)
        .collect();
    let rows = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .expect("every record parses");
    (header, rows)
}

fn find<'a>(rows: &'a [csv::StringRecord], backend: &str, figure: &str) -> &'a csv::StringRecord {
    rows.iter()
        .find(|r| &r[0] == backend && &r[3] == figure)
        .unwrap_or_else(|| panic!("no {figure} row for {backend}"))
}

fn number(r: &csv::StringRecord, column: &str) -> f64 {
    let i = HEADER.iter().position(|h| *h == column).unwrap();
    r[i].parse()
        .unwrap_or_else(|e| panic!("{column} of {r:?} is not a number: {e}"))
}

#[test]
fn the_csv_rows_match_results_json() {
    let results = common::fixture();
    let text = Format::Csv.render(&results);
    let (header, rows) = records(&text);
    assert_eq!(header, HEADER);
    for b in results.backends.iter().filter(|b| b.available) {
        let ready = Summary::of(&as_f64(&b.boot.to_ready_ns)).unwrap();
        let row = find(&rows, &b.name, "boot/to_ready");
        assert_eq!(&row[1], b.kind.label());
        assert_eq!(number(row, "n") as usize, b.boot.to_ready_ns.len());
        assert_eq!(number(row, "median"), ready.median, "{}", b.name);
        assert_eq!(number(row, "min"), ready.min, "{}", b.name);
        assert_eq!(number(row, "max"), ready.max, "{}", b.name);
        let exit = find(&rows, &b.name, "boot/to_exit");
        assert_eq!(
            number(exit, "median"),
            median(&as_f64(&b.boot.to_exit_ns)),
            "{}",
            b.name
        );
        for k in &b.overhead {
            let row = find(&rows, &b.name, &format!("overhead/{}", k.kernel));
            assert_eq!(number(row, "median"), median(&k.ns_per_iter));
        }
        if let Some(m) = &b.memory {
            let row = find(&rows, &b.name, "memory/rss");
            assert_eq!(number(row, "median") as u64, m.rss_bytes);
        }
        if let Some(i) = &b.image {
            let row = find(&rows, &b.name, "image/uncompressed");
            assert_eq!(number(row, "median") as u64, i.uncompressed);
        }
    }
    // Backends that did not run have no rows; every row is a backend that
    // ran or a built artifact.
    for row in &rows {
        let known = results
            .backends
            .iter()
            .any(|b| b.available && b.name == row[0])
            || results.images.iter().any(|a| a.name == row[0]);
        assert!(known, "{row:?}");
    }
}

#[test]
fn both_exports_are_written_where_asked() {
    let results = common::fixture();
    let tmp = vmlab_test_util::TempDir::new("reports-export");
    let md = tmp.path().join("out.md");
    let csv = tmp.path().join("out.csv");
    export::write(Format::Markdown, &results, &md).unwrap();
    export::write(Format::Csv, &results, &csv).unwrap();
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("### Boot\n\n| backend |"), "{md}");
    let (_, rows) = records(&std::fs::read_to_string(csv).unwrap());
    assert!(!rows.is_empty());
    let e = export::write(Format::Csv, &results, &tmp.path().join("missing/out.csv"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing/out.csv") && e.contains("CSV"), "{e}");
}
