//! A report as scores: one row per lab step, then the shapes graders import. Gradescope's
//! `results.json` and classroom50's `result.json` are built here, for the room's exports and
//! for `lab ci` alike, from the same rows.

use serde_json::{json, Value};

use super::{Report, Status};
use crate::lab::Lab;

/// One lab step as a score.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub optional: bool,
    pub score: u32,
    /// Zero for an optional step (bonus points).
    pub max_score: u32,
    pub passed: bool,
    /// What did not pass, one line per check, with its fix.
    pub output: String,
}

/// Every step of the lab, in order, scored from the report (a step it lacks scores 0).
pub fn rows(lab: &Lab, report: &Report) -> Vec<Row> {
    lab.steps
        .iter()
        .map(|s| {
            let got = report.steps.iter().find(|r| r.id == s.id);
            let passed = got.is_some_and(|r| r.status == Status::Pass);
            let output = match got {
                None => "not checked yet".to_string(),
                Some(r) => r
                    .checks
                    .iter()
                    .filter(|c| c.status != Status::Pass)
                    .map(|c| match &c.hint {
                        Some(h) => format!("{}: {} (fix: {h})", c.id, c.message),
                        None => format!("{}: {}", c.id, c.message),
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            };
            Row {
                id: s.id.clone(),
                name: if s.optional {
                    format!("{} (optional)", s.title)
                } else {
                    s.title.clone()
                },
                optional: s.optional,
                score: if passed { s.points() } else { 0 },
                max_score: if s.optional { 0 } else { s.points() },
                passed,
                output,
            }
        })
        .collect()
}

/// Gradescope's `results.json`: `score`, `max_score`, `output` and a test per step.
pub fn gradescope(rows: &[Row], output: &str) -> Value {
    json!({
        "score": rows.iter().map(|r| r.score).sum::<u32>(),
        "max_score": rows.iter().map(|r| r.max_score).sum::<u32>(),
        "output": output,
        "tests": rows.iter().map(|r| json!({
            "name": r.name,
            "score": r.score,
            "max_score": r.max_score,
            "status": if r.passed { "passed" } else { "failed" },
            "output": r.output,
        })).collect::<Vec<_>>(),
    })
}

/// Where a classroom50 result points: what the runner's environment provides.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub classroom: String,
    pub assignment: String,
    /// The submit tag's name.
    pub submission: String,
    /// URLs.
    pub commit: String,
    pub release: String,
    pub review: String,
    /// The graded commit's committer date, UTC ISO 8601.
    pub datetime: String,
    /// When this run graded it.
    pub graded_at: String,
}

/// classroom50's `result.json` (`classroom50/result/v1`). The owner and assignment type are
/// left out: the runner stamps them. Each test carries the step's id and output as extra
/// diagnostic fields, which classroom50 keeps verbatim.
pub fn classroom50(rows: &[Row], s: &Submission) -> Value {
    json!({
        "schema": "classroom50/result/v1",
        "classroom": s.classroom,
        "assignment": s.assignment,
        "submission": s.submission,
        "commit": s.commit,
        "release": s.release,
        "review": s.review,
        "datetime": s.datetime,
        "graded_at": s.graded_at,
        "score": rows.iter().map(|r| r.score).sum::<u32>(),
        "max-score": rows.iter().map(|r| r.max_score).sum::<u32>(),
        "tests": rows.iter().map(|r| json!({
            "test-name": r.id,
            "passed": r.passed,
            "score": r.score,
            "max-score": r.max_score,
            "name": r.name,
            "output": r.output,
        })).collect::<Vec<_>>(),
    })
}

/// A CSV cell: quoted when needed, and neutralised when a spreadsheet would read a formula
/// (a leading `=`, `+`, `-`, `@`, tab or CR gets a `'`).
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}
