//! The vmlab namespace sandbox (placeholder).
