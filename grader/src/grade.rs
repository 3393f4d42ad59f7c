//! Grading as a library: a lab, a request and the backends go in, a [`Report`] comes out.
//!
//! [`grade`] does no printing, reads no flags and handles no signals, so every front end can
//! call it: `lab check` (prints the report), `lab watch` (prints each step as it finishes, from
//! the `on_step` stream, and keeps one [`Cache`] for the session), `lab demo`, and the room
//! server. Connecting to the engine, Ctrl-C and sweeping what a run started are the caller's
//! (`cmd::run_grade` for the CLI), because a server does them differently.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::OnceCell;

use crate::cache::Cache;
use crate::checks::Ctx;
use crate::cleanup::Cleanup;
use crate::engine::EngineState;
use crate::lab::{Lab, Step};
use crate::report::{self, step_status, CheckResult, Report, StepReport};

/// What to grade.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Grade only these steps (optional ones included when named); all core steps when empty.
    pub steps: Vec<String>,
    /// Grade the optional steps too (`--optional`).
    pub optional: bool,
    /// The learner's workspace, absolute.
    pub dir: PathBuf,
    /// `--python`: the interpreter whose environment the editable step inspects.
    pub python: Option<PathBuf>,
    /// `--image`: the tag to grade when there are several.
    pub image: Option<String>,
    /// The names the run uses in place of the lab's (`lab ci`); empty otherwise.
    pub bindings: crate::checks::Bindings,
}

impl Request {
    /// The steps this request grades, in lab order: the named ones, else the core steps (and
    /// the optional ones with `optional`).
    pub fn selected<'a>(&self, lab: &'a Lab) -> Vec<&'a Step> {
        lab.steps
            .iter()
            .filter(|s| {
                if self.steps.is_empty() {
                    self.optional || !s.optional
                } else {
                    self.steps.contains(&s.id)
                }
            })
            .collect()
    }

    /// Whether any selected step needs the container engine.
    pub fn needs_engine(&self, lab: &Lab) -> bool {
        self.selected(lab)
            .iter()
            .flat_map(|s| &s.checks)
            .any(|c| c.needs().engine)
    }
}

/// What a run reads and starts things in.
pub struct Backends {
    pub engine: EngineState,
    /// What the run starts, registered before anything can fail, for the caller to sweep.
    pub cleanup: Arc<Cleanup>,
}

/// Grade the request's steps of `lab`, concurrently. Each step's report is sent on `on_step`
/// the moment it is done (for `lab watch`); the returned report has them in lab order.
/// Everything the checks start is registered in `backends.cleanup`; checks remove what they
/// started, and the caller sweeps the rest if the future is dropped.
pub async fn grade(
    lab: &Lab,
    req: &Request,
    backends: &Backends,
    cache: Arc<Cache>,
    on_step: Option<UnboundedSender<StepReport>>,
) -> Report {
    let start = Instant::now();
    let needs_engine = req.needs_engine(lab);
    // A path to an interpreter is made absolute (checks run it from elsewhere) without
    // resolving symlinks: a venv's python is a symlink, and resolving it leaves the venv.
    let python = req.python.clone().map(|p| {
        if p.components().count() > 1 {
            std::path::absolute(&p).unwrap_or(p)
        } else {
            p
        }
    });
    let ctx = Ctx {
        dir: req.dir.clone(),
        python,
        image_ref: req.image.clone(),
        engine: backends.engine.clone(),
        cleanup: backends.cleanup.clone(),
        chosen_tag: OnceCell::new(),
        cache,
        bindings: req.bindings.clone(),
    };
    let selected = req.selected(lab);
    let named = |s: &Step| req.steps.contains(&s.id);
    let mut running: FuturesUnordered<_> = selected
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let ctx = &ctx;
            async move { (i, run_step(ctx, step).await) }
        })
        .collect();
    let mut done: Vec<Option<StepReport>> = vec![None; selected.len()];
    while let Some((i, mut step)) = running.next().await {
        // A step asked for by name is graded as a core step for this run.
        step.optional = selected[i].optional && !named(selected[i]);
        if let Some(tx) = &on_step {
            let _ = tx.send(step.clone());
        }
        done[i] = Some(step);
    }
    let steps: Vec<StepReport> = done.into_iter().flatten().collect();
    Report {
        schema_version: report::SCHEMA_VERSION,
        generated_at: now_rfc3339(),
        lab: lab.id.clone(),
        workspace: req.dir.display().to_string(),
        engine: backends.engine.line(),
        engine_reachable: !needs_engine || matches!(backends.engine, EngineState::Connected { .. }),
        summary: Report::summarize(&steps),
        steps,
        duration_ms: start.elapsed().as_millis() as u64,
    }
}

