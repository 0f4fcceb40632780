//! `vmlab completions SHELL` and `vmlab man` are generated from the clap
//! definitions: both name every subcommand.
use std::process::Command;

const SUBCOMMANDS: [&str; 9] = [
    "images",
    "run",
    "snapshot",
    "compare",
    "report",
    "doctor",
    "rig",
    "completions",
    "man",
];

fn vmlab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vmlab"))
        .args(args)
        .output()
        .expect("vmlab runs");
    (
        out.status.code().expect("no signal"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bash_completions_name_every_subcommand() {
    let (code, script, stderr) = vmlab(&["completions", "bash"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(script.contains("complete -F _vmlab"), "{script}");
    for sub in SUBCOMMANDS {
        assert!(script.contains(sub), "{sub} missing from the script");
    }
    assert!(script.contains("--export-csv"), "compare's flags missing");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let (code, script, stderr) = vmlab(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {stderr}");
        assert!(script.contains("compare"), "{shell}: {script}");
    }
}

#[test]
fn an_unknown_shell_is_named() {
    let (code, _, stderr) = vmlab(&["completions", "tcsh"]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("tcsh") && stderr.contains("bash"),
        "{stderr}"
    );
}

#[test]
fn the_man_page_is_roff_and_names_every_subcommand() {
    let (code, page, stderr) = vmlab(&["man"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        page.starts_with(".ie") || page.contains("\n.TH vmlab 1"),
        "{page}"
    );
    assert!(page.contains(".TH vmlab 1"), "{page}");
    assert!(page.contains(".SH SUBCOMMANDS"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!("vmlab\\-{sub}")) || page.contains(&format!("vmlab-{sub}")),
            "{sub} missing from the man page:\n{page}"
        );
    }
}

#[test]
fn man_out_writes_a_page_per_subcommand() {
    let dir = std::env::temp_dir().join(format!("vmlab-test-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("man1");
    let (code, _, stderr) = vmlab(&["man", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    for page in ["vmlab.1", "vmlab-compare.1", "vmlab-images-build.1"] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let compare = std::fs::read_to_string(out.join("vmlab-compare.1")).unwrap();
    assert!(compare.contains("export\\-csv"), "{compare}");
    // A file where the directory should be is named.
    let blocked = dir.join("file");
    std::fs::write(&blocked, "").unwrap();
    let (code, _, stderr) = vmlab(&["man", "--out", blocked.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("man page directory") && stderr.contains("file"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
