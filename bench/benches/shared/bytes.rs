//! A Criterion measurement in bytes, so memory use and image sizes show up
//! in `cargo bench` next to the boot times. A routine measured with it
//! returns the bytes of `iters` iterations from `iter_custom`.
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::Throughput;

/// Bytes, as returned by the routine.
pub struct Bytes;

impl Measurement for Bytes {
    type Intermediate = ();
    type Value = u64;

    fn start(&self) -> Self::Intermediate {}

    fn end(&self, _: Self::Intermediate) -> Self::Value {
        // Only `iter_custom` is meaningful with this measurement: the routine
        // itself says how many bytes its iterations used.
        0
    }

    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        v1 + v2
    }

    fn zero(&self) -> Self::Value {
        0
    }

    fn to_f64(&self, value: &Self::Value) -> f64 {
        *value as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &BytesFormatter
    }
}

/// Binary units (B, KiB, MiB, GiB) for Criterion's output.
struct BytesFormatter;

impl BytesFormatter {
    fn unit(typical: f64) -> (f64, &'static str) {
        const UNITS: [(f64, &str); 4] = [
            (1024.0 * 1024.0 * 1024.0, "GiB"),
            (1024.0 * 1024.0, "MiB"),
            (1024.0, "KiB"),
            (1.0, "B"),
        ];
        UNITS
            .into_iter()
            .find(|(scale, _)| typical.abs() >= *scale)
            .unwrap_or((1.0, "B"))
    }
}

impl ValueFormatter for BytesFormatter {
    fn scale_values(&self, typical_value: f64, values: &mut [f64]) -> &'static str {
        let (scale, unit) = Self::unit(typical_value);
        for v in values.iter_mut() {
            *v /= scale;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        _typical_value: f64,
        _throughput: &Throughput,
        _values: &mut [f64],
    ) -> &'static str {
        // A throughput of bytes per byte means nothing: values stay as they are.
        "B/B"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "B"
    }
}
