//! `lab ci`: replay and grade a committed repository on a runner ([`crate::ci`]), write every
//! output a course collects, and `lab ci sweep` / `lab ci collect`.

use std::path::Path;

use super::{connect, interrupted, load_lab};
use crate::ci::{self, Options, Outcome};
use crate::cli::{CiArgs, CiCommand, Format};
use crate::engine::EngineState;
use crate::error::{Error, Result};
use crate::grade::verdict;
use crate::lab::Lab;
use crate::report::{self, scores};

/// `lab ci`.
pub async fn run(args: CiArgs) -> Result {
    match args.command {
        Some(CiCommand::Sweep { run_id }) => return sweep(&run_id).await,
        Some(CiCommand::Collect {
            roster,
            out,
            results,
            clones,
        }) => return super::collect::run(&roster, &out, &results, clones.as_deref()),
        None => {}
    }
    let Some(lab_id) = args.lab.as_deref() else {
        return Err(Error::Usage(
            "name the lab to grade: `lab ci day11 --dir REPO`".into(),
        ));
    };
    let lab = load_lab(lab_id)?;
    let repo = args
        .dir
        .canonicalize()
        .map_err(|e| Error::Usage(format!("--dir {}: {e}", args.dir.display())))?;
    if !repo.is_dir() {
        return Err(Error::Usage(format!(
            "--dir {}: not a directory",
            repo.display()
        )));
    }
    let (engine, engine_line) = match connect().await {
        EngineState::Connected { engine, line } => (engine, line),
        EngineState::Unreachable { error, .. } => return Err(Error::Engine(error.to_string())),
        EngineState::NotNeeded => unreachable!("connect always connects or fails"),
    };
    let opts = Options {
        engine_line,
        repo: repo.clone(),
        registry: args.registry.clone(),
        run: args.run_id.clone(),
        command_secs: args.command_timeout,
        progress: true,
        setup_image: args.setup_in_container.clone(),
    };
    let outcome = ci::run(&lab, opts, engine, interrupted())
        .await
        .map_err(|e| Error::Infrastructure(e.0))?;
    if outcome.leftovers.total() > 0 {
        eprintln!(
            "warning: run {} left {} object(s) in the engine; `lab ci sweep --run-id {}` removes them",
            outcome.run,
            outcome.leftovers.total(),
            outcome.run
        );
    }
    if outcome.interrupted {
        return Err(Error::Interrupted);
    }
    let context = context(&outcome);
    if let Some(dir) = &args.out {
        write_outputs(dir, &lab, &outcome, &context)?;
    }
    let r = &outcome.report;
    let text = match args.format {
        Format::Human => report::human::render(r, super::check::color_wanted()),
        Format::Json => json_with_ci(&outcome),
        Format::Junit => report::junit::render(r),
        Format::Github => super::check::github_outputs(r, &context),
    };
    print!("{text}");
    Ok(verdict(r))
}

/// The lines naming what was graded: the run, the commit, the engine.
fn context(o: &Outcome) -> Vec<String> {
    // The summary names the engine itself, and GitHub's commit when it runs there.
    let mut c = vec![format!("Run: {}", o.run)];
    if let (Some(sha), None) = (&o.source.commit, std::env::var_os("GITHUB_SHA")) {
        c.push(format!("Graded commit: {sha}"));
    }
    c
}

/// The JSON report with a `ci` object: the run, the commit, each step's replay, leftovers.
pub fn json_with_ci(o: &Outcome) -> String {
    let mut v = serde_json::to_value(&o.report).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("ci".into(), serde_json::to_value(o).unwrap_or_default());
        m["ci"]["lab_version"] = env!("CARGO_PKG_VERSION").into();
    }
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// classroom50's submission fields, from the environment its runner provides (and GitHub's
/// own variables where it provides none).
fn submission(o: &Outcome) -> scores::Submission {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    let repo_url = var("GITHUB_REPOSITORY").map(|r| format!("{server}/{r}"));
    let sha = o.source.commit.clone().unwrap_or_default();
    let commit = var("COMMIT_URL")
        .or_else(|| repo_url.as_ref().map(|u| format!("{u}/commit/{sha}")))
        .unwrap_or_else(|| sha.clone());
    let now = now_utc();
    scores::Submission {
        classroom: var("CLASSROOM").unwrap_or_default(),
        assignment: var("ASSIGNMENT").unwrap_or_default(),
        submission: var("SUBMISSION_TAG")
            .or_else(|| var("GITHUB_REF_NAME"))
            .unwrap_or_default(),
        release: var("RELEASE_URL").unwrap_or_else(|| commit.clone()),
        review: var("REVIEW_URL").unwrap_or_else(|| commit.clone()),
        commit,
        datetime: ci::git(
            Path::new(&o.report.workspace),
            &["show", "-s", "--format=%cI", "HEAD"],
        )
        .and_then(|d| utc_of(&d))
        .unwrap_or_else(|| now.clone()),
        graded_at: now,
    }
}

fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .map(|s| {
            s.split('.')
                .next()
                .unwrap_or_default()
                .trim_end_matches('Z')
                .to_string()
                + "Z"
        })
        .unwrap_or_default()
}

/// A git ISO-8601 date (with its offset) as UTC `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_of(date: &str) -> Option<String> {
    let t =
        time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339).ok()?;
    let u = t.to_offset(time::UtcOffset::UTC);
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        u.year(),
        u8::from(u.month()),
        u.day(),
        u.hour(),
        u.minute(),
        u.second()
    ))
}

/// Every output of one run, into `dir`.
fn write_outputs(dir: &Path, lab: &Lab, o: &Outcome, context: &[String]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let rows = scores::rows(lab, &o.report);
    let sha = o
        .source
        .commit
        .clone()
        .unwrap_or_else(|| "(unknown commit)".into());
    let files = [
        ("report.json", json_with_ci(o)),
        ("junit.xml", report::junit::render(&o.report)),
        (
            "results.json",
            serde_json::to_string_pretty(&scores::gradescope(
                &rows,
                &format!(
                    "{}: graded by lab ci {} at commit {sha}",
                    lab.title,
                    env!("CARGO_PKG_VERSION")
                ),
            ))
            .unwrap_or_default(),
        ),
        (
            "result.json",
            serde_json::to_string_pretty(&scores::classroom50(&rows, &submission(o)))
                .unwrap_or_default(),
        ),
        ("summary.md", report::github::summary(&o.report, context)),
    ];
    for (name, text) in files {
        crate::fsutil::write_atomic(&dir.join(name), text.as_bytes()).map_err(|e| {
            Error::Failed(format!("cannot write {}: {e}", dir.join(name).display()))
        })?;
    }
    Ok(())
}

/// `lab ci sweep`: remove what a run made, and say what is left.
async fn sweep(run_id: &str) -> Result {
    if !ci::valid_run_id(run_id) {
        return Err(Error::Usage(format!(
            "--run-id {run_id:?}: use 1 to 40 lowercase letters, digits and `-`"
        )));
    }
    let engine = match connect().await {
        EngineState::Connected { engine, .. } => engine,
        EngineState::Unreachable { error, .. } => return Err(Error::Engine(error.to_string())),
        EngineState::NotNeeded => unreachable!("connect always connects or fails"),
    };
    ci::sweep_engine(engine.as_ref(), run_id).await;
    let left = ci::leftovers(engine.as_ref(), run_id).await;
    let line = format!(
        "run {run_id}: {} container(s), {} image(s), {} network(s) left",
        left.containers, left.images, left.networks
    );
    println!("{line}");
    Ok(if left.total() == 0 {
        0
    } else {
        crate::exit::FAILED
    })
}
