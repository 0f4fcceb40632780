//! Progress on stderr: indicatif bars and spinners on a terminal, plain
//! lines otherwise, nothing when hidden (tests, benches).
use std::cell::Cell;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bar,
    Lines,
    Hidden,
}

/// Progress of the matrix (a bar with a step count).
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    bar: Option<ProgressBar>,
    total: u64,
    done: Cell<u64>,
}

impl Progress {
    /// Shows nothing.
    pub fn hidden() -> Progress {
        Progress {
            mode: Mode::Hidden,
            bar: None,
            total: 0,
            done: Cell::new(0),
        }
    }

    /// A bar of `total` steps (plain lines when stderr is not a terminal).
    pub fn bar(total: u64) -> Progress {
        let mode = if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        };
        let bar = (mode == Mode::Bar).then(|| {
            let bar = ProgressBar::new(total);
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            mode,
            bar,
            total,
            done: Cell::new(0),
        }
    }

    /// Starts a step described by `what`.
    pub fn step(&self, what: &str) {
        self.done.set(self.done.get() + 1);
        match (&self.bar, self.mode) {
            (Some(bar), _) => {
                bar.set_position(self.done.get() - 1);
                bar.set_message(what.to_string());
            }
            (None, Mode::Lines) => {
                eprintln!("vmlab: [{}/{}] {what}", self.done.get(), self.total);
            }
            _ => {}
        }
    }

    /// A message that stays (above the bar).
    pub fn note(&self, msg: &str) {
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.println(format!("vmlab: {msg}")),
            (None, Mode::Lines) => eprintln!("vmlab: {msg}"),
            _ => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `f` under a spinner saying `what` (a plain line when stderr is not
/// a terminal).
pub fn spin<T>(what: &str, hidden: bool, f: impl FnOnce() -> T) -> T {
    if hidden {
        return f();
    }
    if !std::io::stderr().is_terminal() {
        eprintln!("vmlab: {what}...");
        return f();
    }
    let spinner = ProgressBar::new_spinner();
    spinner.set_message(format!("{what}..."));
    spinner.enable_steady_tick(Duration::from_millis(100));
    let out = f();
    spinner.finish_and_clear();
    out
}
