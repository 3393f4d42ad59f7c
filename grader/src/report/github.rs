//! `--format github`: what a GitHub Actions job shows of a grading.
//!
//! - **Annotations** on stdout (`::error file=Dockerfile,line=3,col=1,title=...::message`) for
//!   findings that have a location, within GitHub's limits: at most 10 errors and 10 warnings
//!   per step, 50 per job. The most useful are kept (failures of core steps first, in the lab's
//!   order), and one notice says how many were left out.
//! - **The job summary**: a Markdown table, appended to `$GITHUB_STEP_SUMMARY` by the caller,
//!   kept under GitHub's 1 MiB cap (rows left out are counted in a last line).

use std::fmt::Write;

use super::{CheckResult, Report, Status};

/// GitHub shows at most this many annotations of one kind (error, warning) per step...
pub const PER_KIND: usize = 10;
/// ...and this many in a whole job.
pub const PER_JOB: usize = 50;
/// GitHub refuses a step summary over 1 MiB; this leaves room for a final line.
pub const SUMMARY_CAP: usize = 1024 * 1024 - 1024;

/// `%`, CR and LF escaped, as the workflow command's message must be.
fn esc_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: also `:` and `,`.
fn esc_prop(s: &str) -> String {
    esc_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `FILE[:LINE[:COL]]` from a finding's location.
fn split_location(loc: &str) -> (String, Option<u32>, Option<u32>) {
    let mut parts: Vec<&str> = loc.rsplitn(3, ':').collect();
    parts.reverse();
    match parts.as_slice() {
        [f, l, c] if l.parse::<u32>().is_ok() && c.parse::<u32>().is_ok() => {
            (f.to_string(), l.parse().ok(), c.parse().ok())
        }
        [f, l, c] if c.parse::<u32>().is_ok() => (format!("{f}:{l}"), c.parse().ok(), None),
        [f, l] if l.parse::<u32>().is_ok() => (f.to_string(), l.parse().ok(), None),
        _ => (loc.to_string(), None, None),
    }
}

fn one_line(c: &CheckResult) -> String {
    let mut s = c.message.clone();
    if let Some(h) = &c.hint {
        let _ = write!(s, "\nHint: {h}");
    }
    s.chars().take(4_000).collect()
}

/// The annotation lines, and how many findings with a location were left out.
pub fn annotations(report: &Report) -> (Vec<String>, usize) {
    // Core steps before optional ones, failures before warnings, each in the lab's order.
    let mut candidates: Vec<(bool, u8, usize, &str, &CheckResult)> = Vec::new();
    for (i, step) in report.steps.iter().enumerate() {
        for c in &step.checks {
            let rank = match c.status {
                Status::Fail | Status::Error => 0,
                Status::Warn => 1,
                _ => continue,
            };
            if c.location.is_some() {
                candidates.push((step.optional, rank, i, step.id.as_str(), c));
            }
        }
    }
    candidates.sort_by_key(|(optional, rank, i, _, _)| (*optional, *rank, *i));
    let mut per_step: std::collections::HashMap<(&str, u8), usize> = Default::default();
    let mut out = Vec::new();
    let mut left = 0;
    for (_, rank, _, step, c) in candidates {
        let n = per_step.entry((step, rank)).or_default();
        if out.len() >= PER_JOB - 1 || *n >= PER_KIND {
            left += 1;
            continue;
        }
        *n += 1;
        let (file, line, col) = split_location(c.location.as_deref().unwrap_or_default());
        let mut props = format!("file={}", esc_prop(&file));
        if let Some(l) = line {
            let _ = write!(props, ",line={l}");
        }
        if let Some(col) = col {
            let _ = write!(props, ",col={col}");
        }
        let _ = write!(props, ",title={}", esc_prop(&format!("lab: {}", c.id)));
        let kind = if rank == 0 { "error" } else { "warning" };
        out.push(format!("::{kind} {props}::{}", esc_data(&one_line(c))));
    }
    if left > 0 {
        out.push(format!(
            "::notice title=lab::{left} more finding(s) with a location were left out (GitHub shows at most {PER_KIND} errors and {PER_KIND} warnings per step, {PER_JOB} per job); the job summary and `lab check` list them all"
        ));
    }
    (out, left)
}

/// A table cell: one line, pipes escaped, at most 500 characters.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
        .replace(['\r', '\n'], " ")
        .chars()
        .take(500)
        .collect()
}

