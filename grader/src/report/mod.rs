//! The outcome of a `lab check`: plain data, and pure functions that render it.
//!
//! A failed check is a value here, never an `Err`: the run always ends with a full report.
//! The JSON form ([`json`]) is the documented, versioned interface (`schema_version`).

pub mod github;
pub mod human;
pub mod json;
pub mod junit;
pub mod scores;

use serde::{Deserialize, Serialize};

/// Version of the JSON report's shape; bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The state of one check, or of a step.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// What the lesson asks is there.
    Pass,
    /// Right for the lesson, but worth improving; does not fail the step.
    Warn,
    /// A prerequisite is missing (no image to run, say): nothing to grade yet.
    #[default]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// What proved the verdict, when it is not this run's own probe of the thing itself (a
    /// result reused from the cache by image id, say). Added in schema 1; absent before.
    #[serde(default)]
    pub evidence: Option<String>,
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
            evidence: None,
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
    fn with(mut self, field: fn(&mut Self) -> &mut Option<String>, v: impl Into<String>) -> Self {
        *field(&mut self) = Some(v.into());
        self
    }
    pub fn expected(self, v: impl Into<String>) -> Self {
        self.with(|c| &mut c.expected, v)
    }
    pub fn found(self, v: impl Into<String>) -> Self {
        self.with(|c| &mut c.found, v)
    }
    pub fn hint(self, v: impl Into<String>) -> Self {
        self.with(|c| &mut c.hint, v)
    }
    /// Where in a file: `FILE:LINE:COLUMN`.
    pub fn at(self, v: impl Into<String>) -> Self {
        self.with(|c| &mut c.location, v)
    }
    pub fn evidence(self, v: impl Into<String>) -> Self {
        self.with(|c| &mut c.evidence, v)
    }
    /// Evidence such as a log tail, capped at [`crate::bounded::MAX_DETAIL`] (its end kept).
    pub fn detail(mut self, v: impl Into<String>) -> Self {
        let v = v.into();
        if !v.trim().is_empty() {
            self.detail = Some(crate::bounded::cap_tail(&v, crate::bounded::MAX_DETAIL));
        }
        self
    }
}

/// One step's outcome.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StepReport {
    pub id: String,
    pub title: String,
    pub status: Status,
    /// An optional ("going further") step; not counted in the summary. Added in schema 1.
    #[serde(default)]
    pub optional: bool,
    /// The points the step is worth (`points` in the lab file, default 1). Added in schema 1.
    #[serde(default = "one")]
    pub points: u32,
    /// The book chapter that teaches the step.
    pub book: String,
    pub checks: Vec<CheckResult>,
    /// The step's first hint, shown when it does not pass.
    pub hint: String,
    pub duration_ms: u64,
}

fn one() -> u32 {
    1
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

/// Counts of the core (not optional) steps' outcomes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
    pub warnings: usize,
}

/// A whole `lab check`. It deserializes as well as it serializes: the room server reads it.
/// Consumers must ignore fields they do not know; new fields keep `schema_version` 1.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    /// When the grading ended, RFC 3339 in UTC; orders reports of one workspace. Added in
    /// schema 1; empty when absent.
    #[serde(default)]
    pub generated_at: String,
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
    /// Build the summary from the core steps (optional ones are bonus, not counted).
    pub fn summarize(steps: &[StepReport]) -> Summary {
        let steps: Vec<&StepReport> = steps.iter().filter(|s| !s.optional).collect();
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

    /// True when every core step graded passed. Optional steps are bonus: they never fail
    /// the run, except when the learner asked for them by name (then they are not optional
    /// for this run, and the caller marks them so).
    pub fn all_passed(&self) -> bool {
        self.steps
            .iter()
            .filter(|s| !s.optional)
            .all(|s| s.status == Status::Pass)
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

    #[test]
    fn a_report_round_trips_and_older_reports_still_read() {
        let step = StepReport {
            id: "nonroot".into(),
            title: "t".into(),
            status: Status::Fail,
            optional: true,
            points: 2,
            book: "b.md".into(),
            checks: vec![CheckResult::pass("nonroot.user", "uid 1000").evidence("cache")],
            hint: "h".into(),
            duration_ms: 1,
        };
        let r = Report {
            schema_version: SCHEMA_VERSION,
            generated_at: "2026-11-29T20:00:00Z".into(),
            lab: "day11".into(),
            workspace: "/w".into(),
            engine: "e".into(),
            engine_reachable: true,
            summary: Report::summarize(std::slice::from_ref(&step)),
            steps: vec![step],
            duration_ms: 5,
        };
        // An optional step neither counts in the summary nor fails the run.
        assert_eq!(r.summary.total, 0);
        assert!(r.all_passed());
        let text = json::render(&r);
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back.steps[0].checks, r.steps[0].checks);
        assert_eq!(back.generated_at, r.generated_at);
        // A report written before these fields existed, with a field from the future.
        let old = r#"{"schema_version":1,"lab":"day11","workspace":"/w","engine":"e",
            "engine_reachable":true,"duration_ms":1,"future_field":[1],
            "summary":{"total":1,"passed":1,"failed":0,"skipped":0,"errors":0,"warnings":0},
            "steps":[{"id":"build","title":"t","status":"pass","book":"b.md","hint":"h",
            "duration_ms":1,"checks":[{"id":"build.exists","status":"pass","message":"m",
            "expected":null,"found":null,"hint":null,"location":null,"detail":null}]}]}"#;
        let old: Report = serde_json::from_str(old).unwrap();
        assert_eq!(old.steps[0].points, 1);
        assert!(!old.steps[0].optional);
        assert_eq!(old.steps[0].checks[0].evidence, None);
    }
}
