//! One module per subcommand, plus what several of them share: parsing and dispatch
//! ([`main`]), loading a lab, connecting to the engine, and [`run_grade`], the CLI's wrapper
//! around the library's [`crate::grade::grade`] (connect, sweep orphans, race Ctrl-C, sweep).

pub mod check;
pub mod ci;
pub mod classroom;
pub mod collect;
pub mod demo;
pub mod dev;
pub mod doctor;
pub mod hint;
pub mod kit;
pub mod list;
pub mod reset;
pub mod solution;
pub mod start;
pub mod status;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio::sync::mpsc::UnboundedSender;

use crate::cache::Cache;
use crate::cleanup::{sweep_orphans, Cleanup};
use crate::cli::{command, ClassroomCommand, Cli, Command, DevCommand, KitCommand};
use crate::engine::docker::DockerEngine;
use crate::engine::Engine;
use crate::engine::EngineState;
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::{grade, Backends, Request};
use crate::lab::{Lab, Step};
use crate::report::{Report, StepReport};

/// Parse arguments, run, and return the process exit code. Errors are printed here, once.
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
    if let Some(d) = &cli.labs {
        let _ = crate::lab::LABS_FLAG.set(d.clone());
    }
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
    let outcome = rt.block_on(dispatch(cli));
    rt.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(code) => code,
        Err(Error::Interrupted) => {
            eprintln!("{}", Error::Interrupted);
            exit::INTERRUPTED
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

async fn dispatch(cli: Cli) -> Result {
    match cli.command {
        Command::Check(args) => check::run(args).await,
        Command::Ci(args) => ci::run(args).await,
        Command::List { dir } => list::run(&dir),
        Command::Start { lab, dir } => start::run(&lab, dir),
        Command::Hint { lab, step, dir } => hint::run(&lab, &step, &dir),
        Command::Solution { lab, step } => solution::run(&lab, &step),
        Command::Status { dir } => status::run(&dir).await,
        Command::Watch { lab, dir, python } => watch::run(&lab, &dir, python).await,
        Command::Reset { lab, dir, yes } => reset::run(&lab, &dir, yes).await,
        Command::Doctor { lab } => doctor::run(lab.as_deref()).await,
        Command::Demo {
            lab,
            dir,
            namespace,
        } => demo::run(&lab, dir, &namespace).await,
        Command::Classroom { command } => match command {
            ClassroomCommand::Serve {
                listen,
                data,
                lab,
                tls_cert,
                tls_key,
                alarm_minutes,
            } => {
                classroom::serve(
                    listen,
                    data,
                    lab.as_deref(),
                    tls_cert.zip(tls_key),
                    alarm_minutes,
                )
                .await
            }
            ClassroomCommand::Join {
                url,
                code,
                name,
                fingerprint,
                dir,
            } => classroom::join(&url, &code, &name, fingerprint.as_deref(), &dir).await,
            ClassroomCommand::Leave { dir } => classroom::leave(&dir).await,
        },
        Command::Kit { command } => match command {
            KitCommand::Build { dir, lab } => {
                let id = match lab {
                    Some(id) => id,
                    None => list::lab_ids()?
                        .into_iter()
                        .next()
                        .ok_or_else(|| Error::Usage("no labs found; pass --labs DIR".into()))?,
                };
                kit::build(&id, &dir).await
            }
            KitCommand::Install { dir } => kit::install(&dir).await,
            KitCommand::Uninstall => kit::uninstall().await,
        },
        Command::Kinds => list::kinds(),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut command(), "lab", &mut std::io::stdout());
            Ok(exit::PASSED)
        }
        Command::Man => clap_mangen::Man::new(command())
            .render(&mut std::io::stdout())
            .map(|()| exit::PASSED)
            .map_err(|e| Error::Failed(e.to_string())),
        Command::Dev { command } => match command {
            DevCommand::Check => dev::check(),
            DevCommand::ProbeFloor { image, port } => dev::probe_floor(&image, port).await,
            DevCommand::RoomLoad {
                url,
                code,
                token,
                learners,
                secs,
                interval_ms,
            } => dev::room_load(&url, &code, &token, learners, secs, interval_ms).await,
            DevCommand::Book { src, check } => dev::book(&src, check),
            DevCommand::CiStep {
                lab,
                step,
                dir,
                venv,
                command_timeout,
            } => dev::ci_step(&lab, &step, &dir, &venv, command_timeout).await,
        },
    }
}

