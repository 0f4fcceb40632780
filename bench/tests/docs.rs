//! Every link in README.md, SECURITY.md and docs/ resolves to a file inside
//! the repository: a user who clones it has nothing else.
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap()
}

/// The targets of the Markdown links `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            out.push(rest[..end].trim().to_string());
            rest = &rest[end..];
        }
    }
    out
}

/// The links of `file` that do not resolve to an existing file inside `root`.
fn broken(root: &Path, file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let dir = file.parent().unwrap();
    links(&text)
        .into_iter()
        .filter(|l| !l.starts_with("http://") && !l.starts_with("https://"))
        .filter(|l| !l.starts_with('#') && !l.starts_with("mailto:"))
        .filter(|l| {
            let path = l.split('#').next().unwrap_or_default();
            match dir.join(path).canonicalize() {
                Ok(p) => !p.starts_with(root),
                Err(_) => true,
            }
        })
        .collect()
}

fn documents(root: &Path) -> Vec<PathBuf> {
    let mut docs = vec![root.join("README.md"), root.join("SECURITY.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "md") {
            docs.push(e.path());
        }
    }
    docs
}

#[test]
fn every_link_in_the_docs_stays_inside_the_repo() {
    let root = repo();
    let docs = documents(&root);
    assert!(docs.len() >= 4, "{docs:?}");
    for d in docs {
        let bad = broken(&root, &d);
        assert!(
            bad.is_empty(),
            "{}: links that do not resolve inside the repo: {bad:?}",
            d.display()
        );
    }
}

#[test]
fn the_link_check_catches_a_link_out_of_the_repo_and_a_missing_file() {
    // The control: a document with the links the check exists to catch.
    let root = repo();
    let dir = tempfile::tempdir_in(root.join("target")).unwrap();
    let doc = dir.path().join("bad.md");
    std::fs::write(
        &doc,
        "[a](../../../shared/ARCHITECTURE.md) [b](missing.md) [ok](https://example.org) [c](#x)",
    )
    .unwrap();
    let bad = broken(&root, &doc);
    assert_eq!(bad, ["../../../shared/ARCHITECTURE.md", "missing.md"]);
}
