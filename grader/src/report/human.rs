//! Human output: one line per step with its word (PASS/FAIL/SKIP/ERROR), then, under every step
//! that did not pass cleanly, what was found, what was expected, and what to do.
//! Colour is decoration only and comes from the caller (`color = false` on pipes, `NO_COLOR`).

use std::fmt::Write;

use super::{Report, Status};

fn paint(color: bool, status: Status, text: &str) -> String {
    if !color {
        return text.to_string();
    }
    let code = match status {
        Status::Pass => "32",
        Status::Warn => "33",
        Status::Skip => "2",
        Status::Error => "35",
        Status::Fail => "31;1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Render the report for a terminal or a log.
pub fn render(report: &Report, color: bool) -> String {
    // Text from the learner's files and programs may hold ESC or BEL: escape it here, in the
    // renderer for terminals only; the report data keeps it as it is.
    let report = &terminal_safe(report);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lab check {}  (workspace {})",
        report.lab, report.workspace
    );
    let _ = writeln!(out, "engine: {}", report.engine);
    out.push('\n');
    let width = report.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    for step in &report.steps {
        let word = format!("{:<5}", step.status.word());
        let bonus = if step.optional {
            "  (optional, bonus)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{}  {:<width$}  {}{bonus}",
            paint(color, step.status, &word),
            step.id,
            step.title
        );
    }
    let mark = |s: Status| paint(color, s, s.word());
    for step in &report.steps {
        let shown: Vec<_> = step
            .checks
            .iter()
            .filter(|c| c.status != Status::Pass || step.status != Status::Pass)
            .filter(|c| !(c.status == Status::Pass && step.status == Status::Skip))
            .collect();
        if shown.is_empty() {
            continue;
        }
        if step.status == Status::Skip {
            // Nothing to grade yet: one line says why and what comes first.
            let c = shown[0];
            let then = c
                .hint
                .as_deref()
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "\n{} {}: {}{then}",
                mark(step.status),
                step.id,
                c.message
            );
            continue;
        }
        let _ = writeln!(out, "\n{} {} ({})", mark(step.status), step.id, step.title);
        for c in shown {
            let _ = writeln!(out, "  {} {}: {}", mark(c.status), c.id, c.message);
            if c.status == Status::Pass {
                // Context for the failures around it: one line is enough.
                continue;
            }
            let fields = [
                ("at:", &c.location),
                ("expected:", &c.expected),
                ("found:", &c.found),
                ("fix:", &c.hint),
            ];
            for (label, v) in fields {
                if let Some(v) = v {
                    let _ = writeln!(out, "      {label:<9} {v}");
                }
            }
            if let Some(v) = &c.detail {
                let _ = writeln!(out, "      {}", v.trim_end().replace('\n', "\n      | "));
            }
        }
        if step.status == Status::Fail {
            if step.optional {
                let _ = writeln!(out, "  (an optional step: it does not fail the run)");
            }
            let _ = writeln!(out, "  hint: {}", step.hint);
            let _ = writeln!(out, "  read: book/src/{}", step.book);
        }
    }
    let s = &report.summary;
    let bonus: Vec<&str> = report
        .steps
        .iter()
        .filter(|st| st.optional && st.status == Status::Pass)
        .map(|st| st.id.as_str())
        .collect();
    let bonus = if bonus.is_empty() {
        String::new()
    } else {
        format!("; bonus: {}", bonus.join(", "))
    };
    let _ = writeln!(
        out,
        "\n{} of {} steps passed; {} failed, {} skipped, {}, {}{bonus} ({:.1} s)",
        s.passed,
        s.total,
        s.failed,
        s.skipped,
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        report.duration_ms as f64 / 1000.0
    );
    if !report.engine_reachable {
        let _ = writeln!(
            out,
            "The container engine could not be reached: the file-only steps were graded, the rest are ERROR."
        );
    }
    out
}

/// A copy of the report with control characters escaped in every text it shows.
fn terminal_safe(report: &Report) -> Report {
    let esc = |s: &String| crate::bounded::escape_control(s).into_owned();
    let opt = |s: &Option<String>| s.as_ref().map(esc);
    let mut r = report.clone();
    r.workspace = esc(&r.workspace);
    r.engine = esc(&r.engine);
    for step in &mut r.steps {
        step.title = esc(&step.title);
        step.hint = esc(&step.hint);
        for c in &mut step.checks {
            c.message = esc(&c.message);
            c.expected = opt(&c.expected);
            c.found = opt(&c.found);
            c.hint = opt(&c.hint);
            c.location = opt(&c.location);
            c.detail = opt(&c.detail);
            c.evidence = opt(&c.evidence);
        }
    }
    r
}
