//! Charts as inline SVG strings, one file per chart kind.
//!
//! Every chart is a horizontal "row chart": one row per backend (names stay
//! readable on the y axis), values on the x axis, log scale where values span
//! orders of magnitude. Emulated VMs carry "(emulated)" in their row label.
//! plotters' SVG backend emits `<text>` elements, so no font files are needed.
mod boot;
mod error;
mod format;
mod frame;
mod images;
mod memory;
mod overhead;
mod phases;
mod scale;

pub use boot::boot_chart;
pub use error::ChartError;
pub use format::{fmt_bytes, fmt_ns, fmt_ratio};
pub use images::images_chart;
pub use memory::memory_chart;
pub use overhead::overhead_chart;
pub use phases::phases_chart;
pub use scale::scale_charts;
