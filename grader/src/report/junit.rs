//! `--format junit`: one `<testsuite>` per step and one `<testcase>` per check, for CI systems
//! and classroom autograders. Fail becomes `<failure>`, error `<error>`, skip `<skipped>`;
//! a warning passes, with its message in `<system-out>`.

use std::fmt::Write;

use super::{CheckResult, Report, Status};

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn body(c: &CheckResult) -> String {
    let mut s = c.message.clone();
    for (k, v) in [
        ("expected", &c.expected),
        ("found", &c.found),
        ("at", &c.location),
        ("hint", &c.hint),
        ("detail", &c.detail),
    ] {
        if let Some(v) = v {
            let _ = write!(s, "\n{k}: {v}");
        }
    }
    s
}

/// Render the report as JUnit XML.
pub fn render(report: &Report) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let checks = report.steps.iter().map(|s| s.checks.len()).sum::<usize>();
    let count = |st| {
        report
            .steps
            .iter()
            .flat_map(|s| &s.checks)
            .filter(|c| c.status == st)
            .count()
    };
    let _ = writeln!(
        x,
        "<testsuites name=\"lab check {}\" tests=\"{checks}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        esc(&report.lab),
        count(Status::Fail),
        count(Status::Error),
        count(Status::Skip),
        report.duration_ms as f64 / 1000.0
    );
    for step in &report.steps {
        let n = |st| step.checks.iter().filter(|c| c.status == st).count();
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}.{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            esc(&report.lab),
            esc(&step.id),
            step.checks.len(),
            n(Status::Fail),
            n(Status::Error),
            n(Status::Skip),
            step.duration_ms as f64 / 1000.0
        );
        for c in &step.checks {
            let _ = write!(
                x,
                "    <testcase classname=\"{}.{}\" name=\"{}\"",
                esc(&report.lab),
                esc(&step.id),
                esc(&c.id)
            );
            let text = esc(&body(c));
            let msg = esc(&c.message);
            match c.status {
                Status::Pass => x.push_str("/>\n"),
                Status::Warn => {
                    let _ = writeln!(
                        x,
                        ">\n      <system-out>{text}</system-out>\n    </testcase>"
                    );
                }
                Status::Fail => {
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{msg}\">{text}</failure>\n    </testcase>"
                    );
                }
                Status::Error => {
                    let _ = writeln!(
                        x,
                        ">\n      <error message=\"{msg}\">{text}</error>\n    </testcase>"
                    );
                }
                Status::Skip => {
                    let _ = writeln!(x, ">\n      <skipped message=\"{msg}\"/>\n    </testcase>");
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}