/// Load a lab by id from wherever labs are found (see [`crate::lab::find_labs`]).
pub fn load_lab(id: &str) -> Result<Lab> {
    Ok(Lab::load(&crate::lab::labs_dir()?, id)?)
}

/// Find a step, or a usage error naming the valid ones.
pub fn find_step<'a>(lab: &'a Lab, id: &str) -> Result<&'a Step> {
    lab.step(id).ok_or_else(|| {
        let ids: Vec<&str> = lab.steps.iter().map(|s| s.id.as_str()).collect();
        Error::Usage(format!(
            "lab {} has no step {id:?}; its steps are: {}",
            lab.id,
            ids.join(", ")
        ))
    })
}

/// Connect to the engine (first contact within 2.5 s) and describe it in one line.
pub async fn connect() -> EngineState {
    match DockerEngine::connect_and_ping().await {
        Ok(e) => {
            let engine: Arc<dyn Engine> = Arc::new(e);
            let line = match engine.info().await {
                Ok(i) => format!(
                    "{} {} (API {}) at {}, from {}",
                    i.product, i.version, i.api_version, i.endpoint, i.source
                ),
                Err(err) => format!("unknown version ({err})"),
            };
            EngineState::Connected { engine, line }
        }
        Err(error) => {
            let line = format!("unreachable: {error}. To fix: {}", error.advice());
            EngineState::Unreachable { error, line }
        }
    }
}

/// Resolves when the user presses Ctrl-C or the process gets SIGTERM.
pub async fn interrupted() {
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

/// The CLI's way to grade: connect when a selected step needs the engine, sweep probes a killed
/// run left behind, grade in a task raced against Ctrl-C/SIGTERM, and remove everything the
/// run started on every path out. `on_step` streams each step as it finishes.
pub async fn run_grade(
    lab: &Lab,
    req: Request,
    cache: Arc<Cache>,
    on_step: Option<UnboundedSender<StepReport>>,
    progress: bool,
) -> Result<Report> {
    let cleanup = Arc::new(Cleanup::default());
    let engine = if req.needs_engine(lab) {
        let state = connect().await;
        if let EngineState::Connected { engine, .. } = &state {
            cleanup.set_engine(engine.clone());
            sweep_orphans(engine.as_ref()).await;
        }
        state
    } else {
        EngineState::NotNeeded
    };
    let backends = Backends {
        engine,
        cleanup: cleanup.clone(),
    };
    let spinner = progress.then(|| tokio::spawn(spinner()));
    let mut task = {
        let lab = lab.clone();
        tokio::spawn(async move { grade(&lab, &req, &backends, cache, on_step).await })
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
    if let Some(p) = spinner {
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
    match outcome {
        None => Err(Error::Interrupted),
        Some(Err(panic)) => Err(Error::Crashed(panic.to_string())),
        Some(Ok(r)) => Ok(r),
    }
}

async fn spinner() {
    let frames = ['|', '/', '-', '\\'];
    let start = std::time::Instant::now();
    for i in 0.. {
        eprint!(
            "\r{} checking... {:.1} s",
            frames[i % 4],
            start.elapsed().as_secs_f64()
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
}

/// Copy a directory tree (the one walker's files: caches and virtual environments skipped),
/// leaving out `skip` (paths relative to `from`). Never overwrites: returns the files that
/// already exist (and copies nothing) if any does.
pub fn copy_tree(
    from: &Path,
    to: &Path,
    skip: &[String],
) -> std::io::Result<std::result::Result<Vec<PathBuf>, Vec<PathBuf>>> {
    if !from.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{} is not a directory", from.display()),
        ));
    }
    let files: Vec<PathBuf> = crate::walk::files(from, Path::new(""), 10_000)
        .into_iter()
        .filter(|f| !skip.iter().any(|s| Path::new(s) == f))
        .collect();
    let existing: Vec<PathBuf> = files
        .iter()
        .filter(|f| to.join(f).exists())
        .cloned()
        .collect();
    if !existing.is_empty() {
        return Ok(Err(existing));
    }
    for f in &files {
        let dst = to.join(f);
        if let Some(p) = dst.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::copy(from.join(f), dst)?;
    }
    Ok(Ok(files))
}
