//! The house rules a newcomer relies on, checked on the tree: no non-test
//! source file over 400 lines (in-file tests after `#[cfg(test)]` do not
//! count), and no function over 80 lines in `sandbox/` and
//! `bench/src/compare/`, where the setup steps and the measurement loop
//! must read as lists of small named steps.
//!
//! A function's length is from its `fn` line to the closing brace at the
//! same indentation (rustfmt's layout, which CI enforces).
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 400;
const MAX_FN_LINES: usize = 80;
/// Where the function rule holds (paths relative to the workspace).
const SHORT_FUNCTIONS: [&str; 2] = ["sandbox/", "bench/src/compare/"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is in the workspace")
        .to_path_buf()
}

/// Every `.rs` file below `dir`, but build outputs and git's.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("the tree reads") {
        let path = entry.expect("the tree reads").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn is_test_file(rel: &str) -> bool {
    rel.split('/').any(|c| c == "tests") || rel.ends_with("/tests.rs")
}

/// Lines before the file's first `#[cfg(test)]` at column 0.
fn code_lines(text: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with("#[cfg(test)]"))
        .unwrap_or_else(|| text.lines().count())
}

/// (name, lines) of every function with a body.
fn functions(text: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let Some(name) = fn_name(body) else { continue };
        if line.trim_end().ends_with(';') {
            continue;
        }
        let close = format!("{indent}}}");
        if let Some(end) = lines[i..].iter().position(|l| *l == close) {
            found.push((name, end + 1));
        }
    }
    found
}

/// The name when `line` (trimmed) starts a function item.
fn fn_name(line: &str) -> Option<String> {
    let mut rest = line;
    for prefix in [
        "pub(crate) ",
        "pub(super) ",
        "pub ",
        "const ",
        "unsafe ",
        "async ",
    ] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let rest = rest.strip_prefix("extern \"C\" ").unwrap_or(rest);
    let rest = rest.strip_prefix("fn ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[test]
fn no_source_file_is_over_400_lines_and_no_setup_function_over_80() {
    let root = workspace();
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 50, "the walk found the sources");
    let mut problems = Vec::new();
    for path in files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        if !is_test_file(&rel) && code_lines(&text) > MAX_FILE_LINES {
            problems.push(format!("{rel}: {} lines", code_lines(&text)));
        }
        if SHORT_FUNCTIONS.iter().any(|p| rel.starts_with(p)) {
            for (name, n) in functions(&text) {
                if n > MAX_FN_LINES {
                    problems.push(format!("{rel}: fn {name} is {n} lines"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "over the limits:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_measure() {
    // Positive controls: a long function and a long file are caught.
    let long_fn = format!("pub fn big() {{\n{}}}\n", "    step();\n".repeat(85));
    assert_eq!(functions(&long_fn), [("big".to_string(), 87)]);
    let nested = "impl X {\n    pub(crate) fn a(&self) {\n        x();\n    }\n}\n";
    assert_eq!(functions(nested), [("a".to_string(), 3)]);
    assert_eq!(functions("    fn declared(&self);\n"), []);
    let file = format!("{}#[cfg(test)]\nmod tests {{}}\n", "x\n".repeat(401));
    assert_eq!(code_lines(&file), 401);
    assert!(is_test_file("sandbox/tests/boot.rs"));
    assert!(is_test_file("sandbox/src/step/tests.rs"));
    assert!(!is_test_file("sandbox/src/step/mod.rs"));
}
