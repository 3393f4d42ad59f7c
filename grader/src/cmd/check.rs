//! `lab check`: grade a workspace, print the report, record progress, exit with its verdict.
//! The grading itself is the library's [`crate::grade::grade`], through [`super::run_grade`].

use std::io::IsTerminal;

use super::{find_step, load_lab, run_grade};
use crate::cli::{CheckArgs, Format};
use crate::error::Result;
use crate::grade::{verdict, Request};
use crate::report;
use crate::state::State;

/// Whether to colour human output: only on a terminal, never with `NO_COLOR`.
pub fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `lab check`.
pub async fn run(args: CheckArgs) -> Result {
    let lab = load_lab(&args.lab)?;
    for s in &args.steps {
        find_step(&lab, s)?;
    }
    let ws = args.dir.workspace()?;
    let req = Request {
        steps: args.steps,
        optional: args.optional,
        dir: ws.path().to_path_buf(),
        python: args.python,
        image: args.image,
        bindings: Default::default(),
    };
    let progress = args.format == Format::Human && std::io::stderr().is_terminal();
    let cache = std::sync::Arc::new(crate::cache::Cache::persistent());
    let report = run_grade(&lab, req, cache, None, progress).await?;
    let text = match args.format {
        Format::Human => report::human::render(&report, color_wanted()),
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report),
        Format::Github => github_outputs(&report, &[]),
    };
    print!("{text}");
    let mut state = State::load(ws.path());
    state.record(&report);
    if let Err(e) = state.save(ws.path()) {
        eprintln!("warning: could not save progress: {e}");
    }
    super::classroom::report_to_room(ws.path(), Some(&report)).await;
    Ok(verdict(&report))
}

/// `--format github`: the annotations to print, with the job summary appended to
/// `$GITHUB_STEP_SUMMARY` (the runner's file) or, without it, printed after them.
pub fn github_outputs(report: &report::Report, extra: &[String]) -> String {
    let mut context = vec![format!("lab {}", env!("CARGO_PKG_VERSION"))];
    context.extend(extra.iter().cloned());
    for (var, what) in [
        ("GITHUB_REPOSITORY", "Repository"),
        ("GITHUB_SHA", "Commit"),
    ] {
        if let Ok(v) = std::env::var(var) {
            let v: String = v.chars().take(200).collect();
            context.push(format!("{what}: {v}"));
        }
    }
    let (lines, _) = report::github::annotations(report);
    let summary = report::github::summary(report, &context);
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    let written = std::env::var_os("GITHUB_STEP_SUMMARY").is_some_and(|path| {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .and_then(|mut f| f.write_all(summary.as_bytes()))
            .is_ok()
    });
    if !written {
        out.push_str(&summary);
    }
    out
}
