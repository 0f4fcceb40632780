//! Human units for axis labels and tables.

/// Nanoseconds as "850 µs", "5.80 ms", "1.15 s".
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "–".to_string();
    }
    let (v, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    format!("{} {unit}", three_digits(v))
}

/// Bytes as "620 KiB", "12.0 MiB".
pub fn fmt_bytes(bytes: f64) -> String {
    if !bytes.is_finite() {
        return "–".to_string();
    }
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{} {}", three_digits(v), UNITS[i])
}

/// A ratio as "1.02×", "950×".
pub fn fmt_ratio(r: f64) -> String {
    if !r.is_finite() {
        return "–".to_string();
    }
    format!("{}×", three_digits(r))
}

/// A tick label: trailing zeros dropped ("1.00 ms" -> "1 ms", "2.50×" -> "2.5×").
pub(crate) fn tick(label: &str) -> String {
    let end = label
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .unwrap_or(label.len());
    let (num, unit) = label.split_at(end);
    if !num.contains('.') {
        return label.to_string();
    }
    let num = num.trim_end_matches('0').trim_end_matches('.');
    format!("{num}{unit}")
}

/// Three significant digits, no exponent.
fn three_digits(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(fmt_ns(850_000.0), "850 µs");
        assert_eq!(fmt_ns(5_800_000.0), "5.80 ms");
        assert_eq!(fmt_ns(1_150_000_000.0), "1.15 s");
        assert_eq!(fmt_ns(12.0), "12.0 ns");
        assert_eq!(fmt_bytes(620.0 * 1024.0), "620 KiB");
        assert_eq!(fmt_bytes(12.0 * 1024.0 * 1024.0), "12.0 MiB");
        assert_eq!(fmt_bytes(100.0), "100 B");
        assert_eq!(fmt_ratio(1.0234), "1.02×");
        assert_eq!(fmt_ratio(f64::NAN), "–");
        assert_eq!(tick("1.00 ms"), "1 ms");
        assert_eq!(tick("10.0 ms"), "10 ms");
        assert_eq!(tick("2.50×"), "2.5×");
        assert_eq!(tick("100 µs"), "100 µs");
    }
}
