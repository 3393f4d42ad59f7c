//! Exit codes of `lab`, documented in one place (also shown by `lab check --help`).

/// Every graded step passed.
pub const PASSED: i32 = 0;
/// At least one step failed (or could not be graded).
pub const FAILED: i32 = 1;
/// Bad usage (unknown lab or step, bad flag) or a bad lab definition.
pub const USAGE: i32 = 2;
/// The container engine could not be reached; the file-only steps were still graded and shown.
pub const ENGINE_UNREACHABLE: i32 = 3;
/// `lab ci`: the runner's infrastructure failed (no registry answers, the repository cannot be
/// copied); never the learner's fail.
pub const INFRASTRUCTURE: i32 = 4;
/// Interrupted (Ctrl-C or SIGTERM) after removing what the run had started.
pub const INTERRUPTED: i32 = 130;

/// The table, for help texts.
pub const TABLE: &str = "Exit codes: 0 all steps passed; 1 a step failed, errored or was skipped; \
2 bad usage or a bad lab definition; 3 the container engine could not be reached (file-only \
steps are still graded and shown); 130 interrupted (what lab started was removed).";
