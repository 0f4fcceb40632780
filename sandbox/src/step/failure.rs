//! [`Failure`]: the step that failed and its error.
use nix::errno::Errno;

use super::Step;

/// A step that failed, and the error number it failed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The step.
    pub step: Step,
    /// Its error.
    pub errno: Errno,
}

/// Maps an error of `step` to its [`Failure`].
pub(super) fn at(step: Step) -> impl Fn(Errno) -> Failure {
    move |errno| Failure { step, errno }
}
