//! The outcome of a `lab check`: plain data, and pure functions that render it.
//!
//! A failed check is a value here, never an `Err`: the run always ends with a full report.
//! The JSON form ([`json`]) is the documented, versioned interface (`schema_version`).

pub mod human;
pub mod json;
pub mod junit;

use serde::Serialize;

/// Version of the JSON report's shape; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The state of one check, or of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// What the lesson asks is there.
    Pass,
    /// Right for the lesson, but worth improving; does not fail the step.
    Warn,
    /// A prerequisite is missing (no image to run, say): nothing to grade yet.
    Skip,
    /// The grader could not decide (engine unreachable, a timeout).
    Error,
    /// What the lesson asks is missing or wrong.
    Fail,
}

impl Status {
    /// The word shown in human output (never colour alone).
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Skip => "SKIP",
            Status::Error => "ERROR",
            Status::Fail => "FAIL",
        }
    }
}

/// One check's finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Stable id, `<step>.<what>`, e.g. `dockerfile.cmd`.
    pub id: String,
    pub status: Status,
    /// What was found, in a sentence.
    pub message: String,
    /// What the lesson expects, where it applies.
    pub expected: Option<String>,
    /// What was found instead, where it applies.
    pub found: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// `FILE:LINE:COLUMN` when the finding is in a file.
    pub location: Option<String>,
    /// Evidence such as a log tail.
    pub detail: Option<String>,
}

impl CheckResult {
    fn new(id: impl Into<String>, status: Status, message: impl Into<String>) -> Self {
        CheckResult {
            id: id.into(),
            status,
            message: message.into(),
            expected: None,
            found: None,
            hint: None,
            location: None,
            detail: None,
        }
    }
    pub fn pass(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(id, Status::Pass, message)
    }
    pub fn fail(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(id, Status::Fail, message)
    }
    pub fn warn(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(id, Status::Warn, message)
    }
    pub fn skip(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(id, Status::Skip, message)
    }
    pub fn error(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(id, Status::Error, message)
    }
    pub fn expected(mut self, v: impl Into<String>) -> Self {
        self.expected = Some(v.into());
        self
    }
    pub fn found(mut self, v: impl Into<String>) -> Self {
        self.found = Some(v.into());
        self
    }
    pub fn hint(mut self, v: impl Into<String>) -> Self {
        self.hint = Some(v.into());
        self
    }
    pub fn at(mut self, v: impl Into<String>) -> Self {
        self.location = Some(v.into());
        self
    }
    pub fn detail(mut self, v: impl Into<String>) -> Self {
        let v = v.into();
        if !v.trim().is_empty() {
            self.detail = Some(v);
        }
        self
    }
}

/// One step's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub id: String,
    pub title: String,
    pub status: Status,
    /// The book chapter that teaches the step.
    pub book: String,
    pub checks: Vec<CheckResult>,
    /// The step's first hint, shown when it does not pass.
    pub hint: String,
    pub duration_ms: u64,
}

/// A step's status from its checks: any fail fails it; else any error makes it an error; else
/// it passes if something passed (warnings included) and is skipped if everything was skipped.
pub fn step_status(checks: &[CheckResult]) -> Status {
    let any = |s| checks.iter().any(|c| c.status == s);
    if any(Status::Fail) {
        Status::Fail
    } else if any(Status::Error) {
        Status::Error
    } else if any(Status::Pass) || any(Status::Warn) {
        Status::Pass
    } else {
        Status::Skip
    }
}

/// Counts of step outcomes.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// A whole `lab check`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub lab: String,
    pub workspace: String,
    /// `Docker 20.10.24 (API 1.41) at unix:///var/run/docker.sock`, or why there is none.
    pub engine: String,
    pub engine_reachable: bool,
    pub steps: Vec<StepReport>,
    pub summary: Summary,
    pub duration_ms: u64,
}

impl Report {
    /// Build the summary from the steps.
    pub fn summarize(steps: &[StepReport]) -> Summary {
        let count = |s| steps.iter().filter(|st| st.status == s).count();
        Summary {
            total: steps.len(),
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            skipped: count(Status::Skip),
            errors: count(Status::Error),
            warnings: steps
                .iter()
                .flat_map(|s| &s.checks)
                .filter(|c| c.status == Status::Warn)
                .count(),
        }
    }

    /// True when every step passed.
    pub fn all_passed(&self) -> bool {
        self.steps.iter().all(|s| s.status == Status::Pass)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_status_precedence() {
        let p = CheckResult::pass("a", "");
        let w = CheckResult::warn("b", "");
        let s = CheckResult::skip("c", "");
        let e = CheckResult::error("d", "");
        let f = CheckResult::fail("e", "");
        assert_eq!(step_status(&[p.clone(), w.clone()]), Status::Pass);
        assert_eq!(step_status(std::slice::from_ref(&s)), Status::Skip);
        assert_eq!(step_status(&[p.clone(), s.clone()]), Status::Pass);
        assert_eq!(step_status(&[p.clone(), e.clone()]), Status::Error);
        assert_eq!(step_status(&[e, f, p]), Status::Fail);
        assert_eq!(step_status(&[]), Status::Skip);
    }
}
