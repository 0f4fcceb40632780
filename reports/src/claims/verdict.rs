//! A claim's row: the quotes, the pair compared, the stated test, the
//! figures and the verdict.
use serde::Serialize;

/// What this machine says about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The numbers agree with the claim.
    Supported,
    /// The numbers say the opposite.
    Contradicted,
    /// No difference beyond the test's threshold, or the parts of the claim disagree.
    Mixed,
    /// This run has no comparable pair that answers the claim.
    NotMeasurable,
}

impl Verdict {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::Contradicted => "contradicted",
            Verdict::Mixed => "mixed",
            Verdict::NotMeasurable => "not measurable here",
        }
    }
}

/// One row of the claims table.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    /// The notes' words, verbatim.
    pub quotes: Vec<&'static str>,
    /// Which classes of backend are compared (e.g. "Linux containers vs Linux VMs").
    pub pair: &'static str,
    /// The metric the claim maps to.
    pub metric: String,
    /// The test that decides the verdict, with its threshold.
    pub test: String,
    /// The container side's figure.
    pub container: String,
    /// The VM side's figure.
    pub vm: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The verdict's label.
    pub verdict_label: &'static str,
    /// Why, including what the figure does not measure.
    pub reason: String,
}

impl Claim {
    pub(super) fn new(
        quotes: Vec<&'static str>,
        pair: &'static str,
        metric: &str,
        test: &str,
    ) -> Claim {
        Claim {
            quotes,
            pair,
            metric: metric.to_string(),
            test: test.to_string(),
            container: "–".into(),
            vm: "–".into(),
            verdict: Verdict::NotMeasurable,
            verdict_label: Verdict::NotMeasurable.label(),
            reason: String::new(),
        }
    }

    pub(super) fn set(&mut self, verdict: Verdict, reason: String) {
        self.verdict = verdict;
        self.verdict_label = verdict.label();
        self.reason = reason;
    }

    /// "Not measurable here" with the reason.
    pub(super) fn not_measurable(mut self, reason: impl Into<String>) -> Claim {
        self.set(Verdict::NotMeasurable, reason.into());
        self
    }
}

/// The verdict of a ratio "VM figure ÷ container figure" where the claim
/// says the VM's is larger: supported when the ratio reaches `threshold`
/// (and, with an interval, the interval lies above 1), contradicted when the
/// ratio is at most 1/`threshold` (interval below 1), mixed otherwise.
pub(super) fn ratio_verdict(ratio: f64, ci: Option<(f64, f64)>, threshold: f64) -> Verdict {
    let (above, below) = match ci {
        Some((lo, hi)) => (lo > 1.0, hi < 1.0),
        None => (true, true),
    };
    if ratio >= threshold && above {
        Verdict::Supported
    } else if ratio <= 1.0 / threshold && below {
        Verdict::Contradicted
    } else {
        Verdict::Mixed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_labels() {
        assert_eq!(Verdict::NotMeasurable.label(), "not measurable here");
        assert_eq!(
            serde_json::to_string(&Verdict::NotMeasurable).unwrap(),
            "\"not-measurable\""
        );
    }

    #[test]
    fn ratio_verdict_needs_threshold_and_interval() {
        assert_eq!(
            ratio_verdict(2.0, Some((1.5, 2.5)), 1.1),
            Verdict::Supported
        );
        // Above the threshold but the interval reaches 1: no verdict.
        assert_eq!(ratio_verdict(2.0, Some((0.9, 2.5)), 1.1), Verdict::Mixed);
        // Interval excludes 1 but the gap is below the threshold.
        assert_eq!(ratio_verdict(1.05, Some((1.01, 1.08)), 1.1), Verdict::Mixed);
        assert_eq!(
            ratio_verdict(0.5, Some((0.4, 0.6)), 1.1),
            Verdict::Contradicted
        );
        // Exact figures (no interval): the threshold alone.
        assert_eq!(ratio_verdict(1.1, None, 1.1), Verdict::Supported);
        assert_eq!(ratio_verdict(0.95, None, 1.1), Verdict::Mixed);
        assert_eq!(ratio_verdict(0.9, None, 1.1), Verdict::Contradicted);
    }
}