/// The job summary: a heading naming the lab, engine and any `context` lines (the commit, the
/// lab's version), then a row per step with what to do, under [`SUMMARY_CAP`].
pub fn summary(report: &Report, context: &[String]) -> String {
    let s = &report.summary;
    let mut out = format!(
        "## lab check {}: {} of {} steps pass\n\n",
        cell(&report.lab),
        s.passed,
        s.total
    );
    for line in context
        .iter()
        .chain(std::iter::once(&format!("Engine: {}", report.engine)))
    {
        let _ = writeln!(out, "- {}", cell(line));
    }
    out.push_str("\n| step | status | points | what it found |\n|---|---|---|---|\n");
    let mut left = 0;
    for step in &report.steps {
        let first_bad = step
            .checks
            .iter()
            .find(|c| matches!(c.status, Status::Fail | Status::Error))
            .or_else(|| step.checks.iter().find(|c| c.status == Status::Warn));
        let what = match first_bad {
            Some(c) => {
                let mut w = c.message.clone();
                if let Some(h) = &c.hint {
                    let _ = write!(w, " (hint: {h})");
                }
                w
            }
            None => "all checks pass".into(),
        };
        let row = format!(
            "| {}{} | {} | {} | {} |\n",
            cell(&step.id),
            if step.optional { " (optional)" } else { "" },
            cell(&format!("{:?}", step.status).to_uppercase()),
            step.points,
            cell(&what)
        );
        if out.len() + row.len() > SUMMARY_CAP {
            left += 1;
            continue;
        }
        out.push_str(&row);
    }
    if left > 0 {
        let _ = writeln!(
            out,
            "\n{left} more step(s) left out: GitHub caps a job summary at 1 MiB."
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{StepReport, Summary};

    fn step(id: &str, checks: Vec<CheckResult>, optional: bool) -> StepReport {
        StepReport {
            id: id.into(),
            title: id.into(),
            status: if checks.iter().any(|c| c.status == Status::Fail) {
                Status::Fail
            } else {
                Status::Pass
            },
            optional,
            points: 1,
            book: String::new(),
            checks,
            hint: String::new(),
            duration_ms: 0,
        }
    }
    fn report(steps: Vec<StepReport>) -> Report {
        Report {
            schema_version: 1,
            generated_at: String::new(),
            lab: "day11".into(),
            workspace: "/w".into(),
            engine: "Docker 28.5.2".into(),
            engine_reachable: true,
            summary: Summary {
                total: steps.len(),
                ..Default::default()
            },
            steps,
            duration_ms: 0,
        }
    }

    #[test]
    fn a_located_failure_becomes_an_escaped_error_annotation() {
        let c = CheckResult::fail("dockerfile.cmd", "100% wrong,\nreally")
            .at("Dockerfile:10:1")
            .hint("use `CMD [\"a\"]`");
        let (a, left) = annotations(&report(vec![step("dockerfile", vec![c], false)]));
        assert_eq!(left, 0);
        assert_eq!(
            a[0],
            "::error file=Dockerfile,line=10,col=1,title=lab%3A dockerfile.cmd::100%25 wrong,%0Areally%0AHint: use `CMD [\"a\"]`"
        );
        assert_eq!(
            split_location(".dockerignore"),
            (".dockerignore".into(), None, None)
        );
        assert_eq!(
            split_location("compose.yaml:3"),
            ("compose.yaml".into(), Some(3), None)
        );
        let unlocated = CheckResult::fail("run.container", "no container");
        assert!(
            annotations(&report(vec![step("run", vec![unlocated], false)]))
                .0
                .is_empty()
        );
    }

    #[test]
    fn githubs_limits_keep_core_failures_and_count_the_rest() {
        let many = |n: usize, status: fn(String, String) -> CheckResult| {
            (0..n)
                .map(|i| status(format!("x.{i}"), "m".into()).at(format!("Dockerfile:{}", i + 1)))
                .collect::<Vec<_>>()
        };
        let fail = |id: String, m: String| CheckResult::fail(id, m);
        let warn = |id: String, m: String| CheckResult::warn(id, m);
        let mut steps = vec![step("opt", many(5, fail), true)];
        for s in 0..6 {
            let mut checks = many(12, fail);
            checks.extend(many(3, warn));
            steps.push(step(&format!("s{s}"), checks, false));
        }
        let (a, left) = annotations(&report(steps));
        assert_eq!(a.len(), PER_JOB, "49 annotations and the notice");
        assert!(
            a.last().unwrap().starts_with("::notice")
                && a.last().unwrap().contains(&left.to_string())
        );
        // 6 core steps x 12 failures + 3 warnings + 5 optional = 95 candidates, 49 kept.
        assert_eq!(left, 95 - 49);
        assert!(
            a[..49].iter().all(|l| l.starts_with("::error")),
            "failures of core steps first"
        );
        assert!(
            a.iter().filter(|l| l.contains("title=lab%3A x.11")).count() == 0,
            "at most 10 per step and kind"
        );
    }

    #[test]
    fn the_summary_is_a_table_under_the_cap() {
        let c = CheckResult::fail("build.exists", "a | b\nc").hint("build it");
        let md = summary(
            &report(vec![step("build", vec![c], false)]),
            &["Commit: abc123".into()],
        );
        assert!(
            md.contains("- Commit: abc123") && md.contains("- Engine: Docker 28.5.2"),
            "{md}"
        );
        assert!(
            md.contains("| build | FAIL | 1 | a \\| b c (hint: build it) |"),
            "{md}"
        );
        let huge: Vec<StepReport> = (0..3_000)
            .map(|i| {
                step(
                    &format!("s{i}"),
                    vec![CheckResult::fail("x", "y".repeat(600))],
                    false,
                )
            })
            .collect();
        let md = summary(&report(huge), &[]);
        assert!(md.len() <= 1024 * 1024, "{}", md.len());
        assert!(md.contains("more step(s) left out"));
    }
}
