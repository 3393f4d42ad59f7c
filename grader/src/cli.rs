//! The command line: one registry of subcommands and flags (clap), and the dispatch.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use tokio::sync::OnceCell;

use crate::checks::{self, Ctx};
use crate::cleanup::{sweep_orphans, Cleanup};
use crate::engine::docker::DockerEngine;
use crate::engine::Engine;
use crate::exit;
use crate::lab::{labs_dir, Lab};
use crate::report::{self, Report};

/// Hands-on labs for the SRE course, graded against your real Docker engine.
#[derive(Debug, Parser)]
#[command(name = "lab", version, about, after_help = exit::TABLE)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats of `lab check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One line per step, then what failed and how to fix it.
    Human,
    /// One JSON object (schema_version 1), for scripts and dashboards.
    Json,
    /// JUnit XML, one testcase per check, for CI systems and autograders.
    Junit,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Grade your work: files, images, containers, registry and Python environment.
    #[command(after_help = exit::TABLE)]
    Check {
        /// The lab to grade, e.g. day11.
        lab: String,
        /// Grade only this step (repeatable): dockerfile, build, run, tag, push, compose, editable.
        #[arg(long = "step", value_name = "ID")]
        steps: Vec<String>,
        /// The workspace to grade (default: the current directory).
        #[arg(long, value_name = "PATH")]
        dir: Option<PathBuf>,
        /// The Python interpreter for the editable step (default: $VIRTUAL_ENV, ./.venv, ./venv, python3).
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
        /// The tag to grade for the tag and push steps, when there are several.
        #[arg(long, value_name = "REF")]
        image: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Show the catalogue of check kinds a lab file can use, with what each checks.
    Kinds,
    /// Show the labs and their steps.
    List,
}

/// Parse arguments, run, and return the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::PASSED
            };
            let _ = e.print();
            return code;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::USAGE;
        }
    };
    let code = rt.block_on(run(cli));
    rt.shutdown_timeout(Duration::from_secs(1));
    code
}

async fn run(cli: Cli) -> i32 {
    match cli.command {
        Command::Kinds => {
            for (kind, doc) in checks::catalogue() {
                println!("{kind}\n    {doc}\n");
            }
            exit::PASSED
        }
        Command::List => list(),
        Command::Check {
            lab,
            steps,
            dir,
            python,
            image,
            format,
        } => check(&lab, steps, dir, python, image, format).await,
    }
}

fn list() -> i32 {
    let dir = labs_dir();
    let Ok(rd) = std::fs::read_dir(&dir) else {
        eprintln!("error: no labs directory at {}", dir.display());
        return exit::USAGE;
    };
    let mut ids: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().join("lab.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    ids.sort();
    for id in ids {
        match Lab::load(&dir, &id) {
            Ok(lab) => {
                println!("{id}  {}", lab.title);
                for s in &lab.steps {
                    println!("  {:<11} {}", s.id, s.title);
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::USAGE;
            }
        }
    }
    exit::PASSED
}

async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

async fn check(
    lab_id: &str,
    steps: Vec<String>,
    dir: Option<PathBuf>,
    python: Option<PathBuf>,
    image: Option<String>,
    format: Format,
) -> i32 {
    let start = Instant::now();
    let lab = match Lab::load(&labs_dir(), lab_id) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::USAGE;
        }
    };
    if let Some(bad) = steps.iter().find(|s| lab.step(s).is_none()) {
        let ids: Vec<&str> = lab.steps.iter().map(|s| s.id.as_str()).collect();
        eprintln!(
            "error: lab {lab_id} has no step {bad:?}; its steps are: {}",
            ids.join(", ")
        );
        return exit::USAGE;
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    let dir = match dir.canonicalize() {
        Ok(d) if d.is_dir() => d,
        _ => {
            eprintln!("error: the workspace {} is not a directory; pass --dir PATH or cd into your workspace", dir.display());
            return exit::USAGE;
        }
    };
    let needs_engine = lab
        .steps
        .iter()
        .filter(|s| steps.is_empty() || steps.contains(&s.id))
        .flat_map(|s| &s.checks)
        .any(|c| c.needs_engine());
    let cleanup = Arc::new(Cleanup::default());
    let (engine, engine_line): (Result<Arc<dyn Engine>, _>, String) = if needs_engine {
        match DockerEngine::connect_and_ping().await {
            Ok(e) => {
                let e: Arc<dyn Engine> = Arc::new(e);
                let line = match e.info().await {
                    Ok(i) => format!(
                        "Docker {} (API {}) at {}",
                        i.version, i.api_version, i.endpoint
                    ),
                    Err(err) => format!("unknown version ({err})"),
                };
                cleanup.set_engine(e.clone());
                sweep_orphans(e.as_ref()).await;
                (Ok(e), line)
            }
            Err(err) => {
                let line = format!("unreachable: {err}. To fix: {}", err.advice());
                (Err(err), line)
            }
        }
    } else {
        (
            Err(crate::engine::EngineError::Api(
                "not needed for these steps".into(),
            )),
            "not used (file-only steps)".into(),
        )
    };
    let engine_ok = engine.is_ok();
    // A path to an interpreter is made absolute (checks run it from elsewhere) without
    // resolving symlinks: a venv's python is a symlink, and resolving it leaves the venv.
    let python = python.map(|p| {
        if p.components().count() > 1 {
            std::path::absolute(&p).unwrap_or(p)
        } else {
            p
        }
    });
    let ctx = Arc::new(Ctx {
        dir: dir.clone(),
        python,
        image_ref: image,
        engine,
        cleanup: cleanup.clone(),
        chosen_tag: OnceCell::new(),
    });
    let progress = (format == Format::Human && std::io::stderr().is_terminal())
        .then(|| tokio::spawn(spinner()));
    let lab = Arc::new(lab);
    let mut task = {
        let (ctx, lab, steps) = (ctx.clone(), lab.clone(), steps.clone());
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
            "warning: could not remove probe container(s) {}; remove them with `docker rm -f {}`",
            left.join(", "),
            left.join(" ")
        );
    }
    let step_reports = match outcome {
        None => {
            eprintln!("interrupted: removed what lab check had started");
            return exit::INTERRUPTED;
        }
        Some(Err(panic)) => {
            eprintln!("error: a check crashed ({panic}); what it had started was removed. Please report this.");
            return exit::USAGE;
        }
        Some(Ok(r)) => r,
    };
    let summary = Report::summarize(&step_reports);
    let report = Report {
        schema_version: report::SCHEMA_VERSION,
        lab: lab.id.clone(),
        workspace: dir.display().to_string(),
        engine: engine_line,
        engine_reachable: engine_ok || !needs_engine,
        steps: step_reports,
        summary,
        duration_ms: start.elapsed().as_millis() as u64,
    };
    let text = match format {
        Format::Human => report::human::render(&report, color_wanted()),
        Format::Json => report::json::render(&report),
        Format::Junit => report::junit::render(&report),
    };
    print!("{text}");
    if needs_engine && !engine_ok {
        exit::ENGINE_UNREACHABLE
    } else if report.all_passed() {
        exit::PASSED
    } else {
        exit::FAILED
    }
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
