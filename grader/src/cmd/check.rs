//! `lab check`: grade a workspace, print the report, record progress, exit with its verdict.
//! [`grade`] is the reusable part (also used by `lab demo` and `lab watch`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use super::{connect, find_step, interrupted, load_lab, workspace};
use crate::checks::{self, Ctx};
use crate::cleanup::{sweep_orphans, Cleanup};
use crate::cli::{CheckArgs, Format};
use crate::engine::EngineError;
use crate::exit;
use crate::lab::Lab;
use crate::report::{self, Report};
use crate::state::State;

/// Whether to colour human output: only on a terminal, never with `NO_COLOR`.
pub fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// What to grade.
pub struct Request {
    pub steps: Vec<String>,
    pub dir: PathBuf,
    pub python: Option<PathBuf>,
    pub image: Option<String>,
    /// Show a spinner on stderr while grading.
    pub progress: bool,
}

/// Why grading produced no report.
pub enum Aborted {
    /// Ctrl-C or SIGTERM; what was started has been removed.
    Interrupted,
    /// A check panicked; what was started has been removed.
    Crashed(String),
}

/// Grade the chosen steps of `lab`, removing whatever the run starts on every exit path.
pub async fn grade(lab: &Lab, req: Request) -> Result<Report, Aborted> {
    let start = Instant::now();
    let needs_engine = lab
        .steps
        .iter()
        .filter(|s| req.steps.is_empty() || req.steps.contains(&s.id))
        .flat_map(|s| &s.checks)
        .any(|c| c.needs_engine());
    let cleanup = Arc::new(Cleanup::default());
    let (engine, engine_line) = if needs_engine {
        let (engine, line) = connect().await;
        if let Ok(e) = &engine {
            cleanup.set_engine(e.clone());
            sweep_orphans(e.as_ref()).await;
        }
        (engine, line)
    } else {
        (
            Err(EngineError::Api("not needed for these steps".into())),
            "not used (file-only steps)".into(),
        )
    };
    let engine_ok = engine.is_ok();
    // A path to an interpreter is made absolute (checks run it from elsewhere) without
    // resolving symlinks: a venv's python is a symlink, and resolving it leaves the venv.
    let python = req.python.map(|p| {
        if p.components().count() > 1 {
            std::path::absolute(&p).unwrap_or(p)
        } else {
            p
        }
    });
    let ctx = Arc::new(Ctx {
        dir: req.dir.clone(),
        python,
        image_ref: req.image,
        engine,
        cleanup: cleanup.clone(),
        chosen_tag: OnceCell::new(),
    });
    let progress = req.progress.then(|| tokio::spawn(spinner()));
    let mut task = {
        let (ctx, lab, steps) = (ctx.clone(), Arc::new(lab.clone()), req.steps.clone());
        tokio::spawn(async move { checks::run_lab(&ctx, &lab, &steps).await })
    };
    let outcome = tokio::select! {
        r = &mut task => Some(r),
        _ = interrupted() => {
            // Stop the checks first, then give a create request already on its way to the
            // engine a moment to land, so the sweep below sees it.
            task.abort();
            tokio::time::sleep(Duration::from_millis(150)).await;
            None
        }
    };
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[2K");
    }
    // Normally every check removed what it started; after an interruption or a crash, look
    // for anything carrying this process's label too.
    let left = match &outcome {
        Some(Ok(_)) => cleanup.sweep().await,
        _ => cleanup.sweep_all().await,
    };
    if !left.is_empty() {
        eprintln!(
            "warning: could not remove probe container(s) {0}; remove them with `docker rm -f {0}`",
            left.join(" ")
        );
    }
    let steps = match outcome {
        None => return Err(Aborted::Interrupted),
        Some(Err(panic)) => return Err(Aborted::Crashed(panic.to_string())),
        Some(Ok(r)) => r,
    };
    Ok(Report {
        schema_version: report::SCHEMA_VERSION,
        lab: lab.id.clone(),
        workspace: req.dir.display().to_string(),
        engine: engine_line,
        engine_reachable: engine_ok || !needs_engine,
        summary: Report::summarize(&steps),
        steps,
        duration_ms: start.elapsed().as_millis() as u64,
    })
}

/// The exit code a report earns.
pub fn verdict(report: &Report) -> i32 {
    if !report.engine_reachable {
        exit::ENGINE_UNREACHABLE
    } else if report.all_passed() {
        exit::PASSED
    } else {
        exit::FAILED
    }
}

/// Report an aborted run on stderr and return its exit code.
pub fn aborted(a: Aborted) -> i32 {
    match a {
        Aborted::Interrupted => {
            eprintln!("interrupted: removed what lab check had started");
            exit::INTERRUPTED
        }
        Aborted::Crashed(panic) => {
            eprintln!("error: a check crashed ({panic}); what it had started was removed. Please report this.");
            exit::USAGE
        }
    }
}

/// `lab check`.
pub async fn run(args: CheckArgs) -> i32 {
    let lab = match load_lab(&args.lab) {
        Ok(l) => l,
        Err(code) => return code,
    };
    for s in &args.steps {
        if let Err(code) = find_step(&lab, s) {
            return code;
        }
    }
    let dir = match workspace(args.dir) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let req = Request {
        steps: args.steps,
        dir: dir.clone(),
        python: args.python,
        image: args.image,
        progress: args.format == Format::Human && std::io::stderr().is_terminal(),
    };
    let report = match grade(&lab, req).await {
        Ok(r) => r,
        Err(a) => return aborted(a),
    };
    let text = match args.format {
        Format::Human => report::human::render(&report, color_wanted()),
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report),
    };
    print!("{text}");
    let mut state = State::load(&dir);
    state.record(&report);
    if let Err(e) = state.save(&dir) {
        eprintln!("warning: could not save progress: {e}");
    }
    verdict(&report)
}

async fn spinner() {
    let frames = ['|', '/', '-', '\\'];
    let start = Instant::now();
    for i in 0.. {
        eprint!(
            "\r{} checking... {:.1} s",
            frames[i % 4],
            start.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
}