async fn run_step(ctx: &Ctx, step: &Step) -> StepReport {
    let start = Instant::now();
    let results =
        futures_util::future::join_all(step.checks.iter().map(|c| c.check(ctx, &step.id))).await;
    let checks: Vec<CheckResult> = results.into_iter().flatten().collect();
    report_of(step, checks, start.elapsed().as_millis() as u64)
}

/// A step's report from its checks' results.
pub fn report_of(step: &Step, checks: Vec<CheckResult>, duration_ms: u64) -> StepReport {
    StepReport {
        id: step.id.clone(),
        title: step.title.clone(),
        status: step_status(&checks),
        optional: step.optional,
        points: step.points(),
        book: step.book.clone(),
        checks,
        hint: step.hints[0].clone(),
        duration_ms,
    }
}

/// Now, as RFC 3339 in UTC with second precision.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The exit code a report earns.
pub fn verdict(report: &Report) -> i32 {
    if !report.engine_reachable {
        crate::exit::ENGINE_UNREACHABLE
    } else if report.all_passed() {
        crate::exit::PASSED
    } else {
        crate::exit::FAILED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lab of two Dockerfile steps (no engine needed), the second optional.
    fn lab() -> Lab {
        let check = r#"{ kind = "dockerfile", base_image = "python:3.9-slim", workdir = "/app", requirements = "requirements.txt", env = {}, port = 5000, cmd = ["gunicorn"], dockerignore = [] }"#;
        let step = |id: &str, more: &str| {
            format!("\n[[step]]\nid = \"{id}\"\ntitle = \"{id}\"\nbook = \"d.md\"\n{more}hints = [\"h\"]\nsolution = {{ why = \"w\" }}\nchecks = [{check}]\n")
        };
        let text = format!(
            "format_version = 2\nid = \"x\"\ntitle = \"X\"\nworkspace = \".\"\nlearner_files = []\n{}{}",
            step("dockerfile", ""),
            step("extra", "optional = true\npoints = 2\n")
        );
        Lab::parse(std::path::Path::new("lab.toml"), &text).unwrap()
    }

    fn ids(steps: Vec<&Step>) -> Vec<&str> {
        steps.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn optional_steps_are_graded_only_when_asked_for() {
        let lab = lab();
        let req = |steps: &[&str], optional| Request {
            steps: steps.iter().map(|s| s.to_string()).collect(),
            optional,
            ..Request::default()
        };
        assert_eq!(ids(req(&[], false).selected(&lab)), ["dockerfile"]);
        assert_eq!(ids(req(&[], true).selected(&lab)), ["dockerfile", "extra"]);
        assert_eq!(ids(req(&["extra"], false).selected(&lab)), ["extra"]);
        assert!(!req(&[], true).needs_engine(&lab));
    }

    #[tokio::test]
    async fn grade_streams_each_step_and_reports_in_lab_order() {
        let lab = lab();
        let dir = tempfile::tempdir().unwrap();
        let req = Request {
            optional: true,
            dir: dir.path().to_path_buf(),
            ..Request::default()
        };
        let backends = Backends {
            engine: EngineState::NotNeeded,
            cleanup: Arc::new(Cleanup::default()),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let r = grade(&lab, &req, &backends, Arc::default(), Some(tx)).await;
        let mut streamed = vec![];
        while let Ok(s) = rx.try_recv() {
            streamed.push(s.id);
        }
        streamed.sort();
        assert_eq!(streamed, ["dockerfile", "extra"]);
        let order: Vec<&str> = r.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(order, ["dockerfile", "extra"]);
        // No Dockerfile: the core step fails; the optional one is bonus, outside the summary.
        assert_eq!(r.summary.total, 1);
        assert!(r.steps[1].optional);
        assert_eq!(r.steps[1].points, 2);
        assert_eq!(verdict(&r), crate::exit::FAILED);
        assert!(r.generated_at.ends_with('Z'), "{}", r.generated_at);
        assert!(r.engine_reachable);
    }
}
