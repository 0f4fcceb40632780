//! [`ChartError`]: drawing a chart failed.
/// Drawing a chart failed.
#[derive(Debug, thiserror::Error)]
#[error("drawing the {chart} chart failed: {message}")]
pub struct ChartError {
    /// Which chart.
    pub chart: &'static str,
    /// What plotters reported.
    pub message: String,
}

impl ChartError {
    pub(crate) fn new(chart: &'static str, e: impl std::fmt::Display) -> Self {
        ChartError {
            chart,
            message: e.to_string(),
        }
    }
}
