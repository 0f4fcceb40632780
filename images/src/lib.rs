//! Builds the artifacts vmlab boots (placeholder).
