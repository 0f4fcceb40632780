//! The tiny vmlab VMM (placeholder).
