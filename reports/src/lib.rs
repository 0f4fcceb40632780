//! vmlab results model, statistics and report (placeholder).
