//! One module per subcommand, plus what several of them share.

pub mod check;
pub mod demo;
pub mod dev;
pub mod doctor;
pub mod hint;
pub mod list;
pub mod reset;
pub mod solution;
pub mod start;
pub mod status;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::docker::DockerEngine;
use crate::engine::{Engine, EngineError};
use crate::exit;
use crate::lab::{labs_dir, Lab, Step};

/// Load a lab or print why not (exit code 2).
pub fn load_lab(id: &str) -> Result<Lab, i32> {
    Lab::load(&labs_dir(), id).map_err(|e| {
        eprintln!("error: {e}");
        exit::USAGE
    })
}

/// Find a step or print the valid ones (exit code 2).
pub fn find_step<'a>(lab: &'a Lab, id: &str) -> Result<&'a Step, i32> {
    lab.step(id).ok_or_else(|| {
        let ids: Vec<&str> = lab.steps.iter().map(|s| s.id.as_str()).collect();
        eprintln!(
            "error: lab {} has no step {id:?}; its steps are: {}",
            lab.id,
            ids.join(", ")
        );
        exit::USAGE
    })
}

/// The workspace directory, absolute, or print why not (exit code 2).
pub fn workspace(dir: Option<PathBuf>) -> Result<PathBuf, i32> {
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    match dir.canonicalize() {
        Ok(d) if d.is_dir() => Ok(d),
        _ => {
            eprintln!("error: the workspace {} is not a directory; pass --dir PATH or cd into your workspace", dir.display());
            Err(exit::USAGE)
        }
    }
}

/// Connect to the engine (first contact within 2.5 s) and describe it in one line.
pub async fn connect() -> (Result<Arc<dyn Engine>, EngineError>, String) {
    match DockerEngine::connect_and_ping().await {
        Ok(e) => {
            let e: Arc<dyn Engine> = Arc::new(e);
            let line = match e.info().await {
                Ok(i) => format!(
                    "Docker {} (API {}) at {}, from {}",
                    i.version, i.api_version, i.endpoint, i.source
                ),
                Err(err) => format!("unknown version ({err})"),
            };
            (Ok(e), line)
        }
        Err(err) => {
            let line = format!("unreachable: {err}. To fix: {}", err.advice());
            (Err(err), line)
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

/// Copy a directory tree, skipping caches, virtual environments and build metadata.
/// Never overwrites: returns the files that already exist (and copies nothing) if any does.
pub fn copy_tree(
    from: &Path,
    to: &Path,
    skip: &[String],
) -> std::io::Result<Result<Vec<PathBuf>, Vec<PathBuf>>> {
    fn collect(
        from: &Path,
        rel: &Path,
        skip: &[String],
        out: &mut Vec<PathBuf>,
    ) -> std::io::Result<()> {
        for e in std::fs::read_dir(from.join(rel))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().to_string();
            let r = rel.join(&name);
            if name == "__pycache__"
                || name == ".venv"
                || name == "venv"
                || name == ".pytest_cache"
                || name.ends_with(".egg-info")
                || skip.iter().any(|s| Path::new(s) == r)
            {
                continue;
            }
            if e.file_type()?.is_dir() {
                collect(from, &r, skip, out)?;
            } else {
                out.push(r);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    collect(from, Path::new(""), skip, &mut files)?;
    files.sort();
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
