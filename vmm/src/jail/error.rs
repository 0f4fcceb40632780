//! The jail's errors.
use super::seccomp;

/// Errors of the jail.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The jailed VMM process could not be started.
    #[error("cannot start the jailed VMM process")]
    Fork(#[source] std::io::Error),
    /// The report pipe could not be created.
    #[error("cannot create the pipe for the jailed VMM's report")]
    Pipe(#[source] nix::Error),
    /// A jail step failed.
    #[error("the VMM's jail could not {step}")]
    Step {
        /// The step.
        step: &'static str,
        /// What the kernel said.
        #[source]
        source: nix::Error,
    },
    /// Writing an id map failed.
    #[error("the VMM's jail could not write {file}")]
    IdMap {
        /// The file.
        file: &'static str,
        /// What the kernel said.
        #[source]
        source: std::io::Error,
    },
    /// Joining the caller's cgroup failed.
    #[error("the jailed VMM could not join its cgroup through {}", file.display())]
    Cgroup {
        /// The control file.
        file: std::path::PathBuf,
        /// What the kernel said.
        #[source]
        source: std::io::Error,
    },
    /// Clearing capabilities failed.
    #[error("the VMM's jail could not clear its {set} capabilities: {message}")]
    Caps {
        /// The set.
        set: &'static str,
        /// What the caps crate said.
        message: String,
    },
    /// The seccomp filter could not be built or installed.
    #[error(transparent)]
    Filter(#[from] seccomp::Error),
    /// The jailed VMM made a call outside its allow-list and was killed.
    #[error(
        "the VMM was killed by its seccomp filter (SIGSYS): it made a system call outside its \
         allow-list (vmm/src/jail/seccomp.rs); the kernel log names the call (`dmesg | grep \
         'type=1326.* pid={pid} '`, syscall=N)"
    )]
    Seccomp {
        /// The VMM process's pid (the kernel's audit line names it).
        pid: i32,
    },
    /// The jailed VMM died some other way.
    #[error("the jailed VMM process {how} without a report")]
    Died {
        /// How: "was killed by signal N", "exited with status N".
        how: String,
    },
    /// The report did not decode.
    #[error("the jailed VMM process sent a malformed report")]
    Malformed,
    /// The jailed VMM could not jail itself, with this message (its error
    /// chain).
    #[error("{0}")]
    Setup(String),
    /// The jailed VMM failed, with this message (its error chain).
    #[error("{0}")]
    InVmm(String),
}

impl Error {
    /// Whether this is a failure to set the jail up (in either process).
    pub fn is_setup(&self) -> bool {
        matches!(
            self,
            Error::Step { .. }
                | Error::IdMap { .. }
                | Error::Cgroup { .. }
                | Error::Caps { .. }
                | Error::Filter(_)
                | Error::Setup(_)
        )
    }
}

pub(super) fn step(step: &'static str) -> impl FnOnce(nix::Error) -> Error {
    move |source| Error::Step { step, source }
}
