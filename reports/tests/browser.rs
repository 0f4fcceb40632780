//! A real browser opens the rendered fixture: headless Chromium takes a
//! screenshot and dumps the DOM. Asserts the charts are in the DOM, the page
//! logged no errors, and the screenshot is a real picture with the chart and
//! banner colours in it.
//!
//! Skips (printing why) when `chromium` is not installed, unless
//! `VMLAB_REQUIRE_BROWSER=1` or `CI=true`, where it fails instead.
//! The screenshot and page are kept in `$CARGO_TARGET_TMPDIR/browser-report/`;
//! `VMLAB_UPDATE_SCREENSHOT=1` also remakes the README's excerpt,
//! docs/report-excerpt.png.
mod common;

use std::path::Path;

use common::browser::{chromium, console_errors, find_chromium, png, required};
use common::fixture;
use vmlab_test_util::TempDir;

/// Laptop width; tall enough for the whole fixture page, so every chart is
/// in the picture.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 9000;

#[test]
fn chromium_renders_the_report() {
    let Some(bin) = find_chromium() else {
        if required() {
            panic!("chromium is required (VMLAB_REQUIRE_BROWSER=1 or CI=true) but not found: apt-get install chromium");
        }
        eprintln!("SKIP: chromium not found on PATH (apt-get install chromium); set VMLAB_REQUIRE_BROWSER=1 to fail instead");
        return;
    };
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-report");
    let _ = std::fs::remove_dir_all(&out);
    let index = vmlab_reports::write_report(&fixture(), None, &out).expect("write report");
    let url = format!("file://{}", index.canonicalize().unwrap().display());
    let profile = TempDir::new("reports-chromium-profile");
    let shot = out.join("shot.png");

    let run = chromium(
        &bin,
        profile.path(),
        &[
            format!("--screenshot={}", shot.display()),
            format!("--window-size={WIDTH},{HEIGHT}"),
            url.clone(),
        ],
    );
    assert!(
        run.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let errors = console_errors(&run.stderr);
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    let dom = chromium(&bin, profile.path(), &["--dump-dom".into(), url]);
    assert!(dom.status.success(), "chromium --dump-dom failed");
    let errors = console_errors(&dom.stderr);
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let svgs = common::svgs(&dom);
    assert_eq!(svgs.len(), 8, "charts in the DOM: {}", svgs.len());
    for svg in svgs {
        assert!(
            svg.contains("<text") && svg.len() > 2000,
            "empty chart in the DOM"
        );
    }

    let png = std::fs::read(&shot).expect("the screenshot exists");
    assert!(png.len() > 50_000, "screenshot only {} bytes", png.len());
    let image = png::decode(&png);
    assert_eq!(
        (image.width, image.height),
        (WIDTH as usize, HEIGHT as usize)
    );
    let colours = image.distinct_colours();
    assert!(colours > 200, "screenshot looks blank: {colours} colours");
    // The software-nested banner border (#b91c1c) and container blue (#2563eb).
    let red = image.count_near([185, 28, 28]);
    let blue = image.count_near([37, 99, 235]);
    assert!(red > 500, "banner colour missing ({red} px)");
    assert!(blue > 500, "chart colour missing ({blue} px)");
    eprintln!(
        "screenshot: {} ({} bytes, {colours} colours)",
        shot.display(),
        png.len()
    );
    excerpt(&bin, profile.path(), &index);
}

/// The README's excerpt of the report: the top of the fixture's page at
/// laptop size. `VMLAB_UPDATE_SCREENSHOT=1` writes it to
/// docs/report-excerpt.png; otherwise the checked-in one must still be a
/// picture of that size.
fn excerpt(bin: &Path, profile: &Path, index: &Path) {
    const EXCERPT_HEIGHT: u32 = 900;
    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report-excerpt.png");
    if std::env::var("VMLAB_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        let url = format!("file://{}", index.canonicalize().unwrap().display());
        let run = chromium(
            bin,
            profile,
            &[
                format!("--screenshot={}", checked_in.display()),
                format!("--window-size={WIDTH},{EXCERPT_HEIGHT}"),
                url,
            ],
        );
        assert!(run.status.success(), "chromium failed on the excerpt");
    }
    let data = std::fs::read(&checked_in).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; make it with VMLAB_UPDATE_SCREENSHOT=1 cargo test -p vmlab-reports --test browser",
            checked_in.display()
        )
    });
    let image = png::decode(&data);
    assert_eq!(
        (image.width, image.height),
        (WIDTH as usize, EXCERPT_HEIGHT as usize)
    );
    assert!(image.distinct_colours() > 100, "the excerpt looks blank");
}
