//! The one error type of `lab`'s commands, and the exit code each kind of error earns.
//! Commands return `Result<i32, Error>`: `Ok` carries a verdict (0 passed, 1 failed, 3 engine
//! unreachable), `Err` a reason to stop; `cmd::main` prints it once and maps it with
//! [`Error::exit_code`] (the ripgrep pattern). Findings are never errors: a failed check is a
//! value in the report.

use crate::exit;
use crate::lab::LabError;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad usage: an unknown lab or step, a workspace that is not a directory, a bad value.
    #[error("{0}")]
    Usage(String),
    /// A lab definition that cannot be used.
    #[error(transparent)]
    Lab(#[from] LabError),
    /// The command could not do its work (a file it could not write, a demo command that failed).
    #[error("{0}")]
    Failed(String),
    /// The container engine could not be reached.
    #[error("{0}")]
    Engine(String),
    /// `lab ci`: the runner's infrastructure failed; never the learner's fail.
    #[error("infrastructure: {0}")]
    Infrastructure(String),
    /// Ctrl-C or SIGTERM; what the run had started was removed.
    #[error("interrupted: removed what lab had started")]
    Interrupted,
    /// A check panicked; what it had started was removed.
    #[error("a check crashed ({0}); what it had started was removed. Please report this.")]
    Crashed(String),
}

impl Error {
    /// The process exit code for this error (see [`crate::exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Lab(_) | Error::Crashed(_) => exit::USAGE,
            Error::Failed(_) => exit::FAILED,
            Error::Engine(_) => exit::ENGINE_UNREACHABLE,
            Error::Infrastructure(_) => exit::INFRASTRUCTURE,
            Error::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// A command's outcome: an exit verdict, or why it stopped.
pub type Result<T = i32, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_documented_exit_code() {
        assert_eq!(Error::Usage("x".into()).exit_code(), 2);
        assert_eq!(Error::Failed("x".into()).exit_code(), 1);
        assert_eq!(Error::Engine("x".into()).exit_code(), 3);
        assert_eq!(Error::Interrupted.exit_code(), 130);
    }
}
